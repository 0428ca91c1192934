"""The file mode of ``waystation dedup``: a CSV of people in, the pairs judged to be one person out.

Input columns (a header row, in any order, other columns ignored): ``id,name,other_names,birth_year,sex,
origin_province,left_month``. ``other_names`` holds further names separated by ``|``; names may be in any script
or romanization. ``birth_year`` is a year or blank; ``sex`` F, M, U or blank; ``origin_province`` any code (compared
for equality; blank or ``unknown`` is unknown); ``left_month`` ``YYYY-MM`` (or ``YYYY.MM``, ``YYYY/MM``) or blank.

The whole file is read and checked before anything is matched: a problem stops the run with a message that names
the row, the column and the value, and nothing is written. Output: ``id_a,id_b,score``, one row per pair whose
match probability reaches the threshold, best first (``id_a < id_b``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from django.utils.translation import gettext as _

from waystation.interop.spreadsheet import SpreadsheetError, numbered_csv_records

from .matching import CandidatePair, MatchSettings, PersonFeatures, features_from_names, find_pairs, month_number

COLUMNS = ("id", "name", "other_names", "birth_year", "sex", "origin_province", "left_month")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a network's whole register fits many times over
MAX_ROWS = 500_000
MAX_CELL_CHARS = 1000
MIN_BIRTH_YEAR, MAX_BIRTH_YEAR = 1900, 2100
_MONTH = re.compile(r"^(\d{4})[-./](\d{1,2})$")
SEXES = {"f": "F", "m": "M", "u": None, "": None}


class PeopleFileError(ValueError):
    """The file cannot be linked; the message says what is wrong, where, and what was expected."""


def _decode(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PeopleFileError(_("Cannot read %(path)s: %(error)s.") % {"path": path, "error": exc.strerror}) from exc
    if size > MAX_FILE_BYTES:
        raise PeopleFileError(
            _("%(path)s is too large (%(size)d MB); the limit is %(limit)d MB.")
            % {"path": path, "size": size // 2**20, "limit": MAX_FILE_BYTES // 2**20}
        )
    data = path.read_bytes()
    if b"\x00" in data:
        raise PeopleFileError(_("%(path)s is not a CSV text file.") % {"path": path})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PeopleFileError(
            _("%(path)s is not UTF-8 text (byte %(offset)d). Save it as CSV UTF-8 and try again.")
            % {"path": path, "offset": exc.start}
        ) from exc


def read_people(path: Path) -> list[PersonFeatures]:
    """The people of a CSV file, checked row by row; ``PeopleFileError`` at the first problem. The CSV is read
    strictly (RFC 4180): a quote left open, text after a closing quote, or a row with more or fewer cells than the
    header is refused, naming the row, rather than read some other way than the user meant."""
    text = _decode(path)
    if not text.strip():
        raise PeopleFileError(_("%(path)s is empty.") % {"path": path})
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = _records(reader)
    header = [h.strip().lower() for h in next(records, (0, []))[1]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise PeopleFileError(
            _("%(path)s lacks the column(s) %(missing)s; expected a header row with %(columns)s.")
            % {"path": path, "missing": ", ".join(missing), "columns": ",".join(COLUMNS)}
        )
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:
        raise PeopleFileError(
            _("The header names the column(s) %(columns)s more than once; expected each column once.")
            % {"columns": ", ".join(twice)}
        )
    position = {c: header.index(c) for c in COLUMNS}
    people: list[PersonFeatures] = []
    seen: dict[str, int] = {}
    for number, cells in records:
        if number - 1 > MAX_ROWS:
            raise PeopleFileError(_("The file has more than %(limit)d rows.") % {"limit": MAX_ROWS})
        if len(cells) != len(header):
            raise PeopleFileError(
                _(
                    "Row %(row)d has %(count)d cells; expected %(width)d, one for each column of the header. A cell "
                    "holding a comma must be enclosed in double quotes."
                )
                % {"row": number, "count": len(cells), "width": len(header)}
            )
        row = {c: cells[position[c]].strip() for c in COLUMNS}
        people.append(person_from_row(row, number, seen))
    if not people:
        raise PeopleFileError(_("%(path)s has a header but no rows.") % {"path": path})
    return people


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of each record, the header being row 1, blank lines skipped; a record that is not
    well-formed CSV stops the reading with the import's message naming its row."""
    try:
        for number, cells in numbered_csv_records(reader):
            if cells:
                yield number, cells
    except SpreadsheetError as exc:
        raise PeopleFileError(exc.message) from exc


def _bad(number: int, column: str, value: str, expected: str) -> PeopleFileError:
    return PeopleFileError(
        _("Row %(row)d, column %(column)s: %(value)s is not valid; expected %(expected)s.")
        % {"row": number, "column": column, "value": repr(value[:40]), "expected": expected}
    )


def person_from_row(row: dict[str, str], number: int = 0, seen: dict[str, int] | None = None) -> PersonFeatures:
    """One checked row (``number`` for messages; ``seen``: ids met so far, {id: row number})."""
    seen = {} if seen is None else seen
    for column, value in row.items():
        if len(value) > MAX_CELL_CHARS:
            raise _bad(number, column, value, _("at most %(limit)d characters") % {"limit": MAX_CELL_CHARS})
    rid = row["id"]
    if not rid:
        raise _bad(number, "id", rid, _("an id for every row"))
    if rid in seen:
        raise _bad(number, "id", rid, _("an id not used before (row %(row)d has it)") % {"row": seen[rid]})
    seen[rid] = number
    birth_year = None
    if row["birth_year"]:
        if not row["birth_year"].isdigit() or not MIN_BIRTH_YEAR <= int(row["birth_year"]) <= MAX_BIRTH_YEAR:
            raise _bad(number, "birth_year", row["birth_year"], _("a year such as 1985, or blank"))
        birth_year = int(row["birth_year"])
    if row["sex"].lower() not in SEXES:
        raise _bad(number, "sex", row["sex"], _("F, M, U or blank"))
    left_month = None
    if row["left_month"]:
        match = _MONTH.match(row["left_month"])
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise _bad(number, "left_month", row["left_month"], _("a month such as 2018-03, or blank"))
        left_month = month_number(int(match.group(1)), int(match.group(2)))
    province = row["origin_province"].lower()
    names = [row["name"], *row["other_names"].split("|")]
    return features_from_names(
        rid,
        names,
        birth_year=birth_year,
        sex=SEXES[row["sex"].lower()],
        province=None if province in {"", "unknown"} else province,
        left_month=left_month,
    )


def write_pairs(pairs: Sequence[CandidatePair], out: Path) -> None:
    """``id_a,id_b,score`` with the score to four decimals; written whole to a temporary file first, then moved into
    place, so that a failed run leaves no half-written output."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id_a", "id_b", "score"])
    for pair in pairs:
        writer.writerow([pair.id_a, pair.id_b, f"{pair.score:.4f}"])
    partial = out.with_name(out.name + ".partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    partial.replace(out)


def dedup_file(source: Path, out: Path, settings: MatchSettings | None = None) -> list[CandidatePair]:
    """Link ``source`` and write the pairs judged the same person to ``out``."""
    pairs = find_pairs(read_people(source), settings)
    write_pairs(pairs, out)
    return pairs
