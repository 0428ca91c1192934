"""The services of the person in care: registration, case codes, consent, referrals, history, family, status."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases import care_services
from waystation.cases.choices import CaseStatus, ConsentScope, NeedArea, Relation
from waystation.cases.models import Consent, ExploitationEpisode, FamilyLink, Partner, Person, Referral
from waystation.cases.models.person import CASE_CODE_ALPHABET, normalise_case_code
from waystation.cases.services import (
    consent_given,
    consent_record,
    episode_add,
    family_link_add,
    person_register,
    person_set_status,
    times_sold,
)
from waystation.lib.errors import ServiceError
from waystation.network.models import Country, Movement, MovementStatus, Station, StationStatus
from waystation.network.selectors import current_station_id
from waystation.network.services import station_set_status
from waystation.testing.db import audit_unavailable

CASE_CODE_RE = re.compile(rf"^[{CASE_CODE_ALPHABET}]{{4}}-[{CASE_CODE_ALPHABET}]{{4}}$")


def counts() -> dict[str, int]:
    return {
        "persons": Person.objects.count(),
        "movements": Movement.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def arrival(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sex": "F",
        "birth_year": 1990,
        "origin_province": "ryanggang",
        "left_nk_month": dt.date(2018, 7, 1),
        "first_contact_month": dt.date(2025, 1, 1),
        "languages": ["ko", "zh"],
        "name_hangul": "가상 넷",
        "name_romanized": "Gasang Net (fictional)",
    }
    values.update(overrides)
    return values


# --- registration ----------------------------------------------------------------------------------------------------


def test_registering_an_arrival_creates_the_case_its_intake_movement_and_an_audit_event(
    keeper_a: User, station_a: Station
) -> None:
    before = counts()

    person = person_register(actor=keeper_a, station=station_a, **arrival())

    assert counts() == {name: n + 1 for name, n in before.items()}  # one person, one movement, one audit event
    intake = Movement.objects.get(person=person)
    assert intake.from_station is None and intake.to_station == station_a
    assert intake.status == MovementStatus.ARRIVED and intake.recorded_by == keeper_a
    assert current_station_id(person.pk) == station_a.pk
    assert person.status == CaseStatus.SHELTERED  # a safe house in China
    event = AuditEvent.objects.get(action="person.register", case_id=person.id)
    assert event.actor == keeper_a
    assert event.details == {"station": station_a.pk}


def test_registration_writes_nothing_when_any_part_of_it_fails(
    keeper_a: User, station_a: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Person, intake movement and audit event are one transaction: no audit event, no person."""
    before = counts()

    with audit_unavailable(monkeypatch), pytest.raises(RuntimeError):
        person_register(actor=keeper_a, station=station_a, **arrival())
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"birth_year": 1700}, "birth_year", "Birth year must be between 1900 and"),
        ({"left_nk_month": dt.date(2999, 1, 1)}, "left_nk_month", "This month is in the future."),
        ({"first_contact_month": dt.date(2999, 1, 1)}, "first_contact_month", "This month is in the future."),
        (
            {"left_nk_month": dt.date(2024, 6, 1), "first_contact_month": dt.date(2020, 1, 1)},
            "first_contact_month",
            "First contact cannot come before leaving North Korea.",
        ),
        ({"name_hangul": " ", "name_romanized": ""}, "name_hangul", "Enter at least one form of the name."),
        ({"date_of_birth": "1990-02-30"}, "date_of_birth", "Enter the date of birth as YYYY-MM-DD."),
        ({"date_of_birth": "1991-05-05"}, "date_of_birth", "The date of birth does not match the birth year."),
        ({"languages": ["klingon"]}, "languages", "Unknown language code: klingon."),
    ],
)
def test_a_refused_registration_says_why_and_writes_nothing(
    keeper_a: User, station_a: Station, overrides: dict[str, Any], field: str, message: str
) -> None:
    before = counts()
    with pytest.raises(ServiceError) as refused:
        person_register(actor=keeper_a, station=station_a, **arrival(**overrides))
    assert refused.value.message.startswith(message)
    assert refused.value.field == field
    assert counts() == before


@pytest.mark.parametrize("status", [StationStatus.SUSPENDED, StationStatus.COMPROMISED, StationStatus.CLOSED])
def test_nobody_is_registered_at_a_station_that_is_not_active(
    keeper_a: User, coordinator: User, station_a: Station, status: str
) -> None:
    station_set_status(actor=coordinator, station=station_a, status=status)
    before = counts()
    with pytest.raises(ServiceError, match="This station is not active"):
        person_register(actor=keeper_a, station=station_a, **arrival())
    assert counts() == before


def test_arrival_status_follows_the_country_of_the_station(keeper_a: User, coordinator: User) -> None:
    from waystation.network.services import station_create

    laos = station_create(actor=coordinator, code_name="LAO-1", country=Country.LAOS, region="North", kind="transit")
    seoul = station_create(
        actor=coordinator, code_name="SEOUL", country=Country.SOUTH_KOREA, region="Seoul", kind="destination"
    )
    assert person_register(actor=coordinator, station=laos, **arrival()).status == CaseStatus.THIRD_COUNTRY
    assert person_register(actor=coordinator, station=seoul, **arrival()).status == CaseStatus.ARRIVED_KR


# --- case codes ------------------------------------------------------------------------------------------------------


def test_case_codes_are_random_and_easy_to_read_aloud(keeper_a: User, station_a: Station) -> None:
    codes = [person_register(actor=keeper_a, station=station_a, **arrival()).case_code for _ in range(25)]

    assert all(CASE_CODE_RE.match(code) for code in codes), codes
    assert len(set(codes)) == len(codes)
    # No order that leaks counts: codes are not handed out in sequence (1 chance in 25! of a false alarm).
    assert codes != sorted(codes)
    # No look-alike characters that a hand-copied or phoned-in code would garble.
    assert not set("".join(codes)) & set("0O1I2Z5S6G8B")


def test_case_codes_are_found_however_they_are_typed(person_at_a: Person) -> None:
    code = person_at_a.case_code
    typed = [code.lower(), code.replace("-", ""), f"  {code.lower().replace('-', ' ')} "]
    assert {normalise_case_code(t) for t in typed} == {code}


# --- consent and referrals -------------------------------------------------------------------------------------------


@pytest.fixture
def other_partner(db: None) -> Partner:
    return Partner.objects.create(name="Mekong Clinic (fictional)", country=Country.LAOS)


def refer(actor: User, person: Person, partner: Partner) -> Referral:
    return care_services.referral_make(
        actor=actor, person=person, partner=partner, area=NeedArea.MEDICAL, referred_on=timezone.localdate()
    )


def test_a_referral_needs_consent_to_share_with_that_very_partner(
    caseworker: User, person_at_a: Person, partner: Partner, other_partner: Partner
) -> None:
    before = Referral.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ServiceError, match="has not consented to sharing with Harbour Legal Aid"):
        refer(caseworker, person_at_a, partner)
    assert (Referral.objects.count(), AuditEvent.objects.count()) == before

    # Consent for another partner, or to something else, does not count.
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=other_partner)
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SERVICES, given=True)
    with pytest.raises(ServiceError, match="has not consented"):
        refer(caseworker, person_at_a, partner)

    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    referral = refer(caseworker, person_at_a, partner)
    assert referral.partner == partner
    assert AuditEvent.objects.filter(action="referral.make", case_id=person_at_a.id).count() == 1


def test_a_withdrawal_of_consent_wins_over_the_consent_before_it(
    caseworker: User, person_at_a: Person, partner: Partner
) -> None:
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=False, partner=partner)

    assert not consent_given(person_at_a, ConsentScope.SHARING, partner)
    with pytest.raises(ServiceError, match="has not consented"):
        refer(caseworker, person_at_a, partner)

    # ... and a consent given again later wins over the withdrawal.
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    assert consent_given(person_at_a, ConsentScope.SHARING, partner)
    assert Consent.objects.filter(person=person_at_a).count() == 3  # the history is kept, never overwritten


def test_no_consent_record_means_no_consent(person_at_a: Person, partner: Partner) -> None:
    for scope in ConsentScope.values:
        assert not consent_given(person_at_a, scope, partner if scope == ConsentScope.SHARING else None)


def test_sharing_consent_names_its_partner(caseworker: User, person_at_a: Person) -> None:
    with pytest.raises(ServiceError, match="names the partner"):
        consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True)


def test_consent_is_audited_with_codes_only(caseworker: User, person_at_a: Person, partner: Partner) -> None:
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    event = AuditEvent.objects.get(action="consent.record")
    assert event.details == {"scope": "sharing", "given": True, "partner": partner.pk}
    assert event.case_id == person_at_a.id


# --- exploitation history --------------------------------------------------------------------------------------------


def test_times_sold_is_derived_from_the_episodes(caseworker: User, person_at_a: Person, client_for: Any) -> None:
    assert times_sold(person_at_a) == 0
    episode_add(
        actor=caseworker,
        person=person_at_a,
        exploitation_type="forced_marriage",
        start_month=dt.date(2015, 1, 1),
        end_month=dt.date(2018, 6, 1),
        was_sold=True,
    )
    episode_add(actor=caseworker, person=person_at_a, exploitation_type="forced_marriage", was_sold=True)
    episode_add(actor=caseworker, person=person_at_a, exploitation_type="forced_labour", was_sold=False)

    assert times_sold(person_at_a) == 2
    assert times_sold(person_at_a, list(person_at_a.episodes.all())) == 2  # from episodes already read: the same
    page = client_for(caseworker).get(f"/cases/{person_at_a.case_code}/")
    assert "Sold 2 times" in page.content.decode()


def test_an_episode_cannot_end_before_it_starts(caseworker: User, person_at_a: Person) -> None:
    with pytest.raises(ServiceError, match="The end month comes before the start month."):
        episode_add(
            actor=caseworker,
            person=person_at_a,
            exploitation_type="forced_marriage",
            start_month=dt.date(2019, 5, 1),
            end_month=dt.date(2019, 1, 1),
        )
    assert not ExploitationEpisode.objects.exists()


# --- family and status -----------------------------------------------------------------------------------------------


def test_family_links_are_between_two_different_people_once(
    caseworker: User, person_at_a: Person, person_at_b: Person
) -> None:
    with pytest.raises(ServiceError, match="cannot be their own relative"):
        family_link_add(actor=caseworker, person=person_at_a, relative=person_at_a, relation=Relation.MOTHER)

    family_link_add(
        actor=caseworker, person=person_at_a, relative=person_at_b, relation=Relation.MOTHER, stateless=True
    )
    with pytest.raises(ServiceError, match="already linked"):
        family_link_add(actor=caseworker, person=person_at_b, relative=person_at_a, relation=Relation.CHILD)
    assert FamilyLink.objects.count() == 1


def test_status_changes_are_audited_and_a_repeat_is_refused(caseworker: User, person_at_a: Person) -> None:
    person_set_status(actor=caseworker, person=person_at_a, status=CaseStatus.CLOSED)
    person_at_a.refresh_from_db()
    assert person_at_a.status == CaseStatus.CLOSED and person_at_a.closed_at is not None
    event = AuditEvent.objects.filter(action="person.status", case_id=person_at_a.id).latest("id")
    assert event.details == {"from": "sheltered", "to": "closed"}

    with pytest.raises(ServiceError, match="already has this status"):
        person_set_status(actor=caseworker, person=person_at_a, status=CaseStatus.CLOSED)
    with pytest.raises(ServiceError, match="Unknown status"):
        person_set_status(actor=caseworker, person=person_at_a, status="vanished")

    person_set_status(actor=caseworker, person=person_at_a, status=CaseStatus.SHELTERED)
    person_at_a.refresh_from_db()
    assert person_at_a.closed_at is None


# --- care ------------------------------------------------------------------------------------------------------------


def test_a_follow_up_task_cannot_be_due_in_the_past(coordinator: User, caseworker: User, person_at_a: Person) -> None:
    with pytest.raises(ServiceError, match="already passed"):
        care_services.task_add(
            actor=coordinator,
            person=person_at_a,
            kind="contact",
            due_on=timezone.localdate() - dt.timedelta(days=1),
            assigned_to=caseworker,
        )


def test_only_an_active_caseworker_is_assigned_and_only_once(
    coordinator: User, caseworker: User, keeper_a: User, inactive_user: User, person_at_a: Person
) -> None:
    for worker in (keeper_a, inactive_user):
        with pytest.raises(ServiceError, match="Only an active caseworker"):
            care_services.assignment_set(actor=coordinator, person=person_at_a, worker=worker)
    with pytest.raises(ServiceError, match="already assigned"):
        care_services.assignment_set(actor=coordinator, person=person_at_a, worker=caseworker)


@pytest.mark.parametrize("quantity", [0, -3, 367])
def test_a_service_quantity_is_between_1_and_366(caseworker: User, person_at_a: Person, quantity: int) -> None:
    with pytest.raises(ServiceError, match="Quantity must be between 1 and 366."):
        care_services.service_record(
            actor=caseworker,
            person=person_at_a,
            kind="shelter_nights",
            delivered_on=timezone.localdate(),
            quantity=quantity,
        )
