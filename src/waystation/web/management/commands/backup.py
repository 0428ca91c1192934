"""``waystation backup --out FILE``: the whole installation in one encrypted, authenticated file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from waystation.interop.backup import create_backup
from waystation.web.management.backup_cli import add_common_arguments, run


class Command(BaseCommand):
    help = (
        "Write every table of this installation (sessions excepted) to one file, compressed and encrypted with "
        "AES-256-GCM under a key derived from a passphrase (Argon2id). The passphrase comes from --passphrase-file "
        "or is asked twice on the terminal (never from the environment); at least 12 characters. An existing "
        "FILE is replaced only once the new backup is complete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", metavar="FILE", required=True, help="the backup file to write")
        add_common_arguments(parser)

    def handle(self, *args: Any, out: str, passphrase_file: str | None, **options: Any) -> None:
        run(
            self,
            lambda passphrase: create_backup(out, passphrase),
            passphrase_file=passphrase_file,
            confirm=True,
            options=options,
            headline=lambda s, rows: (
                f"Backup written to {s.path}: {s.bytes:,} bytes, {rows:,} rows ({s.seconds:.2f} s)."
            ),
            footer="Keep the passphrase apart from the file.",
        )
