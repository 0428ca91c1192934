"""``waystation export htcds``: HTCDS field names and codes only, no direct identifier, k-anonymous, consent-bound,
refusing bad arguments without writing anything."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given, settings
from hypothesis import strategies as st

from waystation import synth
from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create
from waystation.audit.models import AuditEvent
from waystation.cases.choices import ConsentScope, Province
from waystation.cases.htcds import ControlMethod, ExploitationType, PerpetratorRole, RecruitmentMethod
from waystation.cases.models import Partner, Person
from waystation.cases.services import consent_record, episode_add, person_register, person_set_photo
from waystation.interop.htcds_export import (
    EXTENSION_COLUMNS,
    QUASI_IDENTIFIERS,
    ExportError,
    Source,
    anonymise,
)
from waystation.network.models import Station
from waystation.testing import vault as test_vault
from waystation.vault import userkeys

pytestmark = pytest.mark.django_db

FIELD_STANDARDS = Path(__file__).parent / "data" / "htcds_field_standards_2.0.csv"
CANARY = "CANARY-7Q3X"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FICTIONAL = "Gasang Saram (fictional)"


def htcds_fields() -> dict[str, set[str] | None]:
    """HTCDS 2.0 field name -> its picklist values (None for a field without a closed list), from IOM's field list."""
    fields: dict[str, set[str] | None] = {}
    with FIELD_STANDARDS.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name, values = row["Field Name including Prefix"], row["Value Names (if picklist)"] or ""
            if name and name != "N/A":
                closed = "Picklist" in (row["Field Type"] or "") and "ISO" not in values
                fields[name] = {v.strip() for v in values.splitlines() if v.strip()} if closed else None
    return fields


def export(tmp_path: Path, *args: str) -> tuple[list[dict[str, str]], str, Path]:
    out = tmp_path / "htcds.csv"
    stdout = io.StringIO()
    call_command("export", "htcds", "--out", str(out), *args, stdout=stdout)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, stdout.getvalue(), out


def consent(actor: User, person: Person, given: bool = True, scope: str = ConsentScope.STATISTICS) -> None:
    consent_record(actor=actor, person=person, scope=scope, given=given)


def arrival(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sex": "F",
        "birth_year": 1994,
        "origin_province": Province.RYANGGANG,
        "left_nk_month": dt.date(2019, 3, 1),
        "first_contact_month": dt.date(2024, 5, 1),
    }
    return values | overrides


def test_rows_hold_only_htcds_fields_and_codes_and_no_identifier(
    tmp_path: Path, keeper_a: User, coordinator: User, station_a: Station
) -> None:
    persons = []
    for i in range(3):
        person = person_register(
            actor=keeper_a,
            station=station_a,
            **arrival(),
            name_hangul=f"{CANARY}-한글-{i}",
            name_romanized=f"{CANARY}-roman-{i}",
            name_chinese=f"{CANARY}-中文-{i}",
            aliases=f"{CANARY}-alias-{i}",
            date_of_birth=f"1994-02-1{i}",  # must be a real date: its own canary
            contacts=f"{CANARY}-+82-10-0000-000{i}",
            narrative=f"{CANARY}-narrative-{i}",
        )
        consent(coordinator, person)
        consent(coordinator, person, scope=ConsentScope.PHOTOS)
        person_set_photo(actor=coordinator, person=person, data=PNG_MAGIC + CANARY.encode() + bytes(64))
        episode_add(
            actor=coordinator,
            person=person,
            exploitation_type=ExploitationType.VENUE_BASED_PROSTITUTION,
            start_month=dt.date(2020, 1, 1),
            was_sold=True,
            perpetrator_roles=[PerpetratorRole.SOLD_INDIVIDUAL, PerpetratorRole.BOUGHT_INDIVIDUAL],
            control_methods=[ControlMethod.DEBT_BONDAGE, ControlMethod.RESTRICTS_MOVEMENT],
            recruitment_method=RecruitmentMethod.OTHER,
            trafficker_relation="intimate_partner",
            note=f"{CANARY}-note-{i}",
        )
        episode_add(
            actor=coordinator,
            person=person,
            exploitation_type=ExploitationType.FORCED_MARRIAGE,
            start_month=dt.date(2021, 1, 1),
            note=f"{CANARY}-note-b-{i}",
        )
        persons.append(person)

    rows, _stdout, out = export(tmp_path, "--k", "3")

    text = out.read_text(encoding="utf-8")
    assert CANARY not in text
    assert "1994-02-1" not in text and "1994" not in text  # neither the date of birth nor the birth year
    for person in persons:
        assert person.case_code not in text and person.case_code.replace("-", "") not in text
        assert str(person.id) not in text and person.id.hex not in text
    assert len(rows) == 3
    fields = htcds_fields()
    for row in rows:
        for column, value in row.items():
            assert column in fields or column in EXTENSION_COLUMNS, column
            allowed = fields.get(column)
            if allowed is not None and value:
                assert set(value.split(";")) <= allowed, (column, value)
    row = rows[0]
    assert row["prs_Gender"] == "Feminine" and row["prs_Citizenship"] == "KP"
    assert row["vic_TypeOfExploitation"] == "ForcedMarriage;SexualExploitation"
    assert row["vic_TypeOfSexExploitation"] == "Prostitution"
    assert row["vic_MethodsOfControl"] == "DebtBondage;Other"
    assert row["per_RoleInProcess"] == "BoughtIndividual;SoldIndividual"
    assert row["vic_RelationshipToTrafficker"] == "Acquainted"
    assert len({r["ext_RowId"] for r in rows}) == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_only_persons_consenting_to_anonymous_statistics_are_exported(
    tmp_path: Path, keeper_a: User, coordinator: User, station_a: Station
) -> None:
    partner = Partner.objects.create(name="Fictional partner shelter", country="KR")
    for _ in range(3):
        consent(coordinator, person_register(actor=keeper_a, station=station_a, **arrival(name_romanized=FICTIONAL)))
    # Three men, identical to each other: exported together if consent were ignored.
    withdrawn = person_register(actor=keeper_a, station=station_a, **arrival(sex="M", name_romanized=FICTIONAL))
    consent(coordinator, withdrawn)
    consent(coordinator, withdrawn, given=False)
    sharing_only = person_register(actor=keeper_a, station=station_a, **arrival(sex="M", name_romanized=FICTIONAL))
    consent_record(actor=coordinator, person=sharing_only, scope=ConsentScope.SHARING, given=True, partner=partner)
    person_register(actor=keeper_a, station=station_a, **arrival(sex="M", name_romanized=FICTIONAL))  # never asked

    rows, stdout, _out = export(tmp_path, "--k", "3")

    assert [row["prs_Gender"] for row in rows] == ["Feminine"] * 3
    assert "Left out for lack of consent to anonymous statistics: 3." in stdout


@pytest.fixture
def synth_population(settings: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """400 fictional persons from the calibrated generator (cheap staff key wrapping, as in test_synth)."""
    monkeypatch.setattr(userkeys, "KDF", test_vault.FIXTURE_KDF)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    test_vault.ensure_vault()
    user, _password = user_create(actor=None, username="coordinator", role=Role.COORDINATOR, password="x" * 20)
    test_vault.give_index_key(user)
    synth.generate(persons=400, seed=11, index_key=test_vault.index_key(), today=dt.date(2026, 6, 15))
    return Person.objects.count()


def test_every_quasi_identifier_combination_occurs_at_least_k_times_and_the_report_adds_up(
    tmp_path: Path, synth_population: int
) -> None:
    rows, stdout, _out = export(tmp_path, "--json")
    report = json.loads(stdout)

    groups = Counter(tuple(row[q] for q in QUASI_IDENTIFIERS) for row in rows)
    assert groups and min(groups.values()) >= 11
    assert report["k"] == 11 and report["exported"] == len(rows)
    assert report["exported"] + report["suppressed"] + report["not_consenting"] == synth_population
    assert report["not_consenting"] > 0  # the generator leaves some without consent to statistics
    # The generalisation reported is the one in the file.
    age_width = {"5-year band": 5, "10-year band": 10}.get(report["generalisation"]["ext_AgeBandAtFirstContact"])
    for row in rows:
        match = re.fullmatch(r"(\d+)-(\d+)", row["ext_AgeBandAtFirstContact"])
        if age_width and match:
            assert int(match[2]) - int(match[1]) + 1 == age_width
    event = AuditEvent.objects.filter(action="export.htcds").get()
    assert event.actor is None
    assert event.details["exported"] == len(rows) and event.details["suppressed"] == report["suppressed"]


def test_the_text_report_names_generalisation_and_suppression(tmp_path: Path, synth_population: int) -> None:
    rows, stdout, _out = export(tmp_path, "--k", "25")

    def number(pattern: str) -> int:
        match = re.search(pattern, stdout)
        assert match, (pattern, stdout)
        return int(match[1].replace(",", ""))

    assert number(r"([\d,]+) records, k = 25\.") == len(rows)
    suppressed = number(r"Suppressed: ([\d,]+) records in groups smaller than 25\.")
    not_consenting = number(r"lack of consent to anonymous statistics: ([\d,]+)\.")
    assert len(rows) + suppressed + not_consenting == synth_population
    assert re.search(r"Generalised: ext_AgeBandAtFirstContact to [a-z0-9 -]+, ext_YearOfFirstContact to ", stdout)
    assert min(Counter(tuple(row[q] for q in QUASI_IDENTIFIERS) for row in rows).values()) >= 25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "1"], "at least 2"),
        (["--k", "0"], "at least 2"),
        (["--k", "many"], "invalid int value"),
    ],
)
def test_bad_k_is_refused_and_nothing_is_written(
    tmp_path: Path, args: list[str], message: str, keeper_a: User, station_a: Station
) -> None:
    out = tmp_path / "htcds.csv"
    out.write_text("earlier file\n", encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("export", "htcds", "--out", str(out), *args)
    assert out.read_text(encoding="utf-8") == "earlier file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["htcds.csv"]
    assert not AuditEvent.objects.filter(action="export.htcds").exists()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("{tmp}/no-such-folder/htcds.csv", "does not exist"),
        ("{tmp}", "is a folder"),
        ("{tmp}/a-file.txt/htcds.csv", "does not exist"),
        ("/proc/htcds.csv", "Cannot write"),  # a folder nobody, root included, can create files in
    ],
)
def test_an_unwritable_path_is_refused_and_nothing_is_written(tmp_path: Path, out: str, message: str) -> None:
    (tmp_path / "a-file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("export", "htcds", "--out", out.format(tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file.txt"]
    assert not AuditEvent.objects.filter(action="export.htcds").exists()


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export", "ctdc", "--out", str(tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []


sources = st.builds(
    Source,
    sex=st.sampled_from(["F", "M", "U"]),
    age=st.one_of(st.none(), st.integers(0, 80)),
    province=st.sampled_from(Province.values),
    year=st.one_of(st.none(), st.integers(2000, 2026)),
    attributes=st.just({"cas_Status": "Active"}),
)


@settings(max_examples=60, deadline=None)
@given(population=st.lists(sources, max_size=120), k=st.integers(2, 15))
def test_anonymise_keeps_only_groups_of_k_and_accounts_for_every_record(population: list[Source], k: int) -> None:
    result = anonymise(population, k)
    groups = Counter(tuple(row[q] for q in QUASI_IDENTIFIERS) for row in result.rows)
    assert all(size >= k for size in groups.values())
    assert len(result.rows) + result.suppressed == len(population)


def test_anonymise_refuses_k_below_two() -> None:
    with pytest.raises(ExportError):
        anonymise([], 1)
