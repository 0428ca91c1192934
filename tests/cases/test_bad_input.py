"""Bad input through the web forms, as the role that would type it: a clear message, nothing changed, never a 500.

Each test fetches the form first (as a browser would, which also gives the CSRF token), then counts every row of
every Waystation table, posts, and counts again.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from waystation.accounts.models import User
from waystation.cases.choices import NeedArea
from waystation.cases.models import Person
from waystation.network.models import Station
from waystation.testing.db import row_counts

snapshot = row_counts


def refused(response: Any, message: str, before: dict[str, int], status: int = 200) -> None:
    assert response.status_code == status, response.status_code
    assert escape(message) in response.content.decode(), f"{message!r} not on the page"
    assert snapshot() == before, "a refused input changed something"


def refused_with_redirect(client: Any, response: Any, message: str, before: dict[str, int]) -> None:
    """For the small POST-only forms, which redirect back and show the message on the next page."""
    assert response.status_code == 302, response.status_code
    assert snapshot() == before, "a refused input changed something"
    page = client.get(response["Location"])  # (showing a case page is itself audited: a reveal)
    assert escape(message) in page.content.decode(), f"{message!r} not on the page"


def next_month() -> str:
    today = timezone.localdate()
    return f"{today.year + (today.month == 12)}-{today.month % 12 + 1:02d}"


def arrival(**overrides: str) -> dict[str, str]:
    values = {
        "station": "ALDER",
        "name_hangul": "가상 여섯",
        "name_romanized": "Gasang Yeoseot (fictional)",
        "sex": "F",
        "birth_year": "1992",
        "origin_province": "north_hamgyong",
        "left_nk_month": "2018-04",
        "first_contact_month": "2024-02",
        "languages": "ko",
    }
    values.update(overrides)
    return values


@pytest.fixture
def keeper(keeper_a: User, station_a: Station, station_b: Station, client_for: Any) -> Any:
    """keeper_a, on the arrival form of station A."""
    client = client_for(keeper_a)
    assert client.get("/cases/register/").status_code == 200
    return client


# --- registering an arrival ------------------------------------------------------------------------------------------


def test_a_valid_arrival_is_registered(keeper: Any) -> None:
    """The baseline the refusals below differ from."""
    before = Person.objects.count()
    response = keeper.submit("/cases/register/", arrival(), follow=True)
    assert "Registered as case" in response.content.decode()
    assert Person.objects.count() == before + 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"station": "NOWHERE"}, "Unknown station. Choose one from the list."),
        ({"station": "BIRCH"}, "Unknown station. Choose one from the list."),  # another keeper's station
        ({"station": ""}, "This field is required."),
        ({"birth_year": "1700"}, "Birth year must be between 1900 and {year}."),
        ({"birth_year": "3024"}, "Birth year must be between 1900 and {year}."),
        ({"birth_year": "nineteen ninety"}, "Enter a whole number."),
        ({"left_nk_month": "{next_month}"}, "This month is in the future."),
        ({"first_contact_month": "{next_month}"}, "This month is in the future."),
        ({"left_nk_month": "1850-01"}, "This month is too long ago to be right."),
        ({"left_nk_month": "2019-13"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "2019-00"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "0000-01"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "March 2019"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "2019/03/04"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "19-03"}, "Enter a month as YYYY-MM, for example 2019-03."),
        ({"left_nk_month": "2024-06", "first_contact_month": "2020-01"}, "First contact cannot come before"),
        ({"name_hangul": "", "name_romanized": ""}, "Enter at least one form of the name."),
        ({"name_hangul": "가" * 5000}, "Ensure this value has at most 100 characters (it has 5000)."),
        ({"sex": "X"}, "Select a valid choice. X is not one of the available choices."),
        ({"languages": "klingon"}, "Select a valid choice. klingon is not one of the available choices."),
    ],
)
def test_a_bad_arrival_is_refused_with_a_clear_message(keeper: Any, overrides: dict[str, str], message: str) -> None:
    values = {k: v.format(next_month=next_month()) for k, v in overrides.items()}
    before = snapshot()
    response = keeper.submit("/cases/register/", arrival(**values))
    refused(response, message.format(year=timezone.localdate().year), before)


def test_the_month_may_be_typed_the_korean_way(keeper: Any) -> None:
    response = keeper.submit("/cases/register/", arrival(left_nk_month="2018년 4월"), follow=True)
    assert "Registered as case" in response.content.decode()
    assert Person.objects.filter(left_nk_month=dt.date(2018, 4, 1)).exists()


# --- movements -------------------------------------------------------------------------------------------------------


@pytest.fixture
def coordinator_on_move_form(coordinator: User, person_at_a: Person, client_for: Any) -> Any:
    client = client_for(coordinator)
    assert client.get(f"/cases/{person_at_a.case_code}/move/").status_code == 200
    return client


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_station": "ALDER"}, "The person is already at this station."),
        ({"to_station": "NOWHERE"}, "Unknown station. Choose one from the list."),
        ({"to_station": "CEDAR", "depart_now": "on", "expected_arrival": "2001-01-01T10:00"}, "in the past"),
        ({"to_station": "CEDAR", "expected_arrival": "next tuesday"}, "Enter a valid date/time."),
        ({"to_station": "C" * 5000}, "Unknown station. Choose one from the list."),
    ],
)
def test_a_bad_movement_is_refused_with_a_clear_message(
    coordinator_on_move_form: Any, person_at_a: Person, data: dict[str, str], message: str
) -> None:
    before = snapshot()
    response = coordinator_on_move_form.submit(f"/cases/{person_at_a.case_code}/move/", data)
    refused(response, message, before)


def test_a_second_movement_is_refused_on_the_form(
    coordinator: User, person_heading_to_a: Person, station_c: Station, client_for: Any
) -> None:
    client = client_for(coordinator)
    client.get(f"/cases/{person_heading_to_a.case_code}/move/")
    before = snapshot()
    response = client.submit(f"/cases/{person_heading_to_a.case_code}/move/", {"to_station": "CEDAR"})
    refused(response, "This person already has a movement planned or under way.", before)


def test_an_unknown_movement_update_is_refused(
    keeper_a: User, person_heading_to_a: Person, person_at_a: Person, client_for: Any
) -> None:
    client = client_for(keeper_a)
    client.get(f"/cases/{person_heading_to_a.case_code}/")
    movement = person_heading_to_a.movements.get(status="under_way")
    before = snapshot()

    response = client.submit(f"/cases/{person_heading_to_a.case_code}/movements/{movement.pk}/", {"action": "teleport"})
    refused_with_redirect(
        client, response, "Select a valid choice. teleport is not one of the available choices.", before
    )

    # Somebody else's movement under this case code does not exist.
    before = snapshot()
    response = client.submit(f"/cases/{person_at_a.case_code}/movements/{movement.pk}/", {"action": "arrived"})
    assert response.status_code == 404
    assert snapshot() == before


# --- care records ----------------------------------------------------------------------------------------------------


@pytest.fixture
def caseworker_client(caseworker: User, client_for: Any) -> Any:
    return client_for(caseworker)


NO_NEEDS = dict.fromkeys(NeedArea.values, "0")


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("form", "data", "message"),
    [
        (
            "services",
            {"kind": "counselling", "delivered_on": "{tomorrow}", "quantity": "1"},
            "This date is in the future.",
        ),
        (
            "services",
            {"kind": "shelter_nights", "delivered_on": "{today}", "quantity": "-2"},
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            "services",
            {"kind": "shelter_nights", "delivered_on": "{today}", "quantity": "99999"},
            "Ensure this value is less than or equal to 366.",
        ),
        ("services", {"kind": "counselling", "delivered_on": "2024-02-31", "quantity": "1"}, "Enter a valid date."),
        ("services", {"kind": "séance", "delivered_on": "{today}", "quantity": "1"}, "Select a valid choice."),
        ("needs", {"assessed_on": "{tomorrow}", "risk_level": "low", **NO_NEEDS}, "This date is in the future."),
        (
            "needs",
            {"assessed_on": "{today}", "risk_level": "low", **NO_NEEDS, "medical": "7"},
            "Select a valid choice.",
        ),
        (
            "episodes",
            {"exploitation_type": "forced_marriage", "start_month": "{next_month}"},
            "This month is in the future.",
        ),
        ("episodes", {"exploitation_type": "forced_marriage", "start_month": "2019-3-4"}, "Enter a month as YYYY-MM"),
        (
            "episodes",
            {"exploitation_type": "forced_marriage", "start_month": "2019-05", "end_month": "2019-01"},
            "The end month comes before the start month.",
        ),
        ("family", {"relative": "XXXX-XXXX", "relation": "mother"}, "No case with this code."),
        ("family", {"relative": "A" * 5000, "relation": "mother"}, "Ensure this value has at most 20 characters"),
        ("notes", {"text": "   "}, "This field is required."),
        ("goals", {"area": "medical", "description": "   "}, "This field is required."),
        (
            "tasks",
            {"kind": "contact", "due_on": "2020-01-01", "assigned_to": "{me}"},
            "The due date has already passed.",
        ),
        ("consent", {"scope": "sharing", "given": "yes"}, "Sharing consent names the partner it is given for."),
        ("consent", {"scope": "sharing", "given": "yes", "partner": "999999"}, "Select a valid choice."),
        ("referrals", {"partner": "{partner}", "area": "medical", "referred_on": "{today}"}, "has not consented"),
        ("status", {"status": "vanished"}, "Select a valid choice. vanished is not one of the available choices."),
        ("status", {"status": "sheltered"}, "The case already has this status."),
    ],
)
def test_bad_care_input_is_refused_with_a_clear_message(
    caseworker_client: Any,
    caseworker: User,
    person_at_a: Person,
    partner: Any,
    form: str,
    data: dict[str, str],
    message: str,
) -> None:
    path = {
        "services": "services/new",
        "needs": "needs/new",
        "episodes": "episodes/new",
        "family": "family",
        "notes": "notes/new",
        "goals": "goals/new",
        "tasks": "tasks/new",
        "consent": "consent",
        "referrals": "referrals/new",
        "status": "status",
    }[form]
    url = f"/cases/{person_at_a.case_code}/{path}/"
    fill = {
        "today": timezone.localdate().isoformat(),
        "tomorrow": tomorrow(),
        "next_month": next_month(),
        "me": str(caseworker.pk),
        "partner": str(partner.pk),
    }
    assert caseworker_client.get(url).status_code == 200
    before = snapshot()
    response = caseworker_client.submit(url, {k: v.format(**fill) for k, v in data.items()})
    refused(response, message, before)


def test_a_family_link_to_a_case_one_may_not_see_reads_as_unknown(
    caseworker_client: Any, person_at_a: Person, person_at_b: Person
) -> None:
    url = f"/cases/{person_at_a.case_code}/family/"
    caseworker_client.get(url)
    before = snapshot()
    response = caseworker_client.submit(url, {"relative": person_at_b.case_code, "relation": "mother"})
    refused(response, "No case with this code.", before)


def test_a_birth_year_of_1700_is_refused_on_the_edit_form_too(caseworker_client: Any, person_at_a: Person) -> None:
    url = f"/cases/{person_at_a.case_code}/edit/"
    caseworker_client.get(url)
    before = snapshot()
    response = caseworker_client.submit(url, {"sex": "F", "birth_year": "1700", "origin_province": "unknown"})
    refused(response, f"Birth year must be between 1900 and {timezone.localdate().year}.", before)


# --- stations and users ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"capacity": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"code_name": "ALDER"}, "A station with this code name exists already."),
        ({"code_name": "X" * 5000}, "Ensure this value has at most 40 characters (it has 5000)."),
        ({"country": "Atlantis"}, "Select a valid choice. Atlantis is not one of the available choices."),
    ],
)
def test_a_bad_station_is_refused_with_a_clear_message(
    coordinator: User, station_a: Station, client_for: Any, data: dict[str, str], message: str
) -> None:
    client = client_for(coordinator)
    client.get("/stations/new/")
    values = {"code_name": "ELM", "country": "CN", "region": "Liaoning", "kind": "safe_house", "capacity": "3"}
    before = snapshot()
    refused(client.submit("/stations/new/", {**values, **data}), message, before)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_station": "CEDAR", "usual_days": "-5"}, "Ensure this value is greater than or equal to 1."),
        ({"to_station": "NOWHERE", "usual_days": "3"}, "Unknown station. Choose one from the list."),
        ({"to_station": "ALDER", "usual_days": "3"}, "A leg joins two different stations."),
    ],
)
def test_a_bad_leg_is_refused_with_a_clear_message(
    coordinator: User, station_a: Station, station_c: Station, client_for: Any, data: dict[str, str], message: str
) -> None:
    client = client_for(coordinator)
    client.get("/stations/ALDER/")
    before = snapshot()
    refused_with_redirect(client, client.submit("/stations/ALDER/legs/", data), message, before)


def test_an_unknown_station_status_is_refused(coordinator: User, station_a: Station, client_for: Any) -> None:
    client = client_for(coordinator)
    client.get("/stations/ALDER/")
    before = snapshot()
    response = client.submit("/stations/ALDER/status/", {"status": "exploded"})
    refused_with_redirect(
        client, response, "Select a valid choice. exploded is not one of the available choices.", before
    )


def test_a_bad_username_is_refused(administrator: User, keeper_a: User, client_for: Any) -> None:
    client = client_for(administrator)
    client.get("/accounts/users/new/")
    for data, message in [
        ({"username": "keeper-alder", "role": "keeper"}, "This username is taken."),
        ({"username": "x" * 5000, "role": "keeper"}, "Ensure this value has at most 150 characters (it has 5000)."),
        ({"username": "new-one", "role": "superuser"}, "Select a valid choice. superuser is not one of the available"),
    ]:
        before = snapshot()
        refused(client.submit("/accounts/users/new/", data), message, before)


# --- URLs that name nothing ------------------------------------------------------------------------------------------


def test_case_codes_that_do_not_exist_are_not_found(coordinator: User, person_at_a: Person, client_for: Any) -> None:
    client = client_for(coordinator)
    before = snapshot()
    for path in (
        "/cases/XXXX-XXXX/",
        "/cases/ZZZZ-0000/edit/",
        f"/cases/{'A' * 5000}/",
        "/cases/%ff%fe/",
        "/stations/NOWHERE/edit/",
    ):
        assert client.get(path).status_code == 404, path
    assert snapshot() == before


def test_ids_that_are_not_numbers_are_not_found(world: SimpleNamespace, client_for: Any) -> None:
    code = world.person_at_a.case_code
    client = client_for(world.coordinator)
    client.get(f"/cases/{code}/")
    before = snapshot()
    for path in (
        f"/cases/{code}/tasks/abc/done/",
        f"/cases/{code}/tasks/-1/done/",
        f"/cases/{code}/tasks/99999999999999999999999999/done/",
        f"/cases/{code}/goals/1e3/status/",
        f"/cases/{code}/goals/{world.goal_a.pk + 1000}/status/",
        f"/cases/{code}/movements/%20/",
        "/accounts/users/abc/active/",
    ):
        assert client.submit(path, {"status": "achieved"}).status_code == 404, path
    assert snapshot() == before


def test_odd_filters_and_pages_do_not_break_the_lists(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.coordinator)
    for query in (
        {"year": "abc"},
        {"year": "-5"},
        {"q": "Q" * 5000},
        {"station": "NOWHERE"},
        {"status": "vanished"},
        {"page": "999"},
        {"page": "-1"},
        {"page": "x"},
    ):
        assert client.get("/cases/", query).status_code == 200, query
    auditor = client_for(world.auditor)
    for query in ({"case": "not-a-uuid"}, {"action": "A" * 5000}, {"page": "zz"}):
        assert auditor.get("/audit/", query).status_code == 200, query


def test_a_nul_byte_anywhere_is_a_bad_request(keeper: Any, world: SimpleNamespace, client_for: Any) -> None:
    """PostgreSQL refuses NUL in any query: such a request is answered 400 before any view runs."""
    coordinator = client_for(world.coordinator)
    auditor = client_for(world.auditor)
    before = snapshot()
    responses = [
        coordinator.get("/cases/%00%ff/"),
        coordinator.get(f"/cases/{world.person_at_a.case_code[:4]}%00/move/"),
        coordinator.get("/stations/%00/"),
        coordinator.get("/cases/", {"q": "AB\x00CD"}),
        coordinator.get("/cases/", {"station": "\x00"}),
        auditor.get("/audit/", {"action": "\x00"}),
        keeper.submit("/cases/register/", arrival(station="ALD\x00ER")),
        keeper.submit("/cases/register/", arrival(name_hangul="가\x00")),
    ]
    assert [r.status_code for r in responses] == [400] * len(responses)
    assert all(r.headers.get("X-Frame-Options") == "DENY" for r in responses)
    assert snapshot() == before


# --- in the user's language ------------------------------------------------------------------------------------------

KEY_MESSAGES = [
    "Unknown station. Choose one from the list.",
    "This month is in the future.",
    "Enter a month as YYYY-MM, for example 2019-03.",
]


@pytest.mark.parametrize(("language", "chosen_by"), [("ko", "cookie"), ("ko", "browser"), ("zh-hans", "cookie")])
def test_the_messages_come_in_the_users_language(keeper: Any, language: str, chosen_by: str) -> None:
    with translation.override(language):
        translated = [gettext(m) for m in KEY_MESSAGES]
        birth_year = gettext("Birth year must be between %(first)s and %(last)s.") % {
            "first": 1900,
            "last": timezone.localdate().year,
        }
    if any(t == m for t, m in zip(translated, KEY_MESSAGES, strict=True)):
        pytest.skip(f"the {language} catalogue does not translate these messages yet (or is not compiled)")

    headers = {}
    if chosen_by == "cookie":  # the language switch on every page sets this cookie
        keeper.cookies[_language_cookie()] = language
    else:
        headers = {"Accept-Language": f"{language},en;q=0.5"}
    cases = [
        ({"station": "NOWHERE"}, translated[0]),
        ({"left_nk_month": next_month()}, translated[1]),
        ({"left_nk_month": "March 2019"}, translated[2]),
        ({"birth_year": "1700"}, birth_year),
    ]
    for overrides, message in cases:
        before = snapshot()
        refused(keeper.submit("/cases/register/", arrival(**overrides), headers=headers), message, before)


def _language_cookie() -> str:
    from django.conf import settings

    return settings.LANGUAGE_COOKIE_NAME
