"""Checking every row of a station's spreadsheet before anything is written.

``validate(table, mapping, today)`` reads every mapped cell of every row with the parsers of ``values`` and
applies the checks of ``person_register`` (choices, month range and order, at least one name, the date of birth
agreeing with the birth year), so that writing the rows afterwards cannot fail on a value. It returns a
``Validated``: for each good row the keyword arguments ``person_register`` takes, the station's code name and the
row's external id; and every problem found, each naming the row (as numbered in Excel, header = row 1), the column,
the value and what was expected. Nothing stops at the first error: a file is checked whole, so that the user fixes
everything in one pass. The caller writes nothing unless ``errors`` is empty.

External id: the file's own id column when one is mapped (then every row needs one). Otherwise a digest of the
row's identifying cells (names, aliases, sex, birth year or age, date of birth, province, the two months, the
station), each trimmed and normalised and keyed by field, not by column: moving columns or re-saving the file keeps
the ids, so importing the same file twice is recognised. Notes, contacts and languages are left out, so that
correcting a phone number does not make the row a new person. Two rows with the same id, or with the same
identifying cells, are reported naming both rows: the second is almost surely the first one entered twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.utils.translation import gettext as _

from waystation.interop import values
from waystation.interop.columns import Mapping, MappingError
from waystation.interop.spreadsheet import Row, Table
from waystation.interop.values import ValueProblem

MAX_SHOWN_VALUE = 60
PROGRESS_EVERY = 1000
DIGEST_FIELDS = (
    "name",
    "name_hangul",
    "name_romanized",
    "name_chinese",
    "aliases",
    "sex",
    "birth_year",
    "age",
    "date_of_birth",
    "origin_province",
    "left_nk_month",
    "first_contact_month",
    "station",
)
NAME_FIELDS = ("name_hangul", "name_romanized", "name_chinese")


@dataclass(frozen=True)
class RowError:
    """One problem: a row as the user sees it, the column's header ("" for the row as a whole), the value as
    written (shortened), and what was expected. Also used for warnings."""

    row: int
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class ValidRow:
    row: int
    external_id: str
    station: str  # the station's code name as written; "" when the file does not say
    person: dict[str, Any]  # keyword arguments of person_register (besides actor and station)


@dataclass
class Validated:
    rows: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # headers of the columns that are ignored

    @property
    def ok(self) -> bool:
        return not self.errors


def _parsers(today: dt.date) -> dict[str, Callable[[str], Any]]:
    return {
        "external_id": values.parse_identifier,
        "name": values.split_name,
        "name_hangul": values.name_in_script("hangul"),
        "name_romanized": values.name_in_script("latin"),
        "name_chinese": values.name_in_script("han"),
        "aliases": values.parse_aliases,
        "sex": values.parse_sex,
        "birth_year": partial(values.parse_birth_year, today=today),
        "age": partial(values.parse_birth_year, today=today, bare_number_is_age=True),
        "date_of_birth": partial(values.parse_date_of_birth, today=today),
        "origin_province": values.parse_province,
        "left_nk_month": partial(values.parse_month, today=today, year_only=True),
        "first_contact_month": partial(values.parse_month, today=today),
        "languages": values.parse_languages,
        "contacts": values.parse_text,
        "narrative": values.parse_text,
        "station": values.parse_text,
    }


def shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 1] + "…"


def validate(
    table: Table, mapping: Mapping, today: dt.date, *, progress: Callable[[int, int], None] | None = None
) -> Validated:
    """Every row of ``table`` read through ``mapping``; ``today`` is the import's date (ages, months in the future).

    ``progress(done, total)``, if given, is called every ``PROGRESS_EVERY`` rows and at the end. Raises
    ``MappingError`` when the mapping itself cannot be used (then no row is read).
    """
    mapping.check(table.header)
    if not set(mapping.columns.values()) & {"name", *NAME_FIELDS}:
        raise MappingError([_("No column is mapped to a name: map the column holding the names.")])
    result = Validated(unmapped=[table.column_name(i) for i in mapping.unmapped(table.header)])
    parsers = _parsers(today)
    seen_ids: dict[str, int] = {}
    for done, row in enumerate(table.rows, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, len(table.rows))
        checker = _RowCheck(table, mapping, row, parsers)
        external_id, person = checker.run()
        result.errors.extend(checker.errors)
        result.warnings.extend(checker.warnings)
        if external_id is None:
            continue
        first = seen_ids.setdefault(external_id, row.number)
        if first != row.number:  # reported even when either row has other errors: both need fixing anyway
            result.errors.append(_duplicate_error(table, mapping, row, first))
        elif person is not None:
            result.rows.append(ValidRow(row.number, external_id, person.pop("station"), person))
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return result


def _duplicate_error(table: Table, mapping: Mapping, row: Row, first: int) -> RowError:
    id_column = mapping.field_columns().get("external_id")
    if id_column is None:
        message = _("This row repeats row %(row)s (same names, sex, birth year, origin and months).")
        return RowError(row.number, "", "", message % {"row": first})
    value = row.cells[id_column] if id_column < len(row.cells) else ""
    message = _("The same id as row %(row)s: each row needs its own id.") % {"row": first}
    return RowError(row.number, table.column_name(id_column), shorten(value), message)


class _RowCheck:
    """The checks of one row; collects every problem instead of stopping at the first."""

    def __init__(self, table: Table, mapping: Mapping, row: Row, parsers: dict[str, Callable[[str], Any]]) -> None:
        self.table, self.mapping, self.row, self.parsers = table, mapping, row, parsers
        self.columns = mapping.field_columns()
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []
        self.failed: set[str] = set()  # fields whose cell was refused: no second message about them

    def cell(self, name: str) -> str:
        index = self.columns.get(name)
        return self.row.cells[index] if index is not None and index < len(self.row.cells) else ""

    def problem(self, name: str | None, message: str, *, warning: bool = False) -> None:
        index = self.columns.get(name) if name else None
        column = self.table.column_name(index) if index is not None else ""
        value = shorten(values.clean(self.cell(name))) if name else ""
        (self.warnings if warning else self.errors).append(RowError(self.row.number, column, value, message))

    def run(self) -> tuple[str | None, dict[str, Any] | None]:
        """The row's external id (None when it has none), and the person's arguments plus ``station`` (None when
        the row has an error)."""
        self.check_width()
        parsed: dict[str, Any] = {}
        for name in self.columns:
            try:
                parsed[name] = self.parsers[name](self.cell(name))
            except ValueProblem as exc:
                self.failed.add(name)
                self.problem(name, exc.message)
        person = self.person(parsed)
        external_id = self.external_id(parsed)
        return external_id, None if self.errors else {**person, "station": parsed.get("station", "")}

    def check_width(self) -> None:
        width = len(self.table.header)
        extra = [cell for cell in self.row.cells[width:] if cell.strip()]
        if extra:
            message = _(
                "This row has %(count)s cells but the header has %(width)s: is a comma or semicolon missing quotes?"
            ) % {"count": width + len(extra), "width": width}
            self.errors.append(RowError(self.row.number, "", shorten(extra[0]), message))

    def person(self, parsed: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of person_register; the checks across fields add to ``errors``."""
        names = self.names(parsed)
        left, only_year = parsed.get("left_nk_month", (None, False))
        contact, _unused = parsed.get("first_contact_month", (None, False))
        if only_year:
            message = _("Only a year was given: the month is recorded as January %(year)s.")
            self.problem("left_nk_month", message % {"year": left.year}, warning=True)
        if left and contact and left > contact:
            self.problem("first_contact_month", _("First contact cannot come before leaving North Korea."))
        if not any(names.values()) and not self.failed & {"name", *NAME_FIELDS}:
            self.errors.append(RowError(self.row.number, "", "", _("Enter at least one form of the name.")))
        return {
            "sex": parsed.get("sex", values.parse_sex("")),
            "birth_year": self.birth_year(parsed),
            "origin_province": parsed.get("origin_province", values.parse_province("")),
            "left_nk_month": left,
            "first_contact_month": contact,
            "languages": parsed.get("languages", []),
            **names,
            "aliases": parsed.get("aliases", ""),
            "date_of_birth": parsed.get("date_of_birth", ""),
            "contacts": parsed.get("contacts", ""),
            "narrative": parsed.get("narrative", ""),
        }

    def names(self, parsed: dict[str, Any]) -> dict[str, str]:
        """The three forms of the name: from their own columns, completed by the words of a "name" column. A form
        given by both, differently, is an error: which one is right is the user's call."""
        names = {name: parsed.get(name, "") for name in NAME_FIELDS}
        for form, text in parsed.get("name", {}).items():
            if names[form] and names[form] != text:
                column = self.table.column_name(self.columns[form])
                self.problem("name", _("This name differs from the one in column %(column)s.") % {"column": column})
            else:
                names[form] = text
        return names

    def birth_year(self, parsed: dict[str, Any]) -> int | None:
        """The birth year from the year column, the date of birth and the age, which must agree (an age to ±1)."""
        year, age_year, born = parsed.get("birth_year"), parsed.get("age"), parsed.get("date_of_birth", "")
        born_year = int(born[:4]) if born else None
        if year is not None and born_year is not None and year != born_year:
            self.problem("date_of_birth", _("The date of birth does not match the birth year."))
        exact = year if year is not None else born_year
        if exact is not None and age_year is not None and abs(exact - age_year) > 1:
            self.problem("age", _("This age does not match the birth year %(year)s.") % {"year": exact})
        return exact if exact is not None else age_year

    def external_id(self, parsed: dict[str, Any]) -> str | None:
        if "external_id" in self.columns:
            if not parsed.get("external_id"):
                self.problem("external_id", _("This row has no id: every row needs one when an id column is mapped."))
                return None
            return str(parsed["external_id"])
        content = {
            name: " ".join(values.clean(self.cell(name)).split()) for name in DIGEST_FIELDS if name in self.columns
        }
        encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return "sha256:" + hashlib.sha256(encoded).hexdigest()[:32]
