"""Reading a station's spreadsheet (CSV or XLSX) into a header and rows of strings, refusing what is unsafe.

This layer knows nothing of persons: it turns bytes into text cells, or refuses the whole file with a
``SpreadsheetError`` whose message says what is wrong and, where it can, the row and column. Checking the cells'
values is ``rows.validate``'s job.

Decisions, and why:

* The format is read from the content, never from the name: an XLSX is a zip holding the OOXML parts
  (``[Content_Types].xml`` and ``xl/workbook.xml``); anything else must be text. A PNG renamed ``.csv`` is refused,
  and so are other zips (ODS, DOCX), old ``.xls`` and password-protected workbooks (both OLE compound files).
* Text encodings are tried strictly, in a fixed order, and the one used is reported: a byte-order mark decides
  (UTF-8 or UTF-16); otherwise UTF-8, then CP949 (Korean Windows Excel's "CSV", a superset of EUC-KR). Plain ASCII
  is UTF-8. Nothing is decoded "with replacement": a file that is neither is refused naming the line.
* Sizes are checked before content is read: the file's size first (a 100 MB file is refused after a ``stat``), then
  for an XLSX the uncompressed sizes written in the zip directory (a zip bomb is refused before anything is
  inflated; Python's ``zipfile`` never inflates a member past its declared size), then rows, columns and cell
  length while reading.
* XLSX cells are read as the values Excel saved (``data_only``): we never evaluate a formula. A formula cell whose
  saved value is missing (a file written by a program that does not compute) is refused naming the cell: reading it
  as blank would silently lose data. Finding those needs a second parse, done only when the raw sheet XML holds a
  formula at all. Dates become ISO strings (``2018-03-01``), whole numbers lose their ``.0``. A sheet's declared
  dimensions are ignored (a styled empty cell at XFD1048576 must not make a million padded rows), and XML entity
  expansion is bounded by the expat Python ships (2.4.1 and later refuse "billion laughs").
* A CSV cell starting with ``=``, ``+``, ``-`` or ``@`` is text like any other: nothing here evaluates it.
* Rows keep the number the user sees in Excel (header = row 1, blank rows counted), so that every error message
  points at the right line. Entirely blank rows are skipped and do not count towards the row limit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop


def column_letter(number: int) -> str:
    """A spreadsheet's name for column ``number`` (1: A, 27: AA), as openpyxl writes it. Imported when asked:
    openpyxl's package loads its whole workbook machinery, which a CSV import and the web server never need."""
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(number))


@dataclass(frozen=True)
class Limits:
    """What a station's spreadsheet may not exceed. A real register is far below every one of these."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_rows: int = 200_000  # non-blank data rows, header excluded
    max_columns: int = 200
    max_cell_chars: int = 10_000
    max_unzipped_bytes: int = 512 * 1024 * 1024  # an XLSX's members, summed, as declared in the zip directory
    max_zip_ratio: int = 300  # inflated / compressed, for members over 1 MB (real sheets stay well under 100)


DEFAULT_LIMITS = Limits()
NOT_SPREADSHEET_MESSAGE = gettext_noop("This is not a CSV or XLSX file.")
CSV_DELIMITERS = (",", ";", "\t")
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-8": "UTF-8", "cp949": "CP949 (EUC-KR)"}
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # never in a text file; tab, CR, LF are fine


class SpreadsheetError(Exception):
    """The file cannot be read as a spreadsheet. ``message`` is translated and shown to the user as it is."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


@dataclass(frozen=True)
class Row:
    number: int  # as the user sees it in Excel: the header is row 1
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A sheet as text: ``header`` is the first non-blank row, ``rows`` the non-blank rows after it."""

    header: tuple[str, ...]
    rows: list[Row]
    format: str  # "csv" or "xlsx"
    header_row: int = 1
    encoding: str = ""  # CSV: the encoding used ("utf-8", "utf-8-sig", "utf-16", "cp949")
    delimiter: str = ""  # CSV: "," ";" or "\t"
    sheet: str = ""  # XLSX: the sheet read
    sheets: tuple[str, ...] = field(default=())  # XLSX: every worksheet's name, for a "choose a sheet" control

    def column_name(self, index: int) -> str:
        """How a message names a column: its header, or "column C" when the header cell is blank."""
        title = self.header[index].strip() if index < len(self.header) else ""
        return title or _("column %(letter)s") % {"letter": column_letter(index + 1)}


Source = str | os.PathLike[str] | bytes | IO[bytes]


def read_table(
    source: Source, *, sheet: str | None = None, header_row: int | None = None, limits: Limits = DEFAULT_LIMITS
) -> Table:
    """Read a CSV or XLSX file (a path, its bytes, or an open binary file such as a Django upload).

    ``sheet`` names the XLSX worksheet (default: the first); ``header_row`` the row holding the column names
    (default: the first non-blank row), for sheets with a title above their table.
    """
    data = _read_bytes(source, limits)
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        table = _read_xlsx(data, sheet=sheet, limits=limits)
    elif data.startswith(_OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise SpreadsheetError(_("This file is protected by a password: save it again without one."))
        raise SpreadsheetError(_("This is an old Excel file (.xls): save it as XLSX or CSV UTF-8 and try again."))
    elif data.startswith(_BINARY_MAGIC):
        raise SpreadsheetError(_(NOT_SPREADSHEET_MESSAGE))
    else:
        table = _read_csv(data, limits=limits)
    return with_header_at(table, header_row)


def _read_bytes(source: Source, limits: Limits) -> bytes:
    """The whole file, after checking its size without reading it when the size is known in advance."""
    too_big = _("This file is larger than %(limit)s MB: split it into smaller files.") % {
        "limit": limits.max_file_bytes // (1024 * 1024)
    }
    if isinstance(source, bytes):
        if len(source) > limits.max_file_bytes:
            raise SpreadsheetError(too_big)
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > limits.max_file_bytes:
                raise SpreadsheetError(too_big)
            with path.open("rb") as handle:
                return _read_bounded(handle, limits, too_big)
        except OSError as exc:
            raise SpreadsheetError(
                _("This file cannot be opened: %(reason)s") % {"reason": exc.strerror or exc}
            ) from exc
    declared = getattr(source, "size", None)  # Django's UploadedFile knows its size
    if isinstance(declared, int) and declared > limits.max_file_bytes:
        raise SpreadsheetError(too_big)
    return _read_bounded(source, limits, too_big)


def _read_bounded(handle: IO[bytes], limits: Limits, too_big: str) -> bytes:
    data = handle.read(limits.max_file_bytes + 1)  # one byte more than allowed tells that there is more
    if len(data) > limits.max_file_bytes:
        raise SpreadsheetError(too_big)
    return data


def with_header_at(table: Table, header_row: int | None) -> Table:
    """The table with its header moved down to ``header_row`` (rows above it dropped); unchanged for None."""
    if header_row is None or header_row == table.header_row:
        return table
    candidates = [row for row in table.rows if row.number == header_row]
    if not candidates:
        raise SpreadsheetError(_("Row %(row)s is blank or outside the table.") % {"row": header_row}, row=header_row)
    rows = [row for row in table.rows if row.number > header_row]
    return replace(table, header=_trim_blank_columns(candidates[0].cells), rows=rows, header_row=header_row)


# --- CSV -----------------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding that read it, trying strict decodings in a fixed order."""
    if data.startswith(b"\xef\xbb\xbf"):
        attempts: Iterable[str] = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        attempts = ("utf-16",)
    else:
        if b"\x00" in data:  # NUL never occurs in UTF-8 or CP949 text: this is a binary file
            raise SpreadsheetError(_(NOT_SPREADSHEET_MESSAGE))
        attempts = ("utf-8", "cp949")
    furthest = 0
    for encoding in attempts:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            furthest = max(furthest, exc.start)
    line = data.count(b"\n", 0, furthest) + 1
    raise SpreadsheetError(
        _("Line %(line)s cannot be read as text in %(encodings)s. Save the file as “CSV UTF-8” and try again.")
        % {"line": line, "encodings": " / ".join(ENCODING_NAMES[e] for e in attempts)},
        row=line,
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter (comma, semicolon or tab) under which most of the first rows have one same width (2 or more).

    ``csv.Sniffer`` is not used: it guesses from character frequencies and is easily misled by commas inside
    quoted notes. Parsing a sample with each candidate and counting rows of the commonest width is not, and a title
    line above the table (one cell wide) does not disturb it.
    """
    sample = text[: 64 * 1024]
    best, best_score = ",", (0, 0)
    for delimiter in CSV_DELIMITERS:
        widths = Counter(len(record) for record in _sample_records(sample, delimiter) if len(record) >= 2)
        if widths:
            width, count = widths.most_common(1)[0]
            if (count, width) > best_score:
                best, best_score = delimiter, (count, width)
    return best


def _sample_records(sample: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) >= 50:
                break
    except csv.Error:
        pass  # the sample may end inside a quoted cell
    return records[:-1] if len(records) > 1 else records  # the last record of a sample may be cut short


def _read_csv(data: bytes, *, limits: Limits) -> Table:
    text, encoding = decode_text(data)
    text = text.removesuffix("\x1a")  # an old DOS end-of-file mark
    if _CONTROL_CHARACTERS.search(text):
        raise SpreadsheetError(_(NOT_SPREADSHEET_MESSAGE))
    delimiter = sniff_delimiter(text)
    # strict: a quotation mark never closed, or text after a closing one, is an error naming the row rather than a
    # cell that silently swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    numbered = numbered_csv_records(reader)
    header, header_row, rows = _collect(numbered, limits)
    return Table(header=header, rows=rows, format="csv", header_row=header_row, encoding=encoding, delimiter=delimiter)


def numbered_csv_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Each record of a strict ``csv.reader`` with its row number (records, not lines: a quoted newline stays inside
    its row); a record that is not well-formed CSV raises ``SpreadsheetError`` naming its row. Shared by the import
    and ``linkage.people_file``."""
    number = 0
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module's own cap on a field (128 KiB) is above ours: hitting it means a huge cell, or a
            # quote that is never closed and swallows the rest of the file.
            raise SpreadsheetError(
                _(
                    "Row %(row)s cannot be read: a quotation mark is not closed or is followed by text, "
                    "or a cell is too long."
                )
                % {"row": number},
                row=number,
            ) from exc
        yield number, record


def _collect(numbered: Iterable[tuple[int, list[str]]], limits: Limits) -> tuple[tuple[str, ...], int, list[Row]]:
    """The header and the non-blank rows, checking the row, column and cell limits as they stream by."""
    header: tuple[str, ...] | None = None
    header_row = 1
    rows: list[Row] = []
    for number, cells in numbered:
        _check_row_limits(number, cells, limits)
        if not any(cell.strip() for cell in cells):
            continue  # not counted: Excel often keeps formatted but empty rows far below the table
        if header is None:
            header, header_row = tuple(cells), number
            continue
        if len(rows) >= limits.max_rows:
            raise SpreadsheetError(
                _("The file has more than %(limit)s rows (row %(row)s): split it into smaller files.")
                % {"limit": limits.max_rows, "row": number},
                row=number,
            )
        rows.append(Row(number, tuple(cells)))
    if header is None:
        raise SpreadsheetError(_("The file is empty."))
    return _trim_blank_columns(header), header_row, rows


def _check_row_limits(number: int, cells: list[str], limits: Limits) -> None:
    last = max((i for i, cell in enumerate(cells) if cell.strip()), default=-1)
    if last >= limits.max_columns:
        raise SpreadsheetError(
            _("Row %(row)s has more than %(limit)s columns.") % {"row": number, "limit": limits.max_columns},
            row=number,
            column=column_letter(last + 1),
        )
    for index, cell in enumerate(cells):
        if len(cell) > limits.max_cell_chars:
            letter = column_letter(index + 1)
            raise SpreadsheetError(
                _("Cell %(cell)s is longer than %(limit)s characters.")
                % {"cell": f"{letter}{number}", "limit": limits.max_cell_chars},
                row=number,
                column=letter,
            )


def _trim_blank_columns(header: tuple[str, ...]) -> tuple[str, ...]:
    """The header without the trailing unnamed columns Excel pads a CSV with (``a;b;;;``)."""
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    return header[:width]


# --- XLSX ----------------------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, *, sheet: str | None, limits: Limits) -> Table:
    _check_zip(data, limits)
    try:
        # Imported here: openpyxl's workbook machinery is heavy and CSV imports never need it.
        from openpyxl import load_workbook

        values_book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas_book = load_workbook(io.BytesIO(data), read_only=True) if _has_formulas(data) else None
    except Exception as exc:  # openpyxl raises KeyError, ValueError, XML errors... on a damaged file
        raise SpreadsheetError(_("This XLSX file is damaged and cannot be read.")) from exc
    try:
        names = tuple(ws.title for ws in values_book.worksheets)
        if not names:
            raise SpreadsheetError(_("This XLSX file has no worksheet."))
        title = sheet if sheet is not None else names[0]
        if title not in names:
            raise SpreadsheetError(
                _("There is no sheet named “%(sheet)s”. The sheets are: %(sheets)s.")
                % {"sheet": title, "sheets": ", ".join(names)}
            )
        values_sheet = values_book[title]
        formulas_sheet = formulas_book[title] if formulas_book is not None else None
        # A sheet's declared dimensions may claim a million rows and 16,384 columns: forget them, so that rows
        # come as wide as their last cell and the limits below are checked on what is really there.
        for worksheet in (values_sheet, formulas_sheet):
            if worksheet is not None:
                worksheet.reset_dimensions()
        cells = _xlsx_rows(values_sheet, formulas_sheet)
        header, header_row, rows = _collect(cells, limits)
    except SpreadsheetError:
        raise
    except Exception as exc:
        raise SpreadsheetError(_("This XLSX file is damaged and cannot be read.")) from exc
    finally:
        values_book.close()
        if formulas_book is not None:
            formulas_book.close()
    return Table(header=header, rows=rows, format="xlsx", header_row=header_row, sheet=title, sheets=names)


def _check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a zip that is not a workbook, is encrypted, or would inflate beyond the limits (a zip bomb)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpreadsheetError(_("This XLSX file is damaged and cannot be read.")) from exc
    names = {member.filename for member in members}
    if "mimetype" in names and b"opendocument.spreadsheet" in archive.read("mimetype")[:100]:
        raise SpreadsheetError(_("This is an OpenDocument spreadsheet: save it as XLSX or CSV UTF-8 and try again."))
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise SpreadsheetError(_(NOT_SPREADSHEET_MESSAGE))
    if any(member.flag_bits & 0x1 for member in members):
        raise SpreadsheetError(_("This file is protected by a password: save it again without one."))
    total = sum(member.file_size for member in members)
    swollen = [
        m for m in members if m.file_size > 1024 * 1024 and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1)
    ]
    if total > limits.max_unzipped_bytes or swollen:
        raise SpreadsheetError(
            _("This XLSX file would take too much space once opened (it looks like a zip bomb): it was not read.")
        )


def _has_formulas(data: bytes) -> bool:
    """Whether any worksheet holds a formula (``<f>``): a scan of the raw XML, far cheaper than a second parse,
    so that the usual register without formulas is parsed once."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    for name in archive.namelist():
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            with archive.open(name) as member:
                tail = b""
                while chunk := member.read(1024 * 1024):
                    if _FORMULA_TAG.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def _xlsx_rows(values_sheet: Any, formulas_sheet: Any | None) -> Iterator[tuple[int, list[str]]]:
    """Each sheet row as text, with its Excel row number; formulas without a saved value are refused.

    With formulas, the sheet is read twice in step: once for the saved values, once for the formulas. A formula
    cell without a saved value is refused, except a text result that is empty (``t="str"``: Excel computed "").
    """
    if formulas_sheet is None:
        for number, values in enumerate(values_sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
        return
    missing: list[str] = []
    pairs = zip(values_sheet.iter_rows(), formulas_sheet.iter_rows(values_only=True), strict=False)
    for number, (cells, formulas) in enumerate(pairs, start=1):
        for index, (cell, formula) in enumerate(zip(cells, formulas, strict=False)):
            if cell.value is None and cell.data_type != "str" and _is_formula(formula):
                missing.append(f"{column_letter(index + 1)}{number}")
        if missing:
            continue  # keep looking, to name every such cell at once
        yield number, [cell_text(cell.value) for cell in cells]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise SpreadsheetError(
            _(
                "These cells hold a formula without a value (%(cells)s): open the file in Excel, "
                "save it again, and import it again."
            )
            % {"cells": shown}
        )


def _is_formula(value: object) -> bool:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    return isinstance(value, (ArrayFormula, DataTableFormula)) or (isinstance(value, str) and value.startswith("="))


def cell_text(value: object) -> str:
    """An XLSX cell's saved value as the text a person would type: ISO dates, whole numbers without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
