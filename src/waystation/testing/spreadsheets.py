"""Spreadsheet files as the tests write them: CSV bytes as a station's register would be saved, and XLSX bytes
made with openpyxl."""

from __future__ import annotations

import io
from typing import Any

import openpyxl


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    def quote(cell: str) -> str:
        needs = any(ch in cell for ch in (delimiter, '"', "\n"))
        return '"' + cell.replace('"', '""') + '"' if needs else cell

    text = "\r\n".join(delimiter.join(quote(cell) for cell in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    if sheet is None:  # a new workbook always has its first sheet
        raise RuntimeError("openpyxl made a workbook without a sheet")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
