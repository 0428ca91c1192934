"""What people do with Waystation, in a real Chromium: register an arrival on a phone, move a person on, record
counselling, be kept away from other stations' people, leave at once, switch to Korean."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.sessions.models import Session
from django.utils import timezone, translation
from playwright.sync_api import expect

from waystation.audit.models import AuditEvent
from waystation.cases.models import Assignment, Person, ServiceRecord
from waystation.network.models import Movement
from waystation.network.selectors import current_station_id

pytestmark = pytest.mark.browser


def heading(page: Any) -> Any:
    return page.get_by_role("heading", level=1)


def main_nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main")


def section(page: Any, title: str) -> Any:
    return page.locator("section").filter(has=page.get_by_role("heading", name=title, exact=True))


def assert_no_sideways_scroll(page: Any) -> None:
    width, viewport = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} scrolls sideways on a phone: {width}px wide in a {viewport}px viewport"


def wait_until(condition: Callable[[], bool], message: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def test_arrival_registered_on_a_phone_moved_on_and_counselled(cast: Any, open_page: Any, watch: Any) -> None:
    # 1. The keeper of station A, on a phone, registers an arrival.
    keeper = open_page(cast.keeper_a, phone=True)
    expect(heading(keeper)).to_have_text("Dashboard")
    assert_no_sideways_scroll(keeper)
    main_nav(keeper).get_by_role("link", name="Register an arrival").tap()
    expect(heading(keeper)).to_have_text("Register an arrival")
    keeper.get_by_label("Arrived at station").select_option("Lilac")
    keeper.get_by_label("Name in Hangul").fill("박소연")
    keeper.get_by_label("Romanized name").fill("Pak So-yon")
    keeper.get_by_label("Sex").select_option(label="Female")
    keeper.get_by_label("Birth year").fill("1996")
    keeper.get_by_label("Province of origin").select_option(label="Ryanggang")
    keeper.get_by_label("Month left North Korea").fill("2018-11")
    assert_no_sideways_scroll(keeper)
    keeper.get_by_role("button", name="Register", exact=True).tap()

    expect(heading(keeper)).to_contain_text("Case ")
    person = Person.objects.get()
    code = person.case_code
    expect(heading(keeper)).to_contain_text(code)
    expect(keeper.get_by_role("status")).to_contain_text(f"Registered as case {code}")
    expect(keeper.locator("main")).to_contain_text("At station Lilac")
    expect(keeper.locator("main")).to_contain_text("박소연")
    assert_no_sideways_scroll(keeper)
    assert (person.sex, person.birth_year, person.origin_province) == ("F", 1996, "ryanggang")
    assert person.left_nk_month == dt.date(2018, 11, 1)
    assert person.status == "sheltered"
    assert current_station_id(person.pk) == cast.station_a.pk
    assert AuditEvent.objects.filter(action="person.register", case_id=person.id, actor=cast.keeper_a).count() == 1

    # 2. A coordinator finds the case, sends the person on to station B (leaving now), then records the arrival.
    coordinator = open_page(cast.coordinator)
    main_nav(coordinator).get_by_role("link", name="Cases").click()
    coordinator.get_by_label("Case code").fill(code.lower().replace("-", ""))  # typed loosely, as people do
    coordinator.get_by_label("Case code").press("Enter")
    expect(coordinator.locator("#case-rows")).to_contain_text("1 case")
    coordinator.get_by_role("link", name=code).click()
    expect(heading(coordinator)).to_contain_text(code)
    coordinator.get_by_role("link", name="Record a movement").click()
    expect(heading(coordinator)).to_have_text("Record a movement")
    coordinator.get_by_label("To station").select_option("Birch")
    coordinator.get_by_label("Leaving now").check()
    coordinator.get_by_role("button", name="Save").click()

    expect(coordinator.get_by_role("status")).to_contain_text("Movement recorded.")
    expect(coordinator.locator("main > p").first).to_contain_text("heading to Birch")
    route = section(coordinator, "Route")
    expect(route.get_by_role("listitem").last).to_contain_text("Lilac → Birch")
    expect(route.get_by_role("listitem").last).to_contain_text("Under way")
    movement = Movement.objects.get(person=person, from_station=cast.station_a)
    assert (movement.status, movement.to_station_id) == ("under_way", cast.station_b.pk)
    assert movement.departed_at is not None
    assert movement.expected_arrival is not None
    assert abs(movement.expected_arrival - movement.departed_at - dt.timedelta(days=5)) < dt.timedelta(minutes=1)
    person.refresh_from_db()
    assert person.status == "in_transit"

    route.get_by_role("button", name="Arrived").click()
    expect(coordinator.get_by_role("status")).to_contain_text("Movement updated.")
    expect(coordinator.locator("main")).to_contain_text("At station Birch")
    expect(coordinator.locator("main")).not_to_contain_text("heading to")
    steps = route.get_by_role("listitem")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text(re.compile(r"Intake\s*→\s*Lilac\s*Arrived"))
    expect(steps.nth(1)).to_contain_text(re.compile(r"Lilac\s*→\s*Birch\s*Arrived"))
    expect(route.get_by_role("button")).to_have_count(0)  # nothing left open to act on
    movement.refresh_from_db()
    person.refresh_from_db()
    assert movement.status == "arrived" and movement.arrived_at is not None
    assert current_station_id(person.pk) == cast.station_b.pk
    assert person.status == "third_country"  # Laos: out of China

    # 3. The coordinator assigns a counsellor, who records a counselling session.
    coordinator.get_by_role("link", name="Assign a caseworker").click()
    coordinator.get_by_label("Caseworker").select_option(label="counsellor-min")
    coordinator.get_by_role("button", name="Save").click()
    expect(coordinator.get_by_role("status")).to_contain_text("Caseworker assigned.")
    expect(section(coordinator, "Caseworkers")).to_contain_text("counsellor-min")
    assert Assignment.objects.filter(person=person, worker=cast.counsellor, ended_at__isnull=True).count() == 1

    counsellor = open_page(cast.counsellor)
    section(counsellor, "Your cases").get_by_role("link", name=code).click()
    expect(heading(counsellor)).to_contain_text(code)
    counsellor.get_by_role("link", name="Record a service").click()
    expect(heading(counsellor)).to_have_text("Record a service")
    counsellor.get_by_label("Service").select_option(label="Counselling session")
    today = timezone.localdate()
    counsellor.get_by_label("Date").fill(today.isoformat())
    counsellor.get_by_label("Note").fill("Slept badly this week; talked about the journey ahead.")
    counsellor.get_by_role("button", name="Save").click()

    expect(counsellor.get_by_role("status")).to_contain_text("Service recorded.")
    services = section(counsellor, "Services")
    expect(services).to_contain_text("Counselling session")
    expect(services).to_contain_text("counsellor-min")
    expect(services).to_contain_text("Slept badly this week; talked about the journey ahead.")
    record = ServiceRecord.objects.get(person=person)
    assert (record.kind, record.provider_id, record.delivered_on, record.quantity) == (
        "counselling",
        cast.counsellor.pk,
        today,
        1,
    )
    assert AuditEvent.objects.filter(action="service.record", case_id=person.id, actor=cast.counsellor).exists()
    watch.assert_clean()


def test_keeper_cannot_open_a_case_at_another_station(cast: Any, open_page: Any, make_person: Any, watch: Any) -> None:
    person = make_person(name_hangul="리명순", name_romanized="Ri Myong-sun")
    code = person.case_code
    watch.allow(r"status of 404")  # Chromium's console note on a page answered with 404

    other = open_page(cast.keeper_b, phone=True)
    response = other.goto(f"/cases/{code}/")
    assert response is not None and response.status == 404
    expect(heading(other)).to_have_text("Not found")
    expect(other.locator("main")).not_to_contain_text(code)
    expect(other.locator("body")).not_to_contain_text("리명순")
    for path in (f"/cases/{code}/move/", f"/cases/{code}/needs/new/", "/stations/Lilac/"):
        response = other.goto(path)
        assert response is not None and response.status == 404, path

    main_nav(other).get_by_role("link", name="Cases").click()
    expect(other.locator("#case-rows")).to_contain_text("0 cases")
    expect(other.get_by_role("link", name=code)).to_have_count(0)
    other.get_by_label("Case code").fill(code)
    other.get_by_label("Case code").press("Enter")
    expect(other.locator("#case-rows")).to_contain_text("No case matches.")
    main_nav(other).get_by_role("link", name="Stations").click()
    expect(other.get_by_role("link", name="Lilac")).to_have_count(0)
    expect(other.get_by_role("link", name="Birch")).to_be_visible()
    # Nothing about the person was revealed to the other keeper, and nothing changed.
    seen = AuditEvent.objects.filter(actor=cast.keeper_b)
    assert not seen.filter(case_id=person.id).exists()
    revealed = [t for e in seen.filter(action="reveal") for t in e.details.get("targets", [])]
    assert not [t for t in revealed if str(person.pk) in t], revealed
    assert Movement.objects.filter(person=person).count() == 1

    # The keeper of station A, for contrast, opens it.
    own = open_page(cast.keeper_a)
    response = own.goto(f"/cases/{code}/")
    assert response is not None and response.status == 200
    expect(heading(own)).to_contain_text(code)
    expect(own.locator("main")).to_contain_text("리명순")
    watch.assert_clean()


def test_quick_exit_leaves_and_signs_out(
    cast: Any, open_page: Any, make_person: Any, sign_in: Any, watch: Any, quick_exit_url: str
) -> None:
    person = make_person()
    code = person.case_code
    page = open_page(cast.keeper_a)
    case_url = f"/cases/{code}/"

    def sessions() -> int:
        return Session.objects.filter(expire_date__gt=timezone.now()).count()

    def assert_signed_out_after_back() -> None:
        wait_until(lambda: sessions() == 0, "the session survived quick exit")
        page.go_back()
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        expect(page.locator("body")).not_to_contain_text(code)
        expect(page.locator("body")).not_to_contain_text("김은하")
        page.goto(case_url)
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
        expect(heading(page)).to_have_text("Sign in")

    # By the button.
    page.goto(case_url)
    expect(heading(page)).to_contain_text(code)
    assert sessions() == 1
    page.get_by_role("link", name="Quick exit").click()
    expect(page).to_have_url(quick_exit_url)
    expect(heading(page)).to_have_text("Weather today")
    assert_signed_out_after_back()

    # By pressing Escape twice.
    sign_in(page, cast.keeper_a.username)
    page.goto(case_url)
    expect(heading(page)).to_contain_text(code)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page).to_have_url(quick_exit_url)
    assert_signed_out_after_back()

    assert watch.exits, "quick exit never reached the neutral page"
    assert AuditEvent.objects.filter(case_id=person.id, actor=cast.keeper_a, action="reveal").exists()
    watch.assert_clean()


def test_quick_exit_works_without_javascript(
    cast: Any, open_page: Any, make_person: Any, watch: Any, quick_exit_url: str
) -> None:
    code = make_person().case_code
    page = open_page(cast.keeper_a, javascript=False)
    page.goto(f"/cases/{code}/")
    expect(heading(page)).to_contain_text(code)
    page.get_by_role("link", name="Quick exit").click()
    expect(page).to_have_url(quick_exit_url)
    assert Session.objects.filter(expire_date__gt=timezone.now()).count() == 0
    page.goto(f"/cases/{code}/")
    expect(heading(page)).to_have_text("Sign in")
    watch.assert_clean()


def test_language_switch_shows_korean(cast: Any, open_page: Any, make_person: Any, watch: Any) -> None:
    with translation.override("ko"):
        korean = {text: translation.gettext(text) for text in ("Dashboard", "Quick exit", "Cases", "Case", "Route")}
    missing = [text for text, translated in korean.items() if translated == text]
    assert not missing, (
        f"no Korean translation for {missing}: are the translations written and compiled "
        "(`waystation compilemessages`)?"
    )
    code = make_person().case_code
    page = open_page(cast.coordinator)
    expect(heading(page)).to_have_text("Dashboard")
    page.wait_for_load_state("load")  # the deferred script that submits on change has run (a user sees no race)
    page.get_by_label("Language").select_option(label="한국어")

    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(heading(page)).to_have_text(korean["Dashboard"])
    expect(page.locator("#quick-exit")).to_have_text(korean["Quick exit"])
    expect(page.locator("#lang-select option:checked")).to_have_text("한국어")
    # The choice sticks as one goes on.
    page.locator("header nav").get_by_role("link", name=korean["Cases"], exact=True).click()
    expect(heading(page)).to_have_text(korean["Cases"])
    page.get_by_role("link", name=code).click()
    expect(heading(page)).to_contain_text(f"{korean['Case']} {code}")
    expect(page.get_by_role("heading", name=korean["Route"], exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("django_language") == "ko"
    blocking = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert not blocking, f"accessibility violations on the Korean case page: {blocking}"
    watch.assert_clean()
