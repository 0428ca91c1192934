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
        "leaves the installation as it was. The shred ledger is applied to what is restored (this installation's "
        "ledger file, the backup's own shred records, and every --shred-ledger FILE): a case shredded after the "
        "backup was taken stays shredded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the backup file")
        parser.add_argument(
            "--shred-ledger",
            metavar="LEDGER",
            action="append",
            default=[],
            help="a shred ledger copied from the installation the backup came from (`waystation vault ledger` "
            "names it); may be repeated. Needed when restoring into a new installation.",
        )
        add_common_arguments(parser)

    def handle(
        self, *args: Any, file: str, passphrase_file: str | None, shred_ledger: list[str], **options: Any
    ) -> None:
        run(
            self,
            lambda passphrase: restore_backup(file, passphrase, shred_ledgers=shred_ledger),
            passphrase_file=passphrase_file,
            confirm=False,
            options=options,
            headline=lambda s, rows: (
                f"Restored {rows:,} rows from {s.path} ({s.seconds:.2f} s). Shred ledger applied: "
                f"{s.shredded or 0} shredded cases of the backup stay shredded."
            ),
            footer="Run `waystation audit verify` to check the restored audit trail.",
        )
