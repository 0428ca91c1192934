"""The import service end to end: messy files become registered, encrypted, indexed persons, or nothing at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from intake_helpers import MESSY_ROWS, many_rows, write

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.intake.models import ImportedRecord, ImportRun, SavedMapping
from waystation.intake.services import ImportDenied, ImportRefused, import_run, saved_mapping_save, source_open
from waystation.interop.columns import Mapping
from waystation.network.models import Movement, Station
from waystation.network.services import station_set_status
from waystation.testing.spreadsheets import csv_bytes, xlsx_bytes
from waystation.testing.vault import opened
from waystation.vault import blind
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap, NameIndex

TODAY = dt.date(2026, 11, 28)


def run(user: User, path: Path, **kwargs: object) -> object:
    source = source_open(path)
    mapping = Mapping.auto(source.table.header)
    return import_run(actor=user, source=source, mapping=mapping, today=TODAY, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def stations(station_a: Station, station_b: Station) -> tuple[Station, Station]:
    return station_a, station_b


def persons_now() -> int:
    return Person.objects.count()


def test_a_messy_csv_is_imported_encrypted_indexed_and_placed(
    coordinator: User, keeper_a: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    before = persons_now()
    path = write(tmp_path / "명부 2026-11.csv", b"\xef\xbb\xbf" + csv_bytes(MESSY_ROWS, delimiter=";"))

    report = run(coordinator, path)

    assert report.created == 5 and report.errors == []  # type: ignore[attr-defined]
    assert persons_now() == before + 5
    assert ImportedRecord.objects.filter(run_id=report.run_id).count() == 5  # type: ignore[attr-defined]
    # ... the first row: find her through the blind index, as a search would.
    ids = blind.matching(keyring_for(coordinator), "가상일")
    assert len(ids) == 1
    first = Person.objects.get(id=next(iter(ids)))
    assert opened(first, "name_romanized") == "Gasang Il"
    assert (first.sex, first.birth_year, first.origin_province) == ("F", 1985, "north_hamgyong")
    assert first.left_nk_month == dt.date(2018, 3, 1) and first.first_contact_month == dt.date(2018, 5, 1)
    assert first.statistics_consent is None  # no consent invented
    with connection.cursor() as cursor:  # what the database holds: a ciphertext, not the name
        cursor.execute("SELECT name_hangul FROM cases_person WHERE case_code = %s", [first.case_code])
        (raw,) = cursor.fetchone()
    assert "가상일" not in raw and raw.startswith("w1:")
    # Her place: station A (written "alder" on another row: code names are matched case-insensitively).
    movement = Movement.objects.get(person=first)
    assert movement.to_station == stations[0] and movement.status == "arrived"
    # Her key is wrapped for the coordinator, the keeper of A and the recovery key.
    holders = set(CaseKeyWrap.objects.filter(person=first).values_list("holder_id", flat=True))
    assert holders == {coordinator.pk, keeper_a.pk, None}
    run_row = ImportRun.objects.get(pk=report.run_id)  # type: ignore[attr-defined]
    assert (run_row.created, run_row.format, run_row.encoding) == (5, "csv", "utf-8-sig")
    event = AuditEvent.objects.get(pk=run_row.audit_event_id)
    assert event.action == "intake.import" and event.details["created"] == 5


def test_an_import_writes_each_persons_row_once(
    coordinator: User, keeper_a: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    """Her place (kept by the triggers of cases 0010) is right when her row is inserted: her intake arrival is
    written first, so no trigger rewrites her sealed row afterwards (counted on SQLite, with a temporary trigger)."""
    path = write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS))
    counting = connection.vendor == "sqlite"
    if counting:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE person_writes (n INTEGER)")
            cursor.execute(
                "CREATE TEMP TRIGGER count_person_writes AFTER UPDATE ON main.cases_person "
                "BEGIN INSERT INTO person_writes VALUES (1); END"
            )
    try:
        report = run(coordinator, path)
        if counting:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM person_writes")
                (rewrites,) = cursor.fetchone()
            assert rewrites == 0
    finally:
        if counting:
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER count_person_writes")
                cursor.execute("DROP TABLE person_writes")
    assert report.created == 5  # type: ignore[attr-defined]
    ids = ImportedRecord.objects.filter(run_id=report.run_id).values("person_id")  # type: ignore[attr-defined]
    places = dict(Person.objects.filter(id__in=ids).values_list("id", "place_id"))
    arrivals = dict(Movement.objects.filter(person_id__in=ids).values_list("person_id", "to_station_id"))
    assert len(places) == 5 and places == arrivals  # each at her intake station


def test_no_name_of_the_file_its_sheet_or_its_register_is_stored_anywhere(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    # A station names its file after the woman it is about: that name must not reach the database, in any table.
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "가상영희 혜산"
    for row in MESSY_ROWS:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path = write(tmp_path / "gasang_younghee_hyesan.xlsx", buffer.getvalue())

    first = run(coordinator, path)
    again = run(coordinator, path)  # still recognised as the same file, by its keyed digest
    other = run(coordinator, write(tmp_path / "copy.xlsx", buffer.getvalue()), source_key="gasang_younghee 2")

    assert (first.created, again.already_imported, other.already_imported) == (5, 5, 5)  # type: ignore[attr-defined]
    plain_digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    secrets = ("gasang_younghee", "가상영희", plain_digest)
    stored = json.dumps(
        [list(ImportRun.objects.values()), list(ImportedRecord.objects.values()), list(AuditEvent.objects.values())],
        default=str,
        ensure_ascii=False,
    )
    assert [s for s in secrets if s in stored] == []
    if connection.vendor == "sqlite":  # the whole database, every table, as a file copy would hold it
        dump = "\n".join(connection.connection.iterdump())
        assert [s for s in secrets if s in dump] == []
    digests = set(ImportRun.objects.values_list("register", "digest"))
    assert len(digests) == 1 and all(len(d) == 32 for pair in digests for d in pair)  # one register, one file


def test_an_error_on_the_last_row_writes_nothing_and_names_row_column_value(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    rows = [*MESSY_ROWS, ["A-006", "가상육", "여", "19O5", "함경북도", "2018.13", "", "", "", "ALDER"]]
    path = write(tmp_path / "bad.xlsx", xlsx_bytes(rows))
    counts = (persons_now(), NameIndex.objects.count(), CaseKeyWrap.objects.count(), AuditEvent.objects.count())

    with pytest.raises(ImportRefused) as refused:
        run(coordinator, path)

    errors = refused.value.report.errors
    assert {(e.row, e.column, e.value) for e in errors} == {(7, "출생년도", "19O5"), (7, "탈북 시기", "2018.13")}
    assert all(e.message for e in errors)
    after = (persons_now(), NameIndex.objects.count(), CaseKeyWrap.objects.count(), AuditEvent.objects.count())
    assert after == counts
    assert not ImportRun.objects.exists()


def test_reimporting_the_same_file_creates_nobody_twice(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    path = write(tmp_path / "register.csv", csv_bytes(MESSY_ROWS))
    run(coordinator, path)
    before = persons_now()

    again = run(coordinator, path)
    dry = run(coordinator, path, dry_run=True)

    assert (again.created, again.already_imported) == (0, 5)  # type: ignore[attr-defined]
    assert (dry.to_create, dry.already_imported) == (0, 5)  # type: ignore[attr-defined]
    assert persons_now() == before
    # A corrected copy with one new row: only that row is created.
    new_row = ["A-009", "가상구", "여", "", "", "", "", "", "", "ALDER"]
    longer = write(tmp_path / "register.csv", csv_bytes([*MESSY_ROWS, new_row]))
    third = run(coordinator, longer)
    assert (third.created, third.already_imported) == (1, 5)  # type: ignore[attr-defined]


def test_the_same_bytes_under_another_name_or_register_create_nobody_twice(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    data = csv_bytes(MESSY_ROWS)
    run(coordinator, write(tmp_path / "register.csv", data))
    before = persons_now()
    copy = write(tmp_path / "register (1).csv", data)  # what a browser calls a second download
    again = run(coordinator, copy)
    other_register = run(coordinator, copy, source_key="someone's new register name")
    assert (again.created, again.already_imported) == (0, 5)  # type: ignore[attr-defined]
    assert (other_register.created, other_register.already_imported) == (0, 5)  # type: ignore[attr-defined]
    assert persons_now() == before


def test_a_file_without_ids_is_recognised_again_by_its_rows(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    rows = [[cell for i, cell in enumerate(row) if i != 0] for row in MESSY_ROWS]  # no id column
    path = write(tmp_path / "noids.csv", csv_bytes(rows))
    run(coordinator, path)
    # The same rows, columns reordered and re-saved as XLSX under the same register name.
    moved = [row[::-1] for row in rows]
    again = run(coordinator, write(tmp_path / "noids.xlsx", xlsx_bytes(moved)))
    assert (again.created, again.already_imported) == (0, 5)  # type: ignore[attr-defined]


def test_dry_run_reports_and_writes_nothing(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    before = (persons_now(), AuditEvent.objects.count())
    report = run(coordinator, write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS)), dry_run=True)
    assert (report.to_create, report.created, report.errors) == (5, 0, [])  # type: ignore[attr-defined]
    assert [(w.row, w.column) for w in report.warnings] == [(4, "탈북 시기")]  # type: ignore[attr-defined]
    assert (persons_now(), AuditEvent.objects.count()) == before


def test_unknown_inactive_and_missing_stations_are_errors_naming_the_row(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    station_set_status(actor=coordinator, station=stations[1], status="compromised")
    rows = [MESSY_ROWS[0], MESSY_ROWS[1], MESSY_ROWS[3], [*MESSY_ROWS[4][:-1], "NOWHERE"], [*MESSY_ROWS[5][:-1], ""]]
    before = persons_now()
    with pytest.raises(ImportRefused) as refused:
        run(coordinator, write(tmp_path / "s.csv", csv_bytes(rows)))
    found = {(e.row, e.value): e.message for e in refused.value.report.errors}
    assert set(found) == {(3, "BIRCH"), (4, "NOWHERE"), (5, "")}
    assert "not active" in found[(3, "BIRCH")] and "NOWHERE" in found[(4, "NOWHERE")]
    assert persons_now() == before
    # A default station fills the blank one (and only that one).
    report = run(coordinator, write(tmp_path / "t.csv", csv_bytes([rows[0], rows[1], rows[4]])), station="ALDER")
    assert report.created == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["keeper", "caseworker", "analyst", "auditor", "administrator", "inactive"])
def test_only_a_coordinator_may_import(
    role: str, personas: dict[str, User], stations: tuple[Station, Station], tmp_path: Path
) -> None:
    before = persons_now()
    with pytest.raises(ImportDenied):
        run(personas[role], write(tmp_path / "r.csv", csv_bytes(MESSY_ROWS)))
    assert persons_now() == before


def test_ten_thousand_rows_import(coordinator: User, stations: tuple[Station, Station], tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", csv_bytes(many_rows(10_000)))
    before = persons_now()
    phases: list[str] = []

    report = run(coordinator, path, progress=lambda phase, done, total: phases.append(phase))

    assert report.created == 10_000  # type: ignore[attr-defined]
    assert persons_now() == before + 10_000
    assert Movement.objects.filter(person__in=ImportedRecord.objects.values("person")).count() == 10_000
    assert CaseKeyWrap.objects.filter(holder=None).count() >= 10_000
    assert {"check", "write", "keys"} <= set(phases)


def test_a_file_without_stations_and_no_default_is_one_error_not_one_per_row(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    rows = [row[:-1] for row in MESSY_ROWS]  # no station column
    report = run(coordinator, write(tmp_path / "n.csv", csv_bytes(rows)), dry_run=True)
    assert [(e.row, e.column) for e in report.errors] == [(0, "")]  # type: ignore[attr-defined]
    assert "default station" in report.errors[0].message  # type: ignore[attr-defined]
    assert run(coordinator, write(tmp_path / "n.csv", csv_bytes(rows)), station="ALDER").created == 5  # type: ignore[attr-defined]


def test_a_file_without_a_header_row_stores_none_of_its_first_row(
    coordinator: User, stations: tuple[Station, Station], tmp_path: Path
) -> None:
    # The first row of a register without titles is a person: mapped by hand, her cells must not be kept as titles.
    first = ["A-900", "가상첫줄", "여", "1988", "량강도", "2018.3", "2019-05", "", "010-5555-0142", "ALDER"]
    second = ["A-901", "가상둘째", "여", "1990", "량강도", "2017.1", "2019-06", "", "", "ALDER"]
    path = write(tmp_path / "no-titles.csv", csv_bytes([first, second]))
    source = source_open(path)
    fields = ("external_id", "name", "sex", "birth_year", "origin_province", "left_nk_month")
    fields += ("first_contact_month", "languages", "narrative", "station")
    by_hand = Mapping(dict(enumerate(fields)), dict(enumerate(source.table.header)))
    saved_mapping_save(actor=coordinator, name="no titles", mapping=by_hand)
    report = import_run(actor=coordinator, source=source, mapping=by_hand, today=TODAY)
    stored = json.dumps(
        [ImportRun.objects.get(pk=report.run_id).mapping, SavedMapping.objects.get(name="no titles").mapping],
        ensure_ascii=False,
    )
    for cell in ("가상첫줄", "010-5555-0142", "A-900"):
        assert cell not in stored
    assert "narrative" in stored and "origin_province" in stored  # the mapping itself is kept
