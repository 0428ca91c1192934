"""The rules of the route services: each refusal says why, on which field, and writes nothing; the allowed path works.

"Nothing written" is checked the strict way: the row count of every table of the project (audit events included),
the person's row and their movements are the same before and after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.choices import CaseStatus
from waystation.cases.models import Person
from waystation.cases.services import person_set_status
from waystation.lib.errors import ServiceError
from waystation.network import services
from waystation.network.forms import StationForm
from waystation.network.models import Movement, MovementStatus, Station, StationStatus
from waystation.network.selectors import open_movement
from waystation.testing.db import row_counts

CHOICE = "Select a valid choice. {} is not one of the available choices."
CODE_NAME = "Use 1 to 40 letters, digits, hyphens (-) or underscores (_), without spaces."
RESERVED = "This word is reserved: choose another code name."
NOT_OPEN = "This case is no longer open."
UNACCOUNTED = "This person is detained or missing: record where they are first."
NO_DURATION = "Give an expected arrival: there is no usual duration for this leg."


def snapshot() -> dict[str, Any]:
    counts: dict[str, Any] = dict(row_counts())
    counts["persons"] = list(Person.objects.order_by("pk").values())
    counts["movements"] = list(Movement.objects.order_by("pk").values())
    counts["stations"] = list(Station.objects.order_by("pk").values())
    return counts


@contextmanager
def refused(message: str, field: str | None = None) -> Iterator[None]:
    """The block must raise a ServiceError with exactly this message and field, and change nothing."""
    before = snapshot()
    with pytest.raises(ServiceError) as caught:
        yield
    assert caught.value.message == message
    assert caught.value.field == field
    assert snapshot() == before, "a refused call wrote something"


def status(person: Person) -> str:
    person.refresh_from_db()
    return person.status


def soon(days: int = 3) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


@pytest.fixture
def under_way(coordinator: User, person_at_b: Person, station_a: Station) -> Movement:
    """person_at_b, on her way from B to A (a leg of 4 days)."""
    movement = services.movement_plan(actor=coordinator, person=person_at_b, to_station=station_a, depart_now=True)
    person_at_b.refresh_from_db()
    return Movement.objects.select_related("person", "from_station", "to_station").get(pk=movement.pk)


# --- stations ---------------------------------------------------------------------------------------------------------


def station_fields(**overrides: Any) -> dict[str, Any]:
    return {"code_name": "OAK", "country": "CN", "region": "Jilin", "kind": "safe_house", "capacity": 3, **overrides}


@pytest.mark.parametrize(
    ("code_name", "message"),
    [
        ("OAK TREE", CODE_NAME),
        ("oak/tree", CODE_NAME),
        ("oak.tree", CODE_NAME),
        ("참나무", CODE_NAME),
        ("O" * 41, CODE_NAME),
        ("OAK\n", None),  # stripped: accepted as OAK (the form strips as well)
        ("new", RESERVED),
        ("NEW", RESERVED),
        ("   ", "Give the station a code name."),
        ("alder", "A station with this code name exists already."),  # ALDER, whatever the case
    ],
)
def test_station_code_names_are_plain_and_unique(
    coordinator: User, station_a: Station, station_b: Station, code_name: str, message: str | None
) -> None:
    if message is None:
        assert services.station_create(actor=coordinator, **station_fields(code_name=code_name)).code_name == "OAK"
        return
    with refused(message, "code_name"):
        services.station_create(actor=coordinator, **station_fields(code_name=code_name))
    with refused(message, "code_name"):
        services.station_update(actor=coordinator, station=station_b, keepers=[], **station_fields(code_name=code_name))


@pytest.mark.parametrize(
    ("code_name", "message"),
    [("OAK TREE", CODE_NAME), ("oak/tree", CODE_NAME), ("참나무", CODE_NAME), ("new", RESERVED), ("New", RESERVED)],
)
def test_the_station_form_says_the_same_about_code_names(db: None, code_name: str, message: str) -> None:
    form = StationForm(data=station_fields(code_name=code_name))
    assert not form.is_valid()
    assert form.errors["code_name"] == [message]


def test_the_station_form_accepts_a_plain_code_name(db: None) -> None:
    form = StationForm(data=station_fields(code_name="Oak-2_b"))
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"country": "Atlantis"}, "country", CHOICE.format("Atlantis")),
        ({"kind": "castle"}, "kind", CHOICE.format("castle")),
        ({"capacity": -1}, "capacity", "Capacity must be between 0 and 500."),
        ({"capacity": 501}, "capacity", "Capacity must be between 0 and 500."),
        ({"capacity": "3"}, "capacity", "Capacity must be between 0 and 500."),
        ({"region": "  "}, "region", "Give the region (coarse, never an address)."),
    ],
)
def test_station_fields_are_checked(
    coordinator: User, station_a: Station, overrides: dict[str, Any], field: str, message: str
) -> None:
    with refused(message, field):
        services.station_create(actor=coordinator, **station_fields(**overrides))
    with refused(message, field):
        services.station_update(actor=coordinator, station=station_a, keepers=[], **station_fields(**overrides))


def test_a_station_update_changes_only_the_editable_fields(
    coordinator: User, keeper_a: User, keeper_b: User, station_a: Station
) -> None:
    with pytest.raises(TypeError):  # status changes go through station_set_status
        services.station_update(  # type: ignore[call-arg]
            actor=coordinator, station=station_a, keepers=[keeper_a], status="closed", **station_fields()
        )
    station_a.refresh_from_db()
    assert station_a.status == StationStatus.ACTIVE and station_a.code_name == "ALDER"

    services.station_update(
        actor=coordinator,
        station=station_a,
        keepers=[keeper_a, keeper_b],
        **station_fields(code_name="Alder-2", region=" Yunnan ", capacity=500),
    )
    station_a.refresh_from_db()
    assert (station_a.code_name, station_a.region, station_a.capacity) == ("Alder-2", "Yunnan", 500)
    assert set(station_a.keepers.all()) == {keeper_a, keeper_b}
    event = AuditEvent.objects.filter(action="station.update").latest("id")
    assert event.details == {"fields": ["capacity", "code_name", "keepers"]}

    # Keeping its own code name is not a clash with itself.
    services.station_update(actor=coordinator, station=station_a, keepers=[], **station_fields(code_name="Alder-2"))


# --- movements: whose case may move -----------------------------------------------------------------------------------


@pytest.mark.parametrize("unaccounted", [CaseStatus.DETAINED, CaseStatus.MISSING])
def test_a_detained_or_missing_person_is_not_sent_on(
    coordinator: User, person_at_a: Person, station_c: Station, unaccounted: str
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    person_set_status(actor=coordinator, person=person_at_a, status=unaccounted)

    with refused(UNACCOUNTED):
        services.movement_depart(actor=coordinator, movement=movement)
    services.movement_end(actor=coordinator, movement=movement, outcome=MovementStatus.FAILED)
    person_at_a.refresh_from_db()
    with refused(UNACCOUNTED):
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)

    # Found again at her station: she can be sent on.
    person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.SHELTERED)
    services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c, depart_now=True)
    assert status(person_at_a) == CaseStatus.IN_TRANSIT


def test_a_person_missing_on_the_way_can_still_arrive(coordinator: User, under_way: Movement) -> None:
    person_set_status(actor=coordinator, person=under_way.person, status=CaseStatus.MISSING)
    services.movement_arrive(actor=coordinator, movement=under_way)
    assert status(under_way.person) == CaseStatus.SHELTERED


@pytest.mark.parametrize("ended", [CaseStatus.CLOSED, CaseStatus.DECEASED, CaseStatus.REPATRIATED])
def test_a_movement_of_a_case_that_ended_is_refused_and_never_reopens_it(
    coordinator: User, under_way: Movement, station_c: Station, ended: str
) -> None:
    # The services do not let a case end with a movement open; older data (or another copy's merge) might.
    person = under_way.person
    Person.objects.filter(pk=person.pk).update(status=ended)
    person.refresh_from_db()

    with refused(NOT_OPEN):
        services.movement_arrive(actor=coordinator, movement=under_way)
    for outcome in (MovementStatus.FAILED, MovementStatus.INTERCEPTED):
        with refused(NOT_OPEN):
            services.movement_end(actor=coordinator, movement=under_way, outcome=outcome)
    with refused(NOT_OPEN):
        services.movement_plan(actor=coordinator, person=person, to_station=station_c)
    assert status(person) == ended


def test_a_planned_movement_of_a_case_that_ended_does_not_depart(
    coordinator: User, person_at_a: Person, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    Person.objects.filter(pk=person_at_a.pk).update(status=CaseStatus.CLOSED)
    movement = Movement.objects.select_related("person").get(pk=movement.pk)
    with refused(NOT_OPEN):
        services.movement_depart(actor=coordinator, movement=movement)


# --- movements: departure ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("station_status", [StationStatus.SUSPENDED, StationStatus.COMPROMISED, StationStatus.CLOSED])
def test_nobody_departs_for_a_station_that_is_no_longer_active(
    coordinator: User, person_at_a: Person, station_c: Station, station_status: str
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    services.station_set_status(actor=coordinator, station=station_c, status=station_status)
    movement = Movement.objects.select_related("person", "to_station").get(pk=movement.pk)

    with refused("The destination is no longer active: end this movement and plan another one."):
        services.movement_depart(actor=coordinator, movement=movement)

    services.movement_end(actor=coordinator, movement=movement, outcome=MovementStatus.FAILED)  # called off
    assert open_movement(person_at_a.pk) is None


def test_a_departure_keeps_the_expected_arrival_set_when_planning(
    coordinator: User, person_at_a: Person, station_c: Station
) -> None:
    planned_for = soon(2)
    movement = services.movement_plan(
        actor=coordinator, person=person_at_a, to_station=station_c, expected_arrival=planned_for
    )
    services.movement_depart(actor=coordinator, movement=movement)
    movement.refresh_from_db()
    assert movement.expected_arrival == planned_for  # not the 7 days of the A -> C leg


def test_an_expected_arrival_given_at_departure_wins(
    coordinator: User, person_at_a: Person, station_c: Station
) -> None:
    movement = services.movement_plan(
        actor=coordinator, person=person_at_a, to_station=station_c, expected_arrival=soon(2)
    )
    given = soon(5)
    services.movement_depart(actor=coordinator, movement=movement, expected_arrival=given)
    movement.refresh_from_db()
    assert movement.expected_arrival == given


def test_without_a_leg_an_expected_arrival_is_required_to_leave(
    coordinator: User, person_at_a: Person, station_b: Station
) -> None:
    # There is no leg A -> B: nothing says when she should be there.
    with refused(NO_DURATION, "expected_arrival"):
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_b, depart_now=True)

    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_b)  # planning: fine
    assert movement.expected_arrival is None
    with refused(NO_DURATION, "expected_arrival"):
        services.movement_depart(actor=coordinator, movement=movement)

    given = soon(6)
    services.movement_depart(actor=coordinator, movement=movement, expected_arrival=given)
    movement.refresh_from_db()
    assert movement.status == MovementStatus.UNDER_WAY and movement.expected_arrival == given
    assert status(person_at_a) == CaseStatus.IN_TRANSIT


def test_without_a_leg_leaving_at_once_with_an_expected_arrival_is_fine(
    coordinator: User, person_at_a: Person, station_b: Station
) -> None:
    given = soon(6)
    movement = services.movement_plan(
        actor=coordinator, person=person_at_a, to_station=station_b, depart_now=True, expected_arrival=given
    )
    assert movement.expected_arrival == given
    assert status(person_at_a) == CaseStatus.IN_TRANSIT


# --- one open movement a person ---------------------------------------------------------------------------------------


def test_the_database_keeps_one_open_movement_a_person(coordinator: User, under_way: Movement) -> None:
    for open_status in (MovementStatus.PLANNED, MovementStatus.UNDER_WAY):
        with pytest.raises(IntegrityError), transaction.atomic():
            Movement.objects.create(
                person=under_way.person,
                from_station=under_way.from_station,
                to_station=under_way.to_station,
                status=open_status,
                planned_at=timezone.now(),
                recorded_by=coordinator,
            )
    # Closed movements are history: any number of them.
    for closed_status in (MovementStatus.ARRIVED, MovementStatus.FAILED, MovementStatus.INTERCEPTED):
        Movement.objects.create(
            person=under_way.person,
            to_station=under_way.to_station,
            status=closed_status,
            planned_at=timezone.now(),
            recorded_by=coordinator,
        )


def test_a_race_for_a_second_open_movement_is_refused_politely(
    coordinator: User, person_at_a: Person, station_c: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two coordinators plan at the same moment: both pass the friendly check, the database stops the second.
    from waystation.network import selectors

    services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    real_open_movement = selectors.open_movement
    calls: list[int] = []

    def not_yet(person_id: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_open_movement(person_id)

    monkeypatch.setattr(services, "open_movement", not_yet)
    with refused("This person already has a movement planned or under way.", "to_station"):
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
