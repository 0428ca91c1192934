"""``waystation export htcds --out FILE.csv``: the k-anonymised HTCDS 2.0 export (see docs/htcds-export.md).

A command for the operator of the installation (whoever can run ``waystation`` on the server), like ``backup``: it
needs no vault key because it reads coded fields only, and the web roles, the analyst included, cannot reach it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.interop.htcds_export import DEFAULT_K, ExportError, export_htcds


class Command(BaseCommand):
    help = (
        "Write person and victim-context records of everyone who consented to anonymous statistics, with HTCDS 2.0 "
        "field names and codes and no direct identifier, k-anonymised on sex, age band, citizenship, province of "
        "origin and year of first contact (generalising, then suppressing small groups). The file is written "
        "atomically with mode 0600."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=["htcds"], help="the export format (only htcds for now)")
        parser.add_argument("--out", metavar="FILE", required=True, help="the CSV file to write")
        parser.add_argument(
            "--k", type=int, default=DEFAULT_K, help=f"smallest group size kept (default {DEFAULT_K}, as CTDC)"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, out: str, k: int, **options: Any) -> None:
        try:
            report = export_htcds(out, k=k)
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        if options.get("json"):
            self.stdout.write(json.dumps(report.as_dict()))
            return
        self.stdout.write(f"HTCDS export written to {report.path}: {report.exported:,} records, k = {report.k}.")
        self.stdout.write(
            "Generalised: " + ", ".join(f"{column} to {level}" for column, level in report.levels.items()) + "."
        )
        self.stdout.write(f"Suppressed: {report.suppressed:,} records in groups smaller than {report.k}.")
        self.stdout.write(f"Left out for lack of consent to anonymous statistics: {report.not_consenting:,}.")
