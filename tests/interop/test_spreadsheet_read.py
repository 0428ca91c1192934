"""Reading stations' spreadsheets: messy but real-looking files, read into rows person_register accepts, or refused
with a message naming the row, the column and what was expected. All names are invented (가상 = "imaginary")."""

from __future__ import annotations

import datetime as dt
import io
import time
import tracemalloc
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.cases.services import person_register
from waystation.interop.columns import Mapping, MappingError, guess_field, locate_header
from waystation.interop.rows import Validated, validate
from waystation.interop.spreadsheet import Limits, SpreadsheetError, Table, read_table
from waystation.interop.values import ValueProblem, parse_birth_year, parse_month, parse_province, parse_sex
from waystation.network.models import Station
from waystation.testing.spreadsheets import csv_bytes, xlsx_bytes
from waystation.vault.reveal import reveal

TODAY = dt.date(2026, 11, 28)

# A station's register as it really comes: Korean headers, names in several scripts in one column, dates written
# five ways, a note with a line break and a semicolon, an unknown column, blank cells and "not known" marks.
MESSY_ROWS = [
    ["번호", "성명", "성별", "출생년도", "출신지", "탈북 시기", "첫 접촉", "언어", "비고", "담당자"],
    ["A-001", "가상일 (Gasang Il)", "여", "1985", "함경북도", "2018.3", "2018년 5월", "한국어, 중국어", "", "x"],
    ["A-002", "假想二", "女", "34세", "량강도", "2017/11", "03/2019", "조선어", "아이 둘;\n연락 끊김", ""],
    ["A-003", "Gasang Sam", "F", "", "Hamgyong-bukto", "2016", "2019-07-15", "", "-", ""],
    ["A-004", "가상사", "남", "모름", "North Pyongan", "", "2020.01.", "Korean/Chinese", "", ""],
]


def replace_in_zip(data: bytes, member: str, old: bytes, new: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info.filename, content.replace(old, new) if info.filename == member else content)
    return out.getvalue()


def check(table: Table) -> Validated:
    return validate(table, Mapping.auto(table.header), TODAY)


# --- reading ---------------------------------------------------------------------------------------------------


def test_a_messy_utf8_csv_with_semicolons_and_quoted_line_breaks_becomes_register_arguments() -> None:
    table = read_table(b"\xef\xbb\xbf" + csv_bytes(MESSY_ROWS, delimiter=";"))
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ";")

    result = check(table)

    assert result.errors == []
    assert result.unmapped == ["담당자"]
    first, second, third, fourth = (row.person for row in result.rows)
    assert first["name_hangul"] == "가상일" and first["name_romanized"] == "Gasang Il"
    assert (first["sex"], first["birth_year"], first["origin_province"]) == ("F", 1985, "north_hamgyong")
    assert (first["left_nk_month"], first["first_contact_month"]) == (dt.date(2018, 3, 1), dt.date(2018, 5, 1))
    assert first["languages"] == ["ko", "zh"]
    assert second["name_chinese"] == "假想二" and second["name_hangul"] == ""
    assert second["birth_year"] == 1992  # 34 in 2026
    assert second["origin_province"] == "ryanggang" and second["left_nk_month"] == dt.date(2017, 11, 1)
    assert second["first_contact_month"] == dt.date(2019, 3, 1)
    assert second["narrative"] == "아이 둘;\n연락 끊김"  # the quoted line break stayed inside its row
    assert third["left_nk_month"] == dt.date(2016, 1, 1) and third["narrative"] == ""
    assert fourth["birth_year"] is None and fourth["sex"] == "M" and fourth["left_nk_month"] is None
    assert [row.row for row in result.rows] == [2, 3, 4, 5]  # the quoted line break does not shift the numbering
    assert [row.external_id for row in result.rows] == ["A-001", "A-002", "A-003", "A-004"]
    # A year alone for leaving North Korea is taken as January, and said so.
    assert [(w.row, w.column) for w in result.warnings] == [(4, "탈북 시기")]


def test_a_korean_windows_excel_csv_in_cp949_is_read_and_says_so() -> None:
    table = read_table(csv_bytes(MESSY_ROWS, encoding="cp949"))

    assert table.encoding == "cp949"
    assert table.header[1] == "성명"
    assert check(table).rows[0].person["name_hangul"] == "가상일"


def test_utf16_tab_separated_text_from_excel_is_read() -> None:
    table = read_table(csv_bytes(MESSY_ROWS, delimiter="\t", encoding="utf-16"))

    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert check(table).rows[1].person["name_chinese"] == "假想二"


def test_a_file_in_another_encoding_is_refused_naming_the_line() -> None:
    data = "id,name\n1,Gasang\n2,Jos\xe9 Inventado\n".encode("latin-1")

    with pytest.raises(SpreadsheetError) as refused:
        read_table(data)

    assert refused.value.row == 3
    assert "Line 3" in refused.value.message and "UTF-8" in refused.value.message


def test_an_xlsx_gives_dates_as_iso_text_and_numbers_without_decimals() -> None:
    data = xlsx_bytes(
        [
            ["이름", "성별", "출생년도", "탈북일", "첫 접촉"],
            ["가상오", "여", 1990, dt.datetime(2015, 6, 20), dt.date(2019, 2, 1)],  # noqa: DTZ001 - Excel has no zones
        ]
    )

    table = read_table(data)
    result = check(table)

    assert (table.format, table.sheet) == ("xlsx", "Sheet")
    assert table.rows[0].cells[2:] == ("1990", "2015-06-20", "2019-02-01")
    assert result.rows[0].person["left_nk_month"] == dt.date(2015, 6, 1)
    assert result.rows[0].person["birth_year"] == 1990


def test_an_xlsx_formula_without_a_saved_value_is_refused_naming_the_cell() -> None:
    data = xlsx_bytes([["이름", "출생년도"], ["가상육", 1988], ["가상칠", "=B2+1"]])

    with pytest.raises(SpreadsheetError) as refused:
        read_table(data)

    assert "B3" in refused.value.message and "formula" in refused.value.message


def test_an_xlsx_formula_is_read_as_the_value_excel_saved_never_evaluated() -> None:
    data = xlsx_bytes([["이름", "출생년도"], ["가상육", 1988], ["가상칠", "=B2+1"]])
    saved = replace_in_zip(data, "xl/worksheets/sheet1.xml", b"<f>B2+1</f><v />", b"<f>B2+1</f><v>1991</v>")

    table = read_table(saved)

    assert table.rows[1].cells == ("가상칠", "1991")  # the saved 1991, not 1989 computed from the formula


def test_an_xlsx_formula_whose_saved_result_is_empty_text_is_a_blank_cell() -> None:
    data = xlsx_bytes([["이름", "출생년도"], ["가상육", 1988], ["가상칠", '=IF(B2>0,"","?")']])
    old = b'<c r="B3"><f>IF(B2&gt;0,"","?")</f><v /></c>'
    saved = replace_in_zip(
        data, "xl/worksheets/sheet1.xml", old, b'<c r="B3" t="str"><f>IF(B2&gt;0,"","?")</f><v></v></c>'
    )

    assert read_table(saved).rows[1].cells == ("가상칠", "")


def test_a_formatted_empty_cell_at_the_bottom_of_the_sheet_is_not_a_million_rows() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["이름", "성별"])
    sheet.append(["가상구", "여"])
    sheet.cell(row=1_048_576, column=16_384).number_format = "0.00"  # Excel's last cell, styled, empty
    out = io.BytesIO()
    book.save(out)

    started = time.perf_counter()
    table = read_table(out.getvalue())

    assert [row.cells for row in table.rows] == [("가상구", "여")]
    assert time.perf_counter() - started < 10


def test_a_named_sheet_is_read_and_an_unknown_one_is_refused_listing_the_sheets() -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "안내"
    first.append(["이 시트는 설명입니다"])
    book.create_sheet("명부").append(["이름"])
    book["명부"].append(["가상팔"])
    out = io.BytesIO()
    book.save(out)

    assert read_table(out.getvalue(), sheet="명부").rows[0].cells == ("가상팔",)
    with pytest.raises(SpreadsheetError) as refused:
        read_table(out.getvalue(), sheet="Sheet9")
    assert "안내, 명부" in refused.value.message


def test_csv_cells_that_look_like_formulas_stay_text_and_fail_as_names() -> None:
    rows = [["이름", "메모"], ['=HYPERLINK("http://example.invalid","가상")', "=1+1"], ["@SUM(A1)", "+82 10"]]

    table = read_table(csv_bytes(rows))
    result = check(table)

    assert table.rows[0].cells[1] == "=1+1"
    assert [(e.row, e.column) for e in result.errors] == [(2, "이름"), (3, "이름")]
    assert result.rows == []


def test_a_title_above_the_table_is_skipped_and_rows_keep_their_excel_numbers() -> None:
    data = "2026년 가상 쉼터 명부\n\n이름;성별;출생년도\n가상일;여;1985\n".encode()

    table = locate_header(read_table(data))

    assert (table.header, table.header_row) == (("이름", "성별", "출생년도"), 3)
    assert [(row.row, row.person["birth_year"]) for row in check(table).rows] == [(4, 1985)]


# --- refusals ----------------------------------------------------------------------------------------------------


def test_a_100_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    with path.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)

    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(SpreadsheetError) as refused:
        read_table(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert "50 MB" in refused.value.message
    assert peak < 1024 * 1024 and elapsed < 0.5


def test_an_upload_that_declares_100_mb_is_refused_without_reading() -> None:
    class Upload(io.BytesIO):
        size = 100 * 1024 * 1024

        def read(self, *args: Any) -> bytes:
            raise AssertionError("read although its size was known")

    with pytest.raises(SpreadsheetError):
        read_table(Upload())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not a CSV or XLSX"),
        (b"%PDF-1.7\n%fake", "not a CSV or XLSX"),
        (b"name,age\n\x00\x01\x02binary", "not a CSV or XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le"), "password"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
    ],
    ids=["png", "pdf", "binary", "encrypted-office", "old-xls"],
)
def test_files_that_are_not_spreadsheets_are_refused(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "register.csv"  # the name says CSV: the content decides
    path.write_bytes(data)

    with pytest.raises(SpreadsheetError) as refused:
        read_table(path)

    assert words in refused.value.message


def test_a_zip_that_is_not_a_workbook_and_a_damaged_xlsx_are_refused() -> None:
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(SpreadsheetError, match="not a CSV or XLSX"):
        read_table(other.getvalue())

    whole = xlsx_bytes([["이름"], ["가상구"]])
    with pytest.raises(SpreadsheetError, match="damaged"):
        read_table(whole[: len(whole) // 2])


def test_a_zip_bomb_xlsx_is_refused_from_its_directory_without_inflating() -> None:
    data = io.BytesIO(xlsx_bytes([["이름"], ["가상십"]]))
    with zipfile.ZipFile(data, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/filler.bin", "w") as f:
        for _ in range(32):
            f.write(bytes(1024 * 1024))  # 32 MB of zeros, a few dozen KB once compressed

    tracemalloc.start()
    with pytest.raises(SpreadsheetError, match="zip bomb"):
        read_table(data.getvalue())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 8 * 1024 * 1024


def test_an_xlsx_with_nested_xml_entities_is_refused_quickly() -> None:
    entities = '<!ENTITY e0 "가상가상가상가상">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    )  # "billion laughs": &e9; would expand to 16 billion characters
    data = xlsx_bytes([["이름"], ["가상"]])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    body = sheet.split(b"?>", 1)[-1].replace("<t>가상</t>".encode(), b"<t>&e9;</t>")  # after any <?xml ...?>
    assert b"&e9;" in body
    bomb = replace_in_zip(data, "xl/worksheets/sheet1.xml", sheet, f"<!DOCTYPE w [{entities}]>".encode() + body)

    started = time.perf_counter()
    with pytest.raises(SpreadsheetError, match="damaged"):
        read_table(bomb)

    assert time.perf_counter() - started < 2


def test_huge_cells_are_refused_naming_the_cell() -> None:
    rows = [["이름", "성별", "비고"], ["가상일", "여", "짧음"], ["가상이", "여", "가" * 20_000]]

    with pytest.raises(SpreadsheetError) as refused:
        read_table(csv_bytes(rows))
    assert "C3" in refused.value.message and refused.value.row == 3

    rows[2][2] = "x" * 200_000  # beyond the csv module's own field limit
    with pytest.raises(SpreadsheetError) as refused:
        read_table(csv_bytes(rows))
    assert refused.value.row == 3


def test_a_quotation_mark_never_closed_is_refused_naming_its_row() -> None:
    data = 'id,이름,메모\n1,가상일,"fine"\n2,가상이,"never closed\n3,가상삼,ok\n'.encode()

    with pytest.raises(SpreadsheetError) as refused:
        read_table(data)

    assert refused.value.row == 3 and "quotation mark" in refused.value.message


def test_row_and_column_limits_name_the_row() -> None:
    rows = [["이름"]] + [["가상" + chr(0xAC00 + i)] for i in range(6)]
    with pytest.raises(SpreadsheetError) as refused:
        read_table(csv_bytes(rows), limits=Limits(max_rows=5))
    assert refused.value.row == 7 and "5" in refused.value.message

    wide = [["이름", "비고"], ["가상", *["x"] * 12]]
    with pytest.raises(SpreadsheetError) as refused:
        read_table(csv_bytes(wide), limits=Limits(max_columns=10))
    assert refused.value.row == 2


# --- columns -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("이름", "name"),
        ("성명", "name"),
        ("성별", "sex"),
        ("Gender", "sex"),
        ("출생연도", "birth_year"),
        ("Year of birth", "birth_year"),
        ("출생년도 (YYYY)", "birth_year"),
        ("나이", "age"),
        ("출신 지역", "origin_province"),
        ("고향", "origin_province"),
        ("탈북년도", "left_nk_month"),
        ("탈북일", "left_nk_month"),
        ("First contact", "first_contact_month"),
        ("가명/별명", "aliases"),
        ("이름/성별", None),
        ("별명", "aliases"),
        ("中文名", "name_chinese"),
        ("중국 이름", "name_chinese"),
        ("연락처", "contacts"),
        ("비고", "narrative"),
        ("거점", "station"),
        ("외부 ID", "external_id"),
        ("ＩＤ", "external_id"),
        ("담당자", None),
    ],
)
def test_headers_are_recognised_in_korean_english_and_chinese(header: str, field: str | None) -> None:
    assert guess_field(header) == field


def test_a_field_mapped_twice_is_refused_naming_both_columns() -> None:
    table = read_table(csv_bytes([["이름", "성별", "Gender"], ["가상일", "여", "F"]]))
    mapping = Mapping.auto(table.header)
    assert 2 not in mapping.columns  # the automatic mapping takes the first and leaves the other to the user

    doubled = mapping.with_fields({2: "sex"}, table.header)
    with pytest.raises(MappingError) as refused:
        validate(table, doubled, TODAY)

    [problem] = refused.value.problems
    assert "“성별” (B)" in problem and "“Gender” (C)" in problem


def test_an_unknown_field_and_a_mapping_without_names_are_refused() -> None:
    table = read_table(csv_bytes([["이름", "성별"], ["가상일", "여"]]))

    assert Mapping({0: "name", 1: "shoe_size"}).problems(table.header) == ["Unknown field: shoe_size."]
    assert Mapping({0: "name", 7: "sex", -1: "age"}).problems(table.header) == [
        "Column 0 is not in the file.",
        "Column H is not in the file.",
    ]
    with pytest.raises(MappingError, match="No column is mapped to a name"):
        validate(table, Mapping({1: "sex"}), TODAY)


def test_a_saved_mapping_survives_json_and_follows_moved_columns() -> None:
    header = ("No", "고객명", "성별")
    saved = Mapping.auto(header).with_fields({1: "name"}, header)  # "고객명" is not recognised: the user maps it

    restored = Mapping.from_json(saved.to_json())
    moved, missing = restored.reapply(("성별", "고객명", "메모", "No"))

    assert restored == saved
    assert moved.columns == {0: "sex", 1: "name", 2: "narrative", 3: "external_id"}
    assert missing == []
    with pytest.raises(MappingError):
        Mapping.from_json('{"columns": [{"column": "B"}]}')


# --- values ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2018-03", "2018.3", "2018.03.", "2018/3", "2018년 3월", "2018년3월", "2018年3月", "03/2018", "3/2018",
     "2018-03-15", "2018. 3. 15.", "15/03/2018", "03/15/2018", "March 2018", "mar 2018", "２０１８－０３",
     "2018-03-15 09:30:00"],
)  # fmt: skip
def test_months_in_the_forms_people_write(text: str) -> None:
    assert parse_month(text, today=TODAY) == (dt.date(2018, 3, 1), False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2018-13", "1900-01 and 2026-11"), ("1899-05", "1900-01 and 2026-11"), ("2026-12", "1900-01 and 2026-11"),
     ("03/04/2018", "day first or month first"), ("2018", "not only a year"), ("18.3", "like 2018-03")],
)  # fmt: skip
def test_impossible_or_ambiguous_months_are_refused_saying_what_is_expected(text: str, expected: str) -> None:
    with pytest.raises(ValueProblem, match=expected):
        parse_month(text, today=TODAY)


def test_a_year_alone_is_january_only_where_allowed_and_says_so() -> None:
    assert parse_month("2018년", today=TODAY, year_only=True) == (dt.date(2018, 1, 1), True)
    assert parse_month("", today=TODAY, year_only=True) == (None, False)


@pytest.mark.parametrize(
    ("text", "is_age_column", "year"),
    [("1985", False, 1985), ("1985년생", False, 1985), ("85년생", False, 1985), ("34세", False, 1992),
     ("34살", False, 1992), ("age 34", False, 1992), ("만 34세", False, 1992), ("34", True, 1992),
     ("1985", True, 1985), ("1985-03-02", False, 1985), ("모름", False, None), ("", True, None)],
)  # fmt: skip
def test_birth_years_from_years_and_ages(text: str, is_age_column: bool, year: int | None) -> None:
    assert parse_birth_year(text, today=TODAY, bare_number_is_age=is_age_column) == year


@pytest.mark.parametrize("text", ["85", "34.5", "150세", "1899", "2027", "서른"])
def test_birth_years_that_are_ambiguous_or_impossible_are_refused(text: str) -> None:
    with pytest.raises(ValueProblem):
        parse_birth_year(text, today=TODAY)


@pytest.mark.parametrize(
    ("text", "code"),
    [("F", "F"), ("여", "F"), ("여자", "F"), ("female", "F"), ("女", "F"), ("Ｆ", "F"), ("M", "M"), ("남", "M"),
     ("남자", "M"), ("Male", "M"), ("男", "M"), ("", "U"), ("?", "U")],
)  # fmt: skip
def test_sex_in_korean_english_and_chinese(text: str, code: str) -> None:
    assert parse_sex(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [("함경북도", "north_hamgyong"), ("함북", "north_hamgyong"), ("Hamgyong-bukto", "north_hamgyong"),
     ("North Hamgyong", "north_hamgyong"), ("Hamgyeongbuk-do", "north_hamgyong"), ("咸镜北道", "north_hamgyong"),
     ("양강도", "ryanggang"), ("량강도", "ryanggang"), ("Ryanggang", "ryanggang"), ("Yanggang-do", "ryanggang"),
     ("평안남도", "south_pyongan"), ("S. Pyongan", "south_pyongan"), ("Pyeongannam-do", "south_pyongan"),
     ("자강도", "chagang"), ("Jagang", "chagang"), ("평양시", "pyongyang"), ("나선", "rason"),
     ("황해북도", "north_hwanghae"), ("Kangwon Province", "kangwon"), ("", "unknown"), ("미상", "unknown")],
)  # fmt: skip
def test_provinces_by_korean_english_and_romanized_names(text: str, code: str) -> None:
    assert parse_province(text) == code


@pytest.mark.parametrize("text", ["서울", "Seoul", "Hamgyong", "Liaoning"])
def test_places_that_are_not_one_north_korean_province_are_refused(text: str) -> None:
    with pytest.raises(ValueProblem, match="North Korean province"):
        parse_province(text)


# --- rows --------------------------------------------------------------------------------------------------------


def test_every_error_is_reported_with_row_column_value_and_what_was_expected() -> None:
    rows = [
        ["번호", "이름", "성별", "출생년도", "출신지", "탈북년도", "첫 접촉", "언어"],
        ["1", "가상일", "여", "85", "서울", "2018-13", "2018", "한국어"],
        ["2", "", "X Y", "1899", "", "1899-05", "", "Klingon"],
        ["3", "가상삼", "", "", "", "2019-05", "2018-04", ""],
        ["4", "Ga상", "", "", "", "03/04/2018", "", ""],
    ]

    result = check(read_table(csv_bytes(rows)))

    found = {(e.row, e.column): e for e in result.errors}
    assert set(found) == {
        (2, "출생년도"),
        (2, "출신지"),
        (2, "탈북년도"),
        (2, "첫 접촉"),
        (3, "성별"),
        (3, "출생년도"),
        (3, "탈북년도"),
        (3, "언어"),
        (3, ""),  # no name at all
        (4, "첫 접촉"),  # contact before leaving
        (5, "이름"),  # a word mixing scripts
        (5, "탈북년도"),  # day first or month first?
    }
    assert found[(2, "출생년도")].value == "85" and "four digits" in found[(2, "출생년도")].message
    assert "1900-01" in found[(2, "탈북년도")].message and "2026-11" in found[(2, "탈북년도")].message
    assert "only a year" in found[(2, "첫 접촉")].message
    assert "Klingon" in found[(3, "언어")].message
    assert result.rows == []


def test_an_error_on_the_last_of_10000_rows_is_found_quickly() -> None:
    header = ["번호", "이름", "성별", "출생년도", "출신지", "탈북 시기", "첫 접촉"]
    forms = ["2018-03", "2018.3", "2018년 3월", "03/2018", "2018.03."]
    rows = [
        [
            str(i),
            "가상" + chr(0xAC00 + i),
            "여" if i % 2 else "M",
            str(1960 + i % 40),
            "양강도",
            forms[i % 5],
            "2019-01",
        ]
        for i in range(10_000)
    ]
    rows[4_999][3] = "19.5"
    rows[-1][5] = "2018-3-"
    data = csv_bytes([header, *rows])

    seen: list[tuple[int, int]] = []
    started = time.perf_counter()
    table = read_table(data)
    result = validate(table, Mapping.auto(table.header), TODAY, progress=lambda done, total: seen.append((done, total)))
    elapsed = time.perf_counter() - started

    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (5001, "출생년도", "19.5"),
        (10001, "탈북 시기", "2018-3-"),
    ]
    assert len(result.rows) == 9_998
    assert seen[0] == (1000, 10_000) and seen[-1] == (10_000, 10_000)
    assert elapsed < 5


def test_duplicate_ids_name_both_rows() -> None:
    rows = [["ID", "이름"], ["S-1", "가상일"], ["S-2", "가상이"], ["S-1", "가상삼"], ["", "가상사"], ["S-2", "Ga상"]]

    result = check(read_table(csv_bytes(rows)))

    assert sorted((e.row, e.column, e.value) for e in result.errors) == [
        (4, "ID", "S-1"),
        (5, "ID", ""),
        (6, "ID", "S-2"),  # a repeated id is reported even on a row with other errors
        (6, "이름", "Ga상"),
    ]
    duplicate = next(e for e in result.errors if e.row == 4)
    assert "row 2" in duplicate.message
    assert [row.row for row in result.rows] == [2, 3]


def test_without_an_id_column_the_id_is_a_digest_stable_across_column_moves_and_repeats_are_caught() -> None:
    rows = [["이름", "성별", "출생년도", "메모"], ["가상일", "여", "1985", "첫 메모"], ["가상이", "남", "1990", ""]]
    moved = [[row[2], row[0], row[3], row[1]] for row in rows]
    corrected = [row[:] for row in rows]
    corrected[1][3] = "고친 메모"  # a corrected note is the same person
    repeated = [*rows, ["가상일", "여", "1985", "다른 메모"]]

    ids = [[r.external_id for r in check(read_table(csv_bytes(version))).rows] for version in (rows, moved, corrected)]
    repeats = check(read_table(csv_bytes(repeated)))

    assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == 2
    assert [(e.row, "row 2" in e.message) for e in repeats.errors] == [(4, True)]


def test_names_are_filed_by_script_row_by_row_and_made_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "가상일")  # typed on a Mac: Hangul as separate jamo
    assert len(decomposed) > 3
    rows = [
        ["이름", "영문 이름", "가명"],
        [decomposed, "", "가상별명, Byeolmyeong"],
        ["Gasang Ee", "", ""],
        ["假想三 가상삼", "Gasang Sam", ""],
        ["가상사 (Gasang Sa)", "Gasang Other", ""],  # two romanized names for one person: which one?
    ]

    result = check(read_table(csv_bytes(rows)))

    people = {row.row: row.person for row in result.rows}
    assert people[2]["name_hangul"] == "가상일" and len(people[2]["name_hangul"]) == 3
    assert people[2]["aliases"] == "가상별명\nByeolmyeong"
    assert people[3]["name_romanized"] == "Gasang Ee" and people[3]["name_hangul"] == ""
    assert (people[4]["name_chinese"], people[4]["name_hangul"], people[4]["name_romanized"]) == (
        "假想三",
        "가상삼",
        "Gasang Sam",
    )
    assert [(e.row, e.column) for e in result.errors] == [(5, "이름")]  # no conflict between columns goes unseen


def test_age_and_birth_year_must_agree_and_an_age_is_counted_from_the_import_date() -> None:
    rows = [["이름", "출생년도", "나이", "생년월일"], ["가상일", "", "40", ""], ["가상이", "1990", "20", ""]]
    rows.append(["가상삼", "", "", "1991.4.5"])
    rows.append(["가상사", "1992", "", "1991-04-05"])

    result = check(read_table(csv_bytes(rows)))

    people = {row.row: row.person for row in result.rows}
    assert people[2]["birth_year"] == 1986
    assert people[4]["birth_year"] == 1991 and people[4]["date_of_birth"] == "1991-04-05"
    assert [(e.row, e.column) for e in result.errors] == [(3, "나이"), (5, "생년월일")]


def test_a_row_wider_than_its_header_is_reported() -> None:
    data = "이름,성별\n가상일,여\n가상이,여,Inventado, extra\n".encode()

    result = check(read_table(data))

    assert [(e.row, e.value) for e in result.errors] == [(3, "Inventado")]


@pytest.mark.django_db
def test_validated_rows_are_exactly_what_person_register_accepts(keeper_a: User, station_a: Station) -> None:
    result = validate(read_table(csv_bytes(MESSY_ROWS, delimiter=";")), Mapping.auto(MESSY_ROWS[0]), TODAY)
    assert result.ok

    for row in result.rows:
        person_register(actor=keeper_a, station=station_a, **row.person)

    assert Person.objects.count() == 4
    stored = Person.objects.get(birth_year=1992)
    assert (stored.origin_province, stored.left_nk_month, stored.sex) == ("ryanggang", dt.date(2017, 11, 1), "F")
    [names] = reveal(user=keeper_a, items=[(stored, ["name_chinese", "narrative"])], purpose="test")
    assert names == {"name_chinese": "假想二", "narrative": "아이 둘;\n연락 끊김"}
