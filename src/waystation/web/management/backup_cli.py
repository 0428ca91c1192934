"""What ``waystation backup`` and ``waystation restore`` share: the passphrase, timing, refusals and the report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.interop.backup import BackupError, Summary, passphrase_from


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument("--passphrase-file", metavar="F", help="read the passphrase from the first line of F")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(
    command: BaseCommand,
    action: Callable[[str], Summary],
    *,
    passphrase_file: str | None,
    confirm: bool,
    options: dict[str, Any],
    headline: Callable[[Summary, int], str],
    footer: str,
) -> None:
    """Ask for the passphrase, run ``action`` with it, and report: JSON, or a headline, the counts and a footer.
    A refusal (wrong passphrase, damaged file, ...) becomes one line and a non-zero exit."""
    started = time.monotonic()
    try:
        summary = action(passphrase_from(passphrase_file, confirm=confirm))
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    summary.seconds = time.monotonic() - started
    if options.get("json"):
        command.stdout.write(json.dumps(summary.as_dict()))
        return
    command.stdout.write(headline(summary, sum(summary.counts.values())))
    for label, count in summary.counts.items():
        if count:
            command.stdout.write(f"  {label}: {count:,}")
    command.stdout.write(footer)
