"""Accessibility (axe-core) of the main pages, as each role sees them, with no console error (CSP) on the way.

A page passes when axe finds no violation of impact "serious" or "critical". No rule is disabled: a defect is
fixed in the templates or the stylesheet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from waystation.cases import care_services, services
from waystation.network.services import movement_plan

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def full_case(cast: Any, make_person: Any) -> Any:
    """A case with something in every section of the case page, and a movement under way."""
    person = make_person(name_chinese="金恩河", aliases="Eunha\nHana", contacts="(fictional) via partner church")
    child = make_person(sex="M", birth_year=2015, name_hangul="김준", name_romanized="Kim Jun")
    actor = cast.coordinator
    today = timezone.localdate()
    care_services.assignment_set(actor=actor, person=person, worker=cast.counsellor)
    services.consent_record(actor=actor, person=person, scope="statistics", given=True)
    services.family_link_add(actor=actor, person=person, relative=child, relation="mother", stateless=False)
    services.episode_add(
        actor=actor,
        person=person,
        exploitation_type="forced_marriage",
        start_month=dt.date(2015, 4, 1),
        end_month=dt.date(2019, 2, 1),
        was_sold=True,
        note="(fictional) sold to a farmer's family",
    )
    care_services.needs_assess(
        actor=actor,
        person=person,
        assessed_on=today,
        levels={"medical": 2, "mental_health": 3},
        risk_level="high",
        note="(fictional) needs a doctor",
    )
    care_services.goal_add(actor=actor, person=person, area="medical", description="See a doctor")
    care_services.service_record(actor=actor, person=person, kind="shelter_nights", delivered_on=today, quantity=3)
    care_services.task_add(
        actor=actor, person=person, kind="counselling", due_on=today + dt.timedelta(days=7), assigned_to=cast.counsellor
    )
    care_services.note_add(actor=actor, person=person, text="(fictional) settled in well")
    movement_plan(actor=actor, person=person, to_station=cast.station_b, depart_now=True)
    return person


def test_main_pages_have_no_serious_accessibility_violation(
    cast: Any, open_page: Any, make_person: Any, watch: Any
) -> None:
    person = full_case(cast, make_person)
    code = person.case_code
    resting = make_person(name_hangul="최선희", name_romanized="Choe Son-hui")  # at Lilac, nothing under way
    axe = Axe()
    problems: list[str] = []
    checked: list[str] = []

    def check(page: Any, who: str, path: str | None) -> None:
        """Axe on ``path`` (or, with None, on the page as it stands)."""
        if path is None:
            path = page.url.removeprefix(watch.origin) + " (as it stands)"
        else:
            response = page.goto(path)
            expected = 404 if "not found" in who else 200
            assert response is not None and response.status == expected, f"{who} {path}: {response and response.status}"
        page.wait_for_load_state("load")
        text = page.locator("body").inner_text()
        for leak in ("{%", "{#", "{{", "#}", "%}"):
            assert leak not in text, f"{who} {path}: template syntax shows on the page: {leak!r}"
        results = axe.run(page)
        checked.append(f"{who} {path}")
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:5]
                problems.append(
                    f"{who} {path}: {violation['id']} ({violation['impact']}): {violation['help']} -> {targets}"
                )

    anonymous = open_page()
    check(anonymous, "anonymous", "/accounts/login/")

    keeper = open_page(cast.keeper_a, phone=True)
    for path in ("/", "/cases/", f"/cases/{resting.case_code}/", "/cases/register/", "/stations/Lilac/"):
        check(keeper, "keeper (phone)", path)

    coordinator = open_page(cast.coordinator)
    for path in (
        "/",
        "/cases/",
        f"/cases/{code}/",
        f"/cases/{resting.case_code}/move/",
        "/cases/register/",
        "/stations/",
        "/stations/Lilac/",
        "/stations/Birch/",
    ):
        check(coordinator, "coordinator", path)

    # A form refused with errors: the messages must be announced and tied to their fields.
    coordinator.goto("/cases/register/")
    coordinator.get_by_label("Arrived at station").select_option("Lilac")
    coordinator.get_by_label("Name in Hangul").fill("한미래")
    coordinator.get_by_label("Birth year").fill("1700")
    coordinator.get_by_role("button", name="Register", exact=True).click()
    expect(coordinator.get_by_role("alert")).to_have_count(1)
    expect(coordinator.get_by_label("Birth year")).to_have_attribute("aria-invalid", "true")
    check(coordinator, "coordinator", None)

    counsellor = open_page(cast.counsellor)
    for path in ("/", f"/cases/{code}/", f"/cases/{code}/services/new/", f"/cases/{code}/needs/new/"):
        check(counsellor, "counsellor", path)

    check(open_page(cast.analyst), "analyst", "/")
    auditor = open_page(cast.auditor)
    for path in ("/", "/audit/"):
        check(auditor, "auditor", path)
    administrator = open_page(cast.administrator)
    for path in ("/", "/accounts/users/"):
        check(administrator, "administrator", path)

    watch.allow(r"status of 404")
    check(open_page(cast.keeper_b), "keeper of another station (not found)", f"/cases/{resting.case_code}/")

    assert len(checked) == 25
    assert not problems, "serious or critical accessibility violations:\n" + "\n".join(problems)
    watch.assert_clean()
