"""Who keeps seeing a person, and what, as the route and the case move on (review findings of the foundation)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse

from waystation.cases import care_services, services
from waystation.cases.access import visible_persons
from waystation.cases.choices import Relation
from waystation.network import services as network_services
from waystation.network.models import MovementStatus


def _case_url(person: Any) -> str:
    return reverse("cases:detail", kwargs={"code": person.case_code})


@pytest.mark.parametrize("status", ["repatriated", "deceased", "closed", "detained", "missing", "resettled"])
def test_a_keeper_no_longer_sees_someone_who_has_left_the_station(world: SimpleNamespace, status: str) -> None:
    person = world.person_at_a
    assert visible_persons(world.keeper_a).filter(pk=person.pk).exists()
    services.person_set_status(actor=world.coordinator, person=person, status=status)
    assert not visible_persons(world.keeper_a).filter(pk=person.pk).exists()


def test_marking_a_station_compromised_hides_its_people_from_its_keeper_not_from_the_coordinator(
    world: SimpleNamespace, client_for: Any
) -> None:
    network_services.station_set_status(actor=world.coordinator, station=world.station_a, status="compromised")
    assert client_for(world.keeper_a).get(_case_url(world.person_at_a)).status_code == 404
    dashboard = client_for(world.coordinator).get("/").content.decode()
    assert "People at compromised stations" in dashboard
    assert world.person_at_a.case_code in dashboard  # at the compromised station
    assert world.person_heading_to_a.case_code in dashboard  # heading there


def test_a_keeper_sees_where_a_person_is_and_goes_next_not_the_stations_they_came_through(
    world: SimpleNamespace, client_for: Any
) -> None:
    # person_heading_to_a was registered at B and is under way B -> A: keeper A sees the open leg, not the intake.
    page = client_for(world.keeper_a).get(_case_url(world.person_heading_to_a)).content.decode()
    assert "Intake" not in page
    full = client_for(world.coordinator).get(_case_url(world.person_heading_to_a)).content.decode()
    assert "Intake" in full


def test_a_keeper_records_only_the_ends_of_a_movement_that_touch_their_station(
    world: SimpleNamespace, client_for: Any
) -> None:
    movement = world.person_heading_to_a.movements.get(status=MovementStatus.UNDER_WAY)
    url = reverse(
        "cases:movement_update", kwargs={"code": world.person_heading_to_a.case_code, "movement_id": movement.pk}
    )
    page = client_for(world.keeper_a).get(_case_url(world.person_heading_to_a)).content.decode()
    assert 'value="arrived"' in page

    origin_keeper = client_for(world.keeper_b)  # may record a failure on the way, not the arrival at A
    assert origin_keeper.submit(url, {"action": "arrived"}).status_code == 403
    movement.refresh_from_db()
    assert movement.status == MovementStatus.UNDER_WAY
    assert client_for(world.keeper_a).submit(url, {"action": "arrived"}).status_code == 302
    movement.refresh_from_db()
    assert movement.status == MovementStatus.ARRIVED


def test_relatives_outside_the_users_cases_are_counted_not_named(world: SimpleNamespace, client_for: Any) -> None:
    child = world.person_at_b
    services.family_link_add(
        actor=world.coordinator, person=world.person_at_a, relative=child, relation=Relation.MOTHER
    )
    caseworker_page = client_for(world.caseworker).get(_case_url(world.person_at_a)).content.decode()
    assert child.case_code not in caseworker_page
    assert "1 relative outside your cases" in caseworker_page
    coordinator_page = client_for(world.coordinator).get(_case_url(world.person_at_a)).content.decode()
    assert child.case_code in coordinator_page


def test_the_coordinator_sees_how_many_open_cases_have_no_caseworker(world: SimpleNamespace, client_for: Any) -> None:
    # person_at_a has a caseworker; person_at_b and person_heading_to_a have none.
    page = client_for(world.coordinator).get("/").content.decode()
    assert "2 open cases have no caseworker." in page
    assignment = world.person_at_a.assignments.get()
    care_services.assignment_end(actor=world.coordinator, assignment=assignment)
    assert "3 open cases have no caseworker." in client_for(world.coordinator).get("/").content.decode()


def test_a_coordinator_ends_an_assignment_and_the_caseworker_loses_the_case(
    world: SimpleNamespace, client_for: Any
) -> None:
    assignment = world.person_at_a.assignments.get()
    url = reverse("cases:assignment_end", kwargs={"code": world.person_at_a.case_code, "assignment_id": assignment.pk})
    assert client_for(world.coordinator).submit(url).status_code == 302
    assert client_for(world.caseworker).get(_case_url(world.person_at_a)).status_code == 404


def test_case_codes_never_reach_the_log(world: SimpleNamespace, client_for: Any, caplog: Any) -> None:
    from waystation.lib.redact import RedactCaseCodes

    # The handler the settings give the root logger is the one that writes the log: it must carry the filter.
    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactCaseCodes) for f in h.filters)]
    assert handlers, "the console handler redacts case codes"
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client_for(world.keeper_b).get(_case_url(world.person_at_a))  # a 404, which Django logs with the path
    records = [r for r in caplog.records if handlers[0].filter(r)]
    assert records, "Django logs a not-found page"
    assert all(world.person_at_a.case_code not in handlers[0].format(r) for r in records)
