"""Her place on the route, kept on her row by the database (``Person.place``, migration cases 0010): whatever writes
the movements, and however, the stored place is the station of her latest arrival, as the movements say."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.network import services
from waystation.network.models import Movement, MovementStatus, Station
from waystation.network.selectors import current_station_id, places_out_of_step
from waystation.testing.db import two_writers_at_once


def stored(person: Person) -> int | None:
    return Person.objects.values_list("place_id", flat=True).get(pk=person.pk)


def test_the_place_follows_the_movement_services(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    assert stored(person_at_a) == station_a.pk
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    services.movement_depart(actor=coordinator, movement=movement)
    assert stored(person_at_a) == station_a.pk  # on her way: still where she last arrived
    services.movement_arrive(actor=coordinator, movement=movement)
    assert stored(person_at_a) == station_c.pk == current_station_id(person_at_a.pk)


def test_writes_that_bypass_the_services_keep_it_too(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    stale = Person.objects.get(pk=person_at_a.pk)  # loaded before her arrival at C
    later = timezone.now() + dt.timedelta(days=1)
    arrival = Movement.objects.create(
        person=person_at_a, from_station=station_a, to_station=station_c, status=MovementStatus.ARRIVED,
        planned_at=later, arrived_at=later, recorded_by=coordinator,
    )  # fmt: skip
    assert stored(person_at_a) == station_c.pk

    stale.save()  # writes back the place it was loaded with: the database puts hers back
    assert stored(person_at_a) == station_c.pk
    Person.objects.filter(pk=person_at_a.pk).update(place_id=station_a.pk)
    assert stored(person_at_a) == station_c.pk

    Movement.objects.filter(pk=arrival.pk).update(status=MovementStatus.FAILED)  # a queryset update: no signal
    assert stored(person_at_a) == station_a.pk
    Movement.objects.filter(pk=arrival.pk).update(status=MovementStatus.ARRIVED)
    assert stored(person_at_a) == station_c.pk
    with connection.cursor() as cursor:  # raw SQL
        cursor.execute("DELETE FROM network_movement WHERE id = %s", [arrival.pk])
    assert stored(person_at_a) == station_a.pk
    assert places_out_of_step() == []


def test_the_check_finds_a_place_the_triggers_did_not_keep(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    """Without the triggers (dropped inside the test's transaction, which undoes it) a new arrival leaves her
    stored place behind, and ``places_out_of_step`` (also run after every test) names her."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in ("network_movement_place_insert", "network_movement_place_update"):
                cursor.execute(f"DROP TRIGGER {name}")
        else:
            cursor.execute("DROP TRIGGER network_movement_place ON network_movement")
    later = timezone.now() + dt.timedelta(days=1)
    Movement.objects.create(
        person=person_at_a, from_station=station_a, to_station=station_c, status=MovementStatus.ARRIVED,
        planned_at=later, arrived_at=later, recorded_by=coordinator,
    )  # fmt: skip
    assert places_out_of_step() == [person_at_a.pk]
    Person.objects.filter(pk=person_at_a.pk).update(place_id=None)  # the person trigger puts hers back
    assert places_out_of_step() == []


def test_a_movement_moved_to_another_person_and_arrivals_recorded_out_of_order(
    coordinator: User, person_at_a: Person, person_at_b: Person, station_a: Station, station_c: Station
) -> None:
    now = timezone.now()
    late = Movement.objects.create(
        person=person_at_a, from_station=station_a, to_station=station_c, status=MovementStatus.ARRIVED,
        planned_at=now + dt.timedelta(days=2), arrived_at=now + dt.timedelta(days=2), recorded_by=coordinator,
    )  # fmt: skip
    Movement.objects.create(  # recorded after, happened before: her place stays C
        person=person_at_a, from_station=station_c, to_station=station_a, status=MovementStatus.ARRIVED,
        planned_at=now + dt.timedelta(days=1), arrived_at=now + dt.timedelta(days=1), recorded_by=coordinator,
    )  # fmt: skip
    assert stored(person_at_a) == station_c.pk
    Movement.objects.filter(pk=late.pk).update(person=person_at_b)  # recorded for the wrong woman, corrected
    assert stored(person_at_a) == station_a.pk and stored(person_at_b) == station_c.pk
    assert places_out_of_step() == []


TRIGGERS = {
    "sqlite": {
        "network_movement": {
            "network_movement_place_insert", "network_movement_place_update", "network_movement_place_delete"
        },
        "cases_person": {"cases_person_place_insert", "cases_person_place_update"},
    },
    "postgresql": {"network_movement": {"network_movement_place"}, "cases_person": {"cases_person_place"}},
}  # fmt: skip


@pytest.mark.parametrize("table", ["network_movement", "cases_person"])
def test_the_triggers_are_in_place(table: str, db: None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table])
        names = {row[0] for row in cursor.fetchall()}
    assert TRIGGERS[connection.vendor][table] <= names


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_two_writers_at_once_leave_her_latest_arrival(
    transactional_db: None, coordinator: User, person_at_a: Person, station_a: Station, station_b: Station
) -> None:
    """She is at A. One transaction records her arrival at B and stays open; another, which cannot see it, records
    a later arrival at A and commits after it. Her place is A: the second's trigger waits for the first's lock
    and computes her place after it (a trigger that skipped her row because A "looked stored" left B)."""
    now = timezone.now()

    def arrive(station: Station, days: int) -> Callable[[], None]:
        def write() -> None:
            when = now + dt.timedelta(days=days)
            Movement.objects.create(
                person=person_at_a, from_station=station_a, to_station=station, status=MovementStatus.ARRIVED,
                planned_at=when, arrived_at=when, recorded_by=coordinator,
            )  # fmt: skip

        return write

    two_writers_at_once(arrive(station_b, 1), arrive(station_a, 2))
    assert stored(person_at_a) == station_a.pk == current_station_id(person_at_a.pk)


def test_her_case_page_says_where_she_is(
    coordinator: User, keeper_a: User, person_at_a: Person, station_a: Station, station_c: Station, client_for: Any
) -> None:
    page = client_for(keeper_a).get(f"/cases/{person_at_a.case_code}/").content.decode()  # the minimum fields
    assert f"At station <strong>{station_a.code_name}</strong>" in page
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    services.movement_depart(actor=coordinator, movement=movement)
    services.movement_arrive(actor=coordinator, movement=movement)
    page = client_for(coordinator).get(f"/cases/{person_at_a.case_code}/").content.decode()  # every field
    assert f"At station <strong>{station_c.code_name}</strong>" in page
