"""``waystation restore FILE``: a backup back into a new, empty installation; all or nothing."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.interop.backup import BackupError, passphrase_from, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a file written by `waystation backup` into this installation, which must be empty (run "
        "`waystation migrate` on a new WAYSTATION_HOME or database first). The whole file is authenticated before "
        "anything is written, and every row is loaded in one transaction: a wrong passphrase or a damaged file "
        "leaves the installation as it was."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the backup file")
        parser.add_argument("--passphrase-file", metavar="F", help="read the passphrase from the first line of F")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, file: str, passphrase_file: str | None, **options: Any) -> None:
        started = time.monotonic()
        try:
            passphrase = passphrase_from(passphrase_file, confirm=False)
            summary = restore_backup(file, passphrase)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        summary.seconds = time.monotonic() - started
        if options.get("json"):
            self.stdout.write(json.dumps(summary.as_dict()))
            return
        rows = sum(summary.counts.values())
        self.stdout.write(f"Restored {rows:,} rows from {summary.path} ({summary.seconds:.2f} s).")
        for label, count in summary.counts.items():
            if count:
                self.stdout.write(f"  {label}: {count:,}")
        self.stdout.write("Run `waystation audit verify` to check the restored audit trail.")
