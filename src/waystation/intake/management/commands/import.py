"""``waystation import FILE``: import a station's spreadsheet (CSV or XLSX) as a named coordinator.

The command acts as the coordinator named by ``--as``: their password (from the terminal, or from
``WAYSTATION_PASSWORD`` for scripts) opens their key pair for this run only (as signing in does, ``vault.userkeys``),
and the import is theirs in the audit trail. Nothing key-like is kept after the run.

Every row is checked first; with any error nothing is written, and every error is listed (row, column, value,
what was expected) in the user's language (``--language``, else the ``LANGUAGE``/``LANG`` environment). ``--dry-run``
says what would happen and writes nothing; ``--json`` prints the same report for a program. Progress goes to
stderr, so that the report on stdout stays clean.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl.utils import column_index_from_string

from waystation.accounts.cli import password_of, user_named
from waystation.accounts.models import User
from waystation.intake.models import SavedMapping
from waystation.intake.services import (
    ImportRefused,
    ImportReport,
    can_import,
    import_run,
    saved_mapping_save,
    source_open,
)
from waystation.interop.columns import FIELDS, Mapping, MappingError, normalise_header
from waystation.interop.rows import RowError
from waystation.interop.spreadsheet import SpreadsheetError
from waystation.lib.errors import ServiceError
from waystation.lib.language import language_from_environment
from waystation.vault import crypto, userkeys
from waystation.vault.keyring import Keyring


def column_of(text: str, header: tuple[str, ...]) -> int:
    """A column named on the command line: its header (as written, or normalised), its letter (``C``) or its number
    (``3``)."""
    wanted = normalise_header(text)
    for index, title in enumerate(header):
        if normalise_header(title) == wanted and wanted:
            return index
    if text.isdigit() and 0 < int(text) <= max(len(header), 1):
        return int(text) - 1
    if text.isalpha() and text.isascii() and len(text) <= 3:
        return column_index_from_string(text.upper()) - 1
    raise CommandError(_("There is no column “%(column)s” in this file.") % {"column": text})


class Command(BaseCommand):
    help = (
        "Import a station's spreadsheet (CSV or XLSX) as a coordinator: every row is checked first, and any error "
        "means nothing is written. Rows imported before (same register and id) are not created again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV or XLSX file")
        parser.add_argument("--as", dest="username", required=True, help="the coordinator importing (username)")
        parser.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--mapping", help="the name of a saved column mapping to use")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=f"map a column (header, letter or number) to a field, or to nothing with COLUMN=; fields: "
            f"{', '.join(FIELDS)}",
        )
        parser.add_argument("--save-mapping", metavar="NAME", help="save the mapping used under this name")
        parser.add_argument("--sheet", help="XLSX: the worksheet to read (default: the first)")
        parser.add_argument("--station", default="", help="code name of the station for rows that name none")
        parser.add_argument(
            "--source",
            default="",
            help="the register's name, for recognising rows imported before (default: the "
            "file's name without its extension)",
        )
        parser.add_argument("--language", help="en, ko or zh-hans (default: from LANGUAGE / LANG)")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate(language_from_environment(options["language"]))
        user = self.coordinator(options["username"])
        try:
            source = source_open(options["file"], sheet=options["sheet"])
        except SpreadsheetError as exc:
            raise CommandError(exc.message) from None
        mapping = self.mapping(source.table.header, options)
        keyring = self.keys(user)
        progress = self.progress_printer(time.monotonic())
        try:
            report = import_run(
                actor=user,
                source=source,
                mapping=mapping,
                source_key=options["source"],
                station=options["station"],
                dry_run=options["dry_run"],
                progress=progress,
                keyring=keyring,
            )
        except ImportRefused as exc:
            report = exc.report
        except ServiceError as exc:  # refused as a whole (keys not ready, the same rows imported meanwhile)
            raise CommandError(exc.message) from None
        try:
            if options["save_mapping"] and not any(e.row == 0 for e in report.errors):
                saved_mapping_save(actor=user, name=options["save_mapping"], mapping=mapping)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.show(report, source.name, mapping, source.table.header, as_json=options["json"])
        if not report.ok:
            raise CommandError(
                _("Nothing was imported: %(count)s problem(s) to fix in the file first.")
                % {"count": len(report.errors)}
            )

    # --- steps -----------------------------------------------------------------------------------------------------

    def coordinator(self, username: str) -> User:
        return user_named(
            username, allowed=can_import, refusal=_("Only a coordinator can import records: %(user)s is not one.")
        )

    def keys(self, user: User) -> Keyring:
        """The coordinator's keys, opened with their password for this run only."""
        password = password_of(user, refused=_("Wrong password: nothing was imported."))
        try:
            private = userkeys.unlock(user, password)
        except crypto.VaultError:
            raise CommandError(_("Your keys cannot be opened: sign in to the app once, then try again.")) from None
        return Keyring(user, private)

    def mapping(self, header: tuple[str, ...], options: dict[str, Any]) -> Mapping:
        mapping = Mapping.auto(header)
        if options["mapping"]:
            saved = SavedMapping.objects.filter(name=options["mapping"]).first()
            if saved is None:
                names = ", ".join(SavedMapping.objects.values_list("name", flat=True)) or "-"
                raise CommandError(
                    _("There is no saved mapping named “%(name)s”. Saved mappings: %(names)s.")
                    % {"name": options["mapping"], "names": names}
                )
            try:
                mapping, missing = Mapping.from_json(saved.mapping).reapply(header)
            except MappingError as exc:
                raise CommandError(" ".join(exc.problems)) from None
            for title in missing:
                self.stderr.write(_("The saved mapping's column “%(column)s” is not in this file.") % {"column": title})
        changes: dict[int, str | None] = {}
        for item in options["map"]:
            column, sep, chosen = item.partition("=")
            if not sep:
                raise CommandError(_("Write --map as COLUMN=FIELD (for example --map 이름=name)."))
            chosen = chosen.strip()
            if chosen and chosen not in FIELDS:
                raise CommandError(_("Unknown field: %(field)s.") % {"field": chosen} + " " + ", ".join(FIELDS))
            changes[column_of(column.strip(), header)] = chosen or None
        if changes:
            # Applied one after the other onto the automatic or saved mapping: the user's --map wins, and a field
            # the user gives a second column is reported (not silently moved).
            mapping = mapping.with_fields(changes, header)
        return mapping

    def progress_printer(self, started: float) -> Any:
        names = {"check": _("checking rows"), "write": _("writing persons"), "keys": _("wrapping keys")}
        last: dict[str, int] = {}

        def report(phase: str, done: int, total: int) -> None:
            tenth = done * 10 // total if total else 10
            if last.get(phase) == tenth or (total < 2000 and done < total):
                return
            last[phase] = tenth
            elapsed = time.monotonic() - started
            self.stderr.write(f"{names.get(phase, phase)}: {done:,}/{total:,} ({elapsed:.0f} s)")

        return report

    # --- output ----------------------------------------------------------------------------------------------------

    def show(
        self, report: ImportReport, name: str, mapping: Mapping, header: tuple[str, ...], *, as_json: bool
    ) -> None:
        if as_json:
            data = report.as_json() | {
                "file": name,
                "mapping": {header[i] if i < len(header) else str(i): f for i, f in sorted(mapping.columns.items())},
            }
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=1))
            return
        out = self.stdout.write
        out(_("File: %(name)s, %(rows)s rows.") % {"name": name, "rows": report.rows})
        if report.unmapped:
            out(_("Columns ignored: %(columns)s.") % {"columns": ", ".join(report.unmapped)})
        if report.dry_run and report.ok:
            out(
                _(
                    "Dry run: %(create)s persons would be created, %(already)s rows were imported before. "
                    "Nothing was written."
                )
                % {"create": report.to_create, "already": report.already_imported}
            )
        elif report.ok:
            out(
                _("Imported: %(created)s persons created, %(already)s rows were imported before (import %(run)s).")
                % {"created": report.created, "already": report.already_imported, "run": report.run_id}
            )
            if report.created:
                out(
                    _(
                        "No consent is recorded for the persons imported: ask each of them, and record it, before "
                        "they are counted in figures."
                    )
                )
        for title, problems in ((_("Warnings"), report.warnings), (_("Errors"), report.errors)):
            if problems:
                out(f"{title} ({len(problems)}):")
                for problem in problems:
                    out("  " + describe(problem))


def describe(problem: RowError) -> str:
    """One problem on one line: row, column, value, message (what the file is, where, and what was expected)."""
    parts = []
    if problem.row:
        parts.append(_("row %(row)s") % {"row": problem.row})
    if problem.column:
        parts.append(_("column “%(column)s”") % {"column": problem.column})
    if problem.value:
        parts.append(_("value “%(value)s”") % {"value": problem.value})
    where = ", ".join(parts)
    return f"{where}: {problem.message}" if where else problem.message
