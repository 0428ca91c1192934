"""The route as a coordinator sees it: movements change place and status, refusals change nothing, alerts show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.choices import CaseStatus
from waystation.cases.models import Person
from waystation.cases.services import person_register, person_set_status
from waystation.lib.errors import ServiceError
from waystation.network import services
from waystation.network.access import visible_stations
from waystation.network.models import Leg, Movement, MovementStatus, Station, StationStatus
from waystation.network.selectors import current_station_id, open_movement, overdue_movements


def place(person: Person) -> int | None:
    return current_station_id(person.pk)


def status(person: Person) -> str:
    person.refresh_from_db()
    return person.status


def state(person: Person) -> dict[str, Any]:
    """What a refused action must leave as it was."""
    return {
        "movements": list(Movement.objects.filter(person=person).order_by("id").values_list("id", "status")),
        "audit": AuditEvent.objects.count(),
        "place": place(person),
        "status": status(person),
    }


# --- movements -------------------------------------------------------------------------------------------------------


def test_planning_a_movement_changes_neither_place_nor_status(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)

    assert movement.status == MovementStatus.PLANNED
    assert movement.from_station == station_a and movement.to_station == station_c
    assert movement.departed_at is None and movement.expected_arrival is None
    assert place(person_at_a) == station_a.pk
    assert status(person_at_a) == CaseStatus.SHELTERED
    assert open_movement(person_at_a.pk) == movement
    event = AuditEvent.objects.get(action="movement.plan")
    assert event.case_id == person_at_a.id
    assert event.details == {"from": station_a.pk, "to": station_c.pk, "status": "planned"}


def test_departure_puts_the_person_in_transit_with_an_expected_arrival_from_the_leg(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    services.movement_depart(actor=coordinator, movement=movement)

    movement.refresh_from_db()
    assert movement.status == MovementStatus.UNDER_WAY
    assert movement.expected_arrival - movement.departed_at == dt.timedelta(days=7)  # the A -> C leg
    assert status(person_at_a) == CaseStatus.IN_TRANSIT
    assert place(person_at_a) == station_a.pk  # not there yet

    with pytest.raises(ServiceError, match="already under way"):
        services.movement_depart(actor=coordinator, movement=movement)


def test_arrival_moves_the_person_and_sets_the_status_of_the_new_country(
    coordinator: User, person_at_a: Person, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c, depart_now=True)
    services.movement_arrive(actor=coordinator, movement=movement)

    assert place(person_at_a) == station_c.pk
    assert status(person_at_a) == CaseStatus.THIRD_COUNTRY  # Laos
    assert open_movement(person_at_a.pk) is None
    movement.refresh_from_db()
    assert movement.status == MovementStatus.ARRIVED and movement.arrived_at is not None
    # The route's history is the list of movements, oldest first.
    history = list(person_at_a.movements.order_by("planned_at", "id").values_list("to_station__code_name", "status"))
    assert history == [("ALDER", "arrived"), ("CEDAR", "arrived")]


def test_a_failed_movement_leaves_the_person_where_they_were(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c, depart_now=True)
    services.movement_end(actor=coordinator, movement=movement, outcome=MovementStatus.FAILED)

    assert place(person_at_a) == station_a.pk
    assert status(person_at_a) == CaseStatus.SHELTERED
    movement.refresh_from_db()
    assert movement.status == MovementStatus.FAILED and movement.ended_at is not None
    # The person can be sent again.
    services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)


def test_an_interception_means_detention(
    coordinator: User, person_at_a: Person, station_a: Station, station_c: Station
) -> None:
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c, depart_now=True)
    services.movement_end(actor=coordinator, movement=movement, outcome=MovementStatus.INTERCEPTED)

    assert status(person_at_a) == CaseStatus.DETAINED
    assert place(person_at_a) == station_a.pk  # the last station they reached
    with pytest.raises(ServiceError, match="already over"):
        services.movement_arrive(actor=coordinator, movement=movement)


def test_an_unknown_outcome_is_refused(coordinator: User, person_heading_to_a: Person) -> None:
    movement = open_movement(person_heading_to_a.pk)
    before = state(person_heading_to_a)
    with pytest.raises(ServiceError, match="Unknown outcome."):
        services.movement_end(actor=coordinator, movement=movement, outcome="vanished")
    assert state(person_heading_to_a) == before


def test_a_keeper_records_the_arrival_of_someone_heading_to_their_station(
    keeper_a: User, keeper_b: User, person_heading_to_a: Person, station_a: Station, client_for: Any
) -> None:
    from waystation.cases.access import visible_persons

    assert person_heading_to_a in visible_persons(keeper_b)  # still at B
    movement = open_movement(person_heading_to_a.pk)
    client = client_for(keeper_a)
    page = client.get(f"/cases/{person_heading_to_a.case_code}/")
    assert page.status_code == 200

    response = client.submit(
        f"/cases/{person_heading_to_a.case_code}/movements/{movement.pk}/", {"action": "arrived"}, follow=True
    )

    assert "Movement updated." in response.content.decode()
    assert place(person_heading_to_a) == station_a.pk
    assert person_heading_to_a not in visible_persons(keeper_b)  # gone from B, and from B's keeper's view
    assert person_heading_to_a in visible_persons(keeper_a)


# --- refusals --------------------------------------------------------------------------------------------------------


def test_a_movement_to_where_the_person_already_is_is_refused(
    coordinator: User, person_at_a: Person, station_a: Station
) -> None:
    before = state(person_at_a)
    with pytest.raises(ServiceError) as refused:
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_a)
    assert refused.value.message == "The person is already at this station."
    assert refused.value.field == "to_station"
    assert state(person_at_a) == before


@pytest.mark.parametrize("station_status", [StationStatus.SUSPENDED, StationStatus.COMPROMISED, StationStatus.CLOSED])
def test_nobody_is_sent_to_a_station_that_is_not_active(
    coordinator: User, person_at_a: Person, station_c: Station, station_status: str
) -> None:
    services.station_set_status(actor=coordinator, station=station_c, status=station_status)
    before = state(person_at_a)
    with pytest.raises(ServiceError) as refused:
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    assert refused.value.message == "This station is not active: nobody can be sent there."
    assert state(person_at_a) == before


def test_a_second_open_movement_is_refused(coordinator: User, person_heading_to_a: Person, station_c: Station) -> None:
    before = state(person_heading_to_a)
    with pytest.raises(ServiceError) as refused:
        services.movement_plan(actor=coordinator, person=person_heading_to_a, to_station=station_c)
    assert refused.value.message == "This person already has a movement planned or under way."
    assert state(person_heading_to_a) == before


def test_a_closed_case_does_not_move(coordinator: User, person_at_a: Person, station_c: Station) -> None:
    person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.CLOSED)
    before = state(person_at_a)
    with pytest.raises(ServiceError, match="This case is no longer open."):
        services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    assert state(person_at_a) == before


def test_an_expected_arrival_in_the_past_is_refused(coordinator: User, person_at_a: Person, station_c: Station) -> None:
    before = state(person_at_a)
    with pytest.raises(ServiceError, match="The expected arrival is in the past."):
        services.movement_plan(
            actor=coordinator,
            person=person_at_a,
            to_station=station_c,
            depart_now=True,
            expected_arrival=timezone.now() - dt.timedelta(hours=1),
        )
    assert state(person_at_a) == before


def test_legs_join_two_stations_for_a_sensible_number_of_days(
    coordinator: User, station_a: Station, station_c: Station
) -> None:
    before = Leg.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ServiceError, match="A leg joins two different stations."):
        services.leg_set(actor=coordinator, from_station=station_a, to_station=station_a, usual_days=3)
    for days in (0, -2, 366):
        with pytest.raises(ServiceError, match="between 1 and 365 days"):
            services.leg_set(actor=coordinator, from_station=station_c, to_station=station_a, usual_days=days)
    assert (Leg.objects.count(), AuditEvent.objects.count()) == before

    services.leg_set(actor=coordinator, from_station=station_a, to_station=station_c, usual_days=9)  # updates
    assert Leg.objects.get(from_station=station_a, to_station=station_c).usual_days == 9
    assert Leg.objects.count() == before[0]


def test_station_code_names_are_unique_and_only_keepers_keep(
    coordinator: User, caseworker_unassigned: User, station_a: Station
) -> None:
    with pytest.raises(ServiceError, match="exists already"):
        services.station_create(actor=coordinator, code_name="ALDER", country="CN", region="x", kind="safe_house")
    with pytest.raises(ServiceError, match="Only station keepers"):
        services.station_create(
            actor=coordinator,
            code_name="ELM",
            country="CN",
            region="x",
            kind="safe_house",
            keepers=[caseworker_unassigned],
        )
    assert not Station.objects.filter(code_name="ELM").exists()


# --- compromised stations, overdue movements, full stations ----------------------------------------------------------


def test_marking_a_station_compromised_is_one_action_that_shows_who_is_there_and_who_is_coming(
    coordinator: User,
    keeper_a: User,
    station_a: Station,
    person_at_a: Person,
    person_at_b: Person,
    person_heading_to_a: Person,
    client_for: Any,
) -> None:
    client = client_for(coordinator)
    client.get("/stations/ALDER/")
    response = client.submit("/stations/ALDER/status/", {"status": "compromised"}, follow=True)

    station_a.refresh_from_db()
    assert station_a.status == StationStatus.COMPROMISED
    assert AuditEvent.objects.filter(action="station.status", details__to="compromised").count() == 1
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/stations/ALDER/"
    assert "Marked compromised" in page
    here, heading = page.split("Who is here", 1)[1].split("Heading here", 1)
    assert person_at_a.case_code in here
    assert person_heading_to_a.case_code in heading.split("Legs from here")[0]
    assert person_at_b.case_code not in page

    dashboard = client.get("/").content.decode()
    assert "Compromised stations" in dashboard and "/stations/ALDER/" in dashboard.split("Compromised stations")[1]

    # The keeper of the station sees the warning too.
    keeper_page = client_for(keeper_a).get("/stations/ALDER/").content.decode()
    assert "Move the people below to safety" in keeper_page


def _make_overdue(movement: Movement) -> None:
    # Time passes: the expected arrival of a movement under way is now yesterday.
    Movement.objects.filter(pk=movement.pk).update(expected_arrival=timezone.now() - dt.timedelta(days=1))


def test_overdue_movements_show_on_the_coordinators_dashboard(
    coordinator: User, keeper_a: User, analyst: User, person_heading_to_a: Person, client_for: Any
) -> None:
    movement = open_movement(person_heading_to_a.pk)
    assert "Overdue movements" not in client_for(coordinator).get("/").content.decode()

    _make_overdue(movement)

    assert list(overdue_movements()) == [movement]
    for user in (coordinator, keeper_a):
        page = client_for(user).get("/").content.decode()
        assert "Overdue movements" in page
        assert person_heading_to_a.case_code in page.split("Overdue movements", 1)[1]
    analyst_page = client_for(analyst).get("/").content.decode()
    assert person_heading_to_a.case_code not in analyst_page  # an analyst sees no single record


def test_full_stations_show_on_the_coordinators_dashboard(
    coordinator: User,
    keeper_a: User,
    station_a: Station,
    person_at_a: Person,
    person_heading_to_a: Person,
    client_for: Any,
) -> None:
    def full_section() -> str:
        page = client_for(coordinator).get("/").content.decode()
        return page.split("Full stations", 1)[1].split("</section>", 1)[0]

    # One of two places taken; the person on her way does not count until she arrives.
    assert "No station is full." in full_section()

    person_register(
        actor=keeper_a, station=station_a, sex="F", name_hangul="가상 다섯", name_romanized="Gasang Daseot (fictional)"
    )

    section = full_section()
    assert "ALDER" in section and "2 / 2" in section


def test_a_keeper_sees_only_the_stations_they_keep(
    keeper_a: User, station_a: Station, station_b: Station, station_c: Station, client_for: Any
) -> None:
    assert list(visible_stations(keeper_a)) == [station_a]
    client = client_for(keeper_a)
    listing = client.get("/stations/").content.decode()
    assert "ALDER" in listing and "BIRCH" not in listing and "CEDAR" not in listing
    assert client.get("/stations/BIRCH/").status_code == 404
