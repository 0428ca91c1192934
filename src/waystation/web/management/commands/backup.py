"""``waystation backup --out FILE``: the whole installation in one encrypted, authenticated file."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.interop.backup import BackupError, create_backup, passphrase_from


class Command(BaseCommand):
    help = (
        "Write every table of this installation (sessions excepted) to one file, compressed and encrypted with "
        "AES-256-GCM under a key derived from a passphrase (Argon2id). The passphrase comes from --passphrase-file "
        "or is asked twice on the terminal (never from the environment); at least 12 characters. An existing "
        "FILE is replaced only once the new backup is complete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", metavar="FILE", required=True, help="the backup file to write")
        parser.add_argument("--passphrase-file", metavar="F", help="read the passphrase from the first line of F")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, out: str, passphrase_file: str | None, **options: Any) -> None:
        started = time.monotonic()
        try:
            passphrase = passphrase_from(passphrase_file, confirm=True)
            summary = create_backup(out, passphrase)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        summary.seconds = time.monotonic() - started
        if options.get("json"):
            self.stdout.write(json.dumps(summary.as_dict()))
            return
        rows = sum(summary.counts.values())
        self.stdout.write(f"Backup written to {summary.path}: {summary.bytes:,} bytes, {rows:,} rows.")
        for label, count in summary.counts.items():
            if count:
                self.stdout.write(f"  {label}: {count:,}")
        self.stdout.write(f"({summary.seconds:.2f} s). Keep the passphrase apart from the file.")
