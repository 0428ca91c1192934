"""``waystation import FILE`` as a coordinator would run it: dry run, import, re-import, refusals, bad files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from intake_helpers import MESSY_ROWS, many_rows, write

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.intake.models import SavedMapping
from waystation.network.models import Station
from waystation.testing.spreadsheets import csv_bytes, xlsx_bytes

PASSWORD = "lantern-river-morning-42"  # the personas' (tests/conftest.py)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYSTATION_PASSWORD", PASSWORD)
    monkeypatch.setenv("LANGUAGE", "en")


@pytest.fixture
def stations(station_a: Station, station_b: Station) -> None:
    return None


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), str(error.value)


def test_dry_run_then_import_then_reimport(coordinator: User, stations: None, tmp_path: Path) -> None:
    path = write(tmp_path / "명부.xlsx", xlsx_bytes(MESSY_ROWS))
    before = Person.objects.count()

    out, _err = run(str(path), "--as", coordinator.username, "--dry-run")
    assert "5 persons would be created" in out and "Nothing was written" in out
    assert "row 4, column “탈북 시기”, value “2016”" in out  # the year-only warning, located
    assert Person.objects.count() == before

    out, _err = run(str(path), "--as", coordinator.username)
    assert "5 persons created" in out and "No consent is recorded" in out
    assert Person.objects.count() == before + 5

    data = json.loads(run(str(path), "--as", coordinator.username, "--json")[0])
    assert (data["created"], data["already_imported"], data["ok"]) == (0, 5, True)
    assert Person.objects.count() == before + 5


def test_errors_are_listed_and_nothing_is_written(coordinator: User, stations: None, tmp_path: Path) -> None:
    rows = [*MESSY_ROWS, ["A-006", "가상육", "Q", "1985", "", "", "", "", "", "ALDER"]]
    path = write(tmp_path / "r.csv", csv_bytes(rows))
    before = (Person.objects.count(), AuditEvent.objects.count())

    out, message = refused(str(path), "--as", coordinator.username)

    assert "Nothing was imported: 1 problem" in message
    assert "row 7, column “성별”, value “Q”" in out
    assert (Person.objects.count(), AuditEvent.objects.count()) == before
    data = json.loads(refused(str(path), "--as", coordinator.username, "--json")[0])
    assert [(e["row"], e["column"], e["value"]) for e in data["errors"]] == [(7, "성별", "Q")]


def test_errors_in_korean(coordinator: User, stations: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "ko_KR.UTF-8")
    rows = [MESSY_ROWS[0], ["A-001", "가상1", "여", "", "", "", "", "", "", "ALDER"]]
    out, _message = refused(str(write(tmp_path / "r.csv", csv_bytes(rows))), "--as", coordinator.username)
    assert "이름에는 글자만 쓸 수 있습니다" in out


@pytest.mark.parametrize("role", ["keeper", "caseworker", "analyst", "auditor", "administrator", "inactive"])
def test_only_a_coordinator_may_import(role: str, personas: dict[str, User], stations: None, tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS))
    before = Person.objects.count()
    _out, message = refused(str(path), "--as", personas[role].username)
    assert "Only a coordinator" in message
    assert Person.objects.count() == before


def test_a_wrong_password_is_refused(
    coordinator: User, stations: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAYSTATION_PASSWORD", "not-the-password")
    before = Person.objects.count()
    _out, message = refused(str(write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS))), "--as", coordinator.username)
    assert "Wrong password" in message and Person.objects.count() == before


def test_map_and_saved_mapping(coordinator: User, stations: None, tmp_path: Path) -> None:
    # Unrecognised headers: mapped by hand, saved, and reused on a file whose columns moved.
    rows = [["Ref", "Who", "Gender", "Where"], ["Z-1", "가상일", "여", "ALDER"], ["Z-2", "Gasang Ee", "M", "ALDER"]]
    path = write(tmp_path / "odd.csv", csv_bytes(rows))
    out, _err = run(
        str(path), "--as", coordinator.username, "--dry-run", "--map", "Who=name", "--map", "Gender=sex",
        "--map", "A=external_id", "--map", "Where=station", "--save-mapping", "odd register",
    )  # fmt: skip
    assert "2 persons would be created" in out
    assert SavedMapping.objects.filter(name="odd register").exists()
    moved = write(tmp_path / "odd2.csv", csv_bytes([[row[i] for i in (3, 2, 1, 0)] for row in rows]))
    out, _err = run(str(moved), "--as", coordinator.username, "--mapping", "odd register", "--source", "odd")
    assert "2 persons created" in out


def test_a_column_mapped_twice_is_a_clear_message(coordinator: User, stations: None, tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS))
    before = Person.objects.count()
    out, _message = refused(str(path), "--as", coordinator.username, "--map", "비고=sex")
    assert "“성별” (C)" in out and "“비고” (I)" in out and "choose one" in out
    assert Person.objects.count() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a CSV or XLSX"),
        (b"%PDF-1.7\n", "not a CSV or XLSX"),
        ("이름,성별\n가상,여\n".encode("utf-16-le"), "not a CSV or XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old Excel file"),
        (b"name,sex\n" + b"a" * 20_000 + b",F\n", "longer than"),
    ],
    ids=["png", "pdf", "utf16-without-bom", "xls", "huge-cell"],
)
def test_bad_files_are_refused_with_a_clear_message(
    content: bytes, expected: str, coordinator: User, stations: None, tmp_path: Path
) -> None:
    before = Person.objects.count()
    _out, message = refused(str(write(tmp_path / "bad.csv", content)), "--as", coordinator.username)
    assert expected in message and "Traceback" not in message
    assert Person.objects.count() == before


def test_a_cp949_file_from_korean_excel_imports(coordinator: User, stations: None, tmp_path: Path) -> None:
    rows = [row for row in MESSY_ROWS if "假想" not in row[1]]  # Chinese characters outside CP949's set? keep simple
    out, _err = run(str(write(tmp_path / "k.csv", csv_bytes(rows, encoding="cp949"))), "--as", coordinator.username)
    assert f"{len(rows) - 1} persons created" in out


def test_a_formula_without_a_saved_value_is_refused(coordinator: User, stations: None, tmp_path: Path) -> None:
    rows: list[list[object]] = [*MESSY_ROWS, ["A-007", "가상칠", "여", "=1980+5", "", "", "", "", "", "ALDER"]]
    before = Person.objects.count()
    _out, message = refused(str(write(tmp_path / "f.xlsx", xlsx_bytes(rows))), "--as", coordinator.username)  # type: ignore[arg-type]
    assert "formula" in message and "D7" in message
    assert Person.objects.count() == before


def test_a_100_mb_file_is_refused_before_it_is_read(coordinator: User, stations: None, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(b"name,sex\n")
        handle.truncate(100 * 1024 * 1024)  # a sparse 100 MB file: its size is what matters
    _out, message = refused(str(path), "--as", coordinator.username)
    assert "larger than 50 MB" in message


def test_progress_goes_to_stderr_and_the_report_to_stdout(coordinator: User, stations: None, tmp_path: Path) -> None:
    path = write(tmp_path / "many.csv", csv_bytes(many_rows(3000)))
    out, err = run(str(path), "--as", coordinator.username, "--json")
    assert json.loads(out)["created"] == 3000  # stdout is the JSON report alone
    assert "checking rows: 3,000/3,000" in err and "writing persons: 3,000/3,000" in err
