"""``waystation restore FILE``: a backup back into a new, empty installation; all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from waystation.interop.backup import restore_backup
from waystation.web.management.backup_cli import add_common_arguments, run


class Command(BaseCommand):
    help = (
        "Restore a file written by `waystation backup` into this installation, which must be empty (run "
        "`waystation migrate` on a new WAYSTATION_HOME or database first). The whole file is authenticated before "
        "anything is written, and every row is loaded in one transaction: a wrong passphrase or a damaged file "
        "leaves the installation as it was."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the backup file")
        add_common_arguments(parser)

    def handle(self, *args: Any, file: str, passphrase_file: str | None, **options: Any) -> None:
        run(
            self,
            lambda passphrase: restore_backup(file, passphrase),
            passphrase_file=passphrase_file,
            confirm=False,
            options=options,
            headline=lambda s, rows: f"Restored {rows:,} rows from {s.path} ({s.seconds:.2f} s).",
            footer="Run `waystation audit verify` to check the restored audit trail.",
        )
