"""The rules of the case services: each refusal says why, on which field, and writes nothing; the allowed path works.

"Nothing written" is checked the strict way: the row count of every table of the project (audit events included)
and the person's own row are the same before and after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases import care_services
from waystation.cases.choices import (
    ENDED_STATUSES,
    INVERSE_RELATION,
    CaseStatus,
    ConsentScope,
    GoalStatus,
    Language,
    NeedLevel,
    Relation,
    Sex,
    inverse_relation,
)
from waystation.cases.models import CarePlanGoal, Consent, FamilyLink, Partner, Person
from waystation.cases.services import (
    consent_record,
    episode_add,
    family_link_add,
    person_register,
    person_set_status,
    person_update,
)
from waystation.lib.choices import check_choice, check_choices
from waystation.lib.errors import ServiceError
from waystation.network import services as network_services
from waystation.network.models import Station
from waystation.network.selectors import open_movement
from waystation.testing.db import audit_unavailable, row_counts
from waystation.testing.vault import opened

CHOICE = "Select a valid choice. {} is not one of the available choices."


snapshot = row_counts


def row(person: Person) -> dict[str, Any]:
    return dict(Person.objects.filter(pk=person.pk).values().get())


@contextmanager
def refused(message: str, field: str | None, person: Person | None = None) -> Iterator[None]:
    """The block must raise a ServiceError with exactly this message and field, and change nothing."""
    before, person_before = snapshot(), row(person) if person else None
    with pytest.raises(ServiceError) as caught:
        yield
    assert caught.value.message == message
    assert caught.value.field == field
    assert snapshot() == before, "a refused call wrote something"
    if person is not None:
        assert row(person) == person_before, "a refused call changed the person"


def today() -> dt.date:
    return timezone.localdate()


# --- the choice helpers -----------------------------------------------------------------------------------------------


def test_check_choice_accepts_codes_and_refuses_everything_else() -> None:
    assert check_choice("F", Sex, field="sex") == "F"
    assert check_choice("", Sex, field="sex", blank=True) == ""
    for bad in ("X", "", None, 1, ["F"], {"F": 1}):
        with pytest.raises(ServiceError) as caught:
            check_choice(bad, Sex, field="sex")
        assert caught.value.field == "sex"
    with pytest.raises(ServiceError, match="is not one of the available choices"):
        check_choice(True, NeedLevel, field="medical")  # True == 1, but it is not a level


def test_check_choices_sorts_removes_repeats_and_refuses_a_bare_string() -> None:
    assert check_choices(["zh", "ko", "zh"], Language, field="languages") == ["ko", "zh"]
    assert check_choices(None, Language, field="languages") == []
    with pytest.raises(ServiceError) as caught:
        check_choices("ko", Language, field="languages")  # a string is not a list of codes
    assert caught.value.field == "languages"
    with pytest.raises(ServiceError) as caught:
        check_choices(["ko", "xx", "qq"], Language, field="languages")
    assert caught.value.message == CHOICE.format("qq, xx")


# --- registration and update ------------------------------------------------------------------------------------------


def arrival(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sex": "F",
        "birth_year": 1990,
        "origin_province": "ryanggang",
        "left_nk_month": dt.date(2018, 7, 1),
        "first_contact_month": dt.date(2025, 1, 1),
        "languages": ["ko"],
        "name_hangul": "가상 다섯",
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"sex": "X"}, "sex", CHOICE.format("X")),
        ({"sex": None}, "sex", CHOICE.format("None")),
        ({"origin_province": "atlantis"}, "origin_province", CHOICE.format("atlantis")),
        ({"languages": "ko"}, "languages", "Unknown language code: ko."),
        ({"languages": ["ko", "tlh"]}, "languages", "Unknown language code: tlh."),
    ],
)
def test_registration_refuses_unknown_codes(
    keeper_a: User, station_a: Station, overrides: dict[str, Any], field: str, message: str
) -> None:
    with refused(message, field):
        person_register(actor=keeper_a, station=station_a, **arrival(**overrides))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"sex": "X"}, "sex", CHOICE.format("X")),
        ({"origin_province": "atlantis"}, "origin_province", CHOICE.format("atlantis")),
        ({"languages": ["klingon"]}, "languages", "Unknown language code: klingon."),
        ({"languages": 7}, "languages", "Unknown language code: 7."),
        (
            {"name_hangul": "  ", "name_romanized": "", "name_chinese": ""},
            "name_hangul",
            "Enter at least one form of the name.",
        ),
        (
            {"left_nk_month": dt.date(2024, 6, 1)},  # stored first contact: 2024-05
            "first_contact_month",
            "First contact cannot come before leaving North Korea.",
        ),
        (
            {"first_contact_month": dt.date(2019, 1, 1)},  # stored departure: 2019-03
            "first_contact_month",
            "First contact cannot come before leaving North Korea.",
        ),
    ],
)
def test_an_update_is_refused_with_a_service_error_never_a_value_error(
    caseworker: User, person_at_a: Person, changes: dict[str, Any], field: str, message: str
) -> None:
    with refused(message, field, person_at_a):
        person_update(actor=caseworker, person=person_at_a, **changes)


def test_an_update_keeps_one_form_of_the_name_and_checks_the_months_as_a_pair(
    caseworker: User, person_at_a: Person
) -> None:
    # Clearing two forms of the name is fine while one is left; moving both months together is fine.
    person_update(
        actor=caseworker,
        person=person_at_a,
        name_hangul="",
        name_romanized=" Gasang Hana (fictional) ",
        sex="U",
        left_nk_month=dt.date(2024, 6, 1),
        first_contact_month=dt.date(2024, 8, 1),
    )
    person_at_a.refresh_from_db()
    names = (opened(person_at_a, "name_hangul"), opened(person_at_a, "name_romanized"))
    assert names == ("", "Gasang Hana (fictional)")
    assert person_at_a.sex == "U" and person_at_a.left_nk_month == dt.date(2024, 6, 1)
    event = AuditEvent.objects.filter(action="person.update").latest("id")
    # The romanized name, stripped, is what was stored: not a change.
    assert event.details == {"fields": ["first_contact_month", "left_nk_month", "name_hangul", "sex"]}


# --- exploitation history ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"exploitation_type": "pirates"}, "exploitation_type"),
        ({"exploitation_type": ""}, "exploitation_type"),
        ({"province_in_china": "atlantis"}, "province_in_china"),
        ({"perpetrator_roles": ["smuggler", "wizard"]}, "perpetrator_roles"),
        ({"perpetrator_roles": "smuggler"}, "perpetrator_roles"),
        ({"control_methods": ["spells"]}, "control_methods"),
        ({"recruitment_method": "carrier_pigeon"}, "recruitment_method"),
        ({"trafficker_relation": "twin"}, "trafficker_relation"),
    ],
)
def test_an_episode_with_an_unknown_code_is_refused(
    caseworker: User, person_at_a: Person, overrides: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"exploitation_type": "forced_marriage", **overrides}
    bad = next(iter(overrides.values()))
    shown = bad if isinstance(bad, str) else "wizard" if "wizard" in bad else bad[0]
    with refused(CHOICE.format(shown), field, person_at_a):
        episode_add(actor=caseworker, person=person_at_a, **values)


def test_an_episode_with_known_codes_is_recorded(caseworker: User, person_at_a: Person) -> None:
    episode = episode_add(
        actor=caseworker,
        person=person_at_a,
        exploitation_type="forced_marriage",
        province_in_china="jilin",
        perpetrator_roles=["sold_individual", "bought_individual", "sold_individual"],
        control_methods=["restricts_movement"],
        recruitment_method="",
        trafficker_relation="stranger",
    )
    assert episode.perpetrator_roles == ["bought_individual", "sold_individual"]
    assert episode.recruitment_method == "" and episode.province_in_china == "jilin"


# --- care -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "risk", "field", "shown"),
    [
        ({"medical": 2}, "apocalyptic", "risk_level", "apocalyptic"),
        ({"medical": 7}, "high", "medical", "7"),
        ({"medical": "2"}, "high", "medical", "2"),
        ({"medical": True}, "high", "medical", "True"),
        ({"medical": 1, "karma": 2}, "high", "levels", "karma"),
    ],
)
def test_a_needs_assessment_with_unknown_codes_is_refused(
    caseworker: User, person_at_a: Person, levels: dict[str, Any], risk: str, field: str, shown: str
) -> None:
    with refused(CHOICE.format(shown), field, person_at_a):
        care_services.needs_assess(
            actor=caseworker, person=person_at_a, assessed_on=today(), levels=levels, risk_level=risk
        )


def test_a_needs_assessment_with_known_codes_is_recorded(caseworker: User, person_at_a: Person) -> None:
    assessment = care_services.needs_assess(
        actor=caseworker, person=person_at_a, assessed_on=today(), levels={"medical": 3, "safety": 0}, risk_level="low"
    )
    assert (assessment.medical, assessment.safety, assessment.risk_level) == (3, 0, "low")


def test_care_records_with_unknown_codes_are_refused(caseworker: User, person_at_a: Person, partner: Partner) -> None:
    consent_record(actor=caseworker, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    calls: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "area",
            "fun",
            lambda: care_services.goal_add(actor=caseworker, person=person_at_a, area="fun", description="x"),
        ),
        (
            "kind",
            "massage",
            lambda: care_services.service_record(
                actor=caseworker, person=person_at_a, kind="massage", delivered_on=today()
            ),
        ),
        (
            "area",
            "fun",
            lambda: care_services.referral_make(
                actor=caseworker, person=person_at_a, partner=partner, area="fun", referred_on=today()
            ),
        ),
        (
            "kind",
            "massage",
            lambda: care_services.task_add(
                actor=caseworker, person=person_at_a, kind="massage", due_on=today(), assigned_to=caseworker
            ),
        ),
        ("kind", "diary", lambda: care_services.note_add(actor=caseworker, person=person_at_a, text="x", kind="diary")),
    ]
    for field, bad, call in calls:
        with refused(CHOICE.format(bad), field, person_at_a):
            call()

    # With known codes each of them is recorded.
    care_services.goal_add(actor=caseworker, person=person_at_a, area="medical", description="See a doctor")
    care_services.service_record(actor=caseworker, person=person_at_a, kind="medical", delivered_on=today())
    care_services.referral_make(
        actor=caseworker, person=person_at_a, partner=partner, area="documents_legal", referred_on=today()
    )
    care_services.note_add(actor=caseworker, person=person_at_a, text="(fictional) fine", kind="counselling")


ASSIGNEE = "Choose someone active who works on this case: their caseworker, a coordinator or their keeper."


@pytest.mark.parametrize(
    "who", ["analyst", "auditor", "administrator", "inactive", "caseworker_unassigned", "keeper_b"]
)
def test_a_task_goes_only_to_someone_who_works_on_the_case(world: Any, who: str) -> None:
    assignee = world.personas.get(who) or getattr(world, who)
    with refused(ASSIGNEE, "assigned_to", world.person_at_a):
        care_services.task_add(
            actor=world.coordinator,
            person=world.person_at_a,
            kind="contact",
            due_on=today(),
            assigned_to=assignee,
        )


@pytest.mark.parametrize("who", ["caseworker", "coordinator", "keeper_a"])
def test_a_task_goes_to_the_caseworker_a_coordinator_or_the_keeper_of_the_station(world: Any, who: str) -> None:
    task = care_services.task_add(
        actor=world.coordinator,
        person=world.person_at_a,
        kind="contact",
        due_on=today(),
        assigned_to=getattr(world, who),
    )
    assert task.assigned_to == getattr(world, who)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (GoalStatus.OPEN, GoalStatus.OPEN),
        (GoalStatus.ACHIEVED, GoalStatus.DROPPED),
        (GoalStatus.ACHIEVED, GoalStatus.OPEN),
        (GoalStatus.DROPPED, GoalStatus.ACHIEVED),
        (GoalStatus.DROPPED, GoalStatus.DROPPED),
    ],
)
def test_only_an_open_goal_is_marked_achieved_or_dropped(
    caseworker: User, person_at_a: Person, goal_a: CarePlanGoal, start: str, to: str
) -> None:
    CarePlanGoal.objects.filter(pk=goal_a.pk).update(status=start)
    goal_a.refresh_from_db()
    with refused("Only an open goal can be marked achieved or dropped.", "status", person_at_a):
        care_services.goal_set_status(actor=caseworker, goal=goal_a, status=to)
    goal_a.refresh_from_db()
    assert goal_a.status == start


@pytest.mark.parametrize("to", [GoalStatus.ACHIEVED, GoalStatus.DROPPED])
def test_an_open_goal_is_marked_achieved_or_dropped(caseworker: User, goal_a: CarePlanGoal, to: str) -> None:
    care_services.goal_set_status(actor=caseworker, goal=goal_a, status=to)
    goal_a.refresh_from_db()
    assert goal_a.status == to


# --- case status ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ENDED_STATUSES)
def test_a_case_does_not_end_while_a_movement_is_open(
    coordinator: User, person_at_a: Person, station_c: Station, status: str
) -> None:
    network_services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)
    with refused("End or cancel the open movement first.", "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status=status)

    movement = open_movement(person_at_a.pk)
    assert movement is not None
    network_services.movement_depart(actor=coordinator, movement=movement)
    person_at_a.refresh_from_db()
    with refused("End or cancel the open movement first.", "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status=status)

    network_services.movement_arrive(actor=coordinator, movement=movement)
    person_at_a.refresh_from_db()
    person_set_status(actor=coordinator, person=person_at_a, status=status)  # now it may end
    person_at_a.refresh_from_db()
    assert person_at_a.status == status
    assert (person_at_a.closed_at is not None) == (status == CaseStatus.CLOSED)


def test_in_transit_is_set_by_a_departure_not_by_hand(
    coordinator: User, person_at_a: Person, person_heading_to_a: Person, station_c: Station
) -> None:
    message = "A person is in transit only while a movement is under way: record the departure instead."
    with refused(message, "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.IN_TRANSIT)
    network_services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c)  # planned only
    with refused(message, "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.IN_TRANSIT)

    # Contact lost on the way, then found again on the way: in transit by hand, since a movement is under way.
    person_set_status(actor=coordinator, person=person_heading_to_a, status=CaseStatus.MISSING)
    person_set_status(actor=coordinator, person=person_heading_to_a, status=CaseStatus.IN_TRANSIT)
    person_heading_to_a.refresh_from_db()
    assert person_heading_to_a.status == CaseStatus.IN_TRANSIT


def test_the_same_status_by_hand_is_refused_and_closed_at_follows_the_status(
    coordinator: User, person_at_a: Person
) -> None:
    with refused("The case already has this status.", "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.SHELTERED)
    with refused("Unknown status.", "status", person_at_a):
        person_set_status(actor=coordinator, person=person_at_a, status="vanished")

    person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.CLOSED)
    person_at_a.refresh_from_db()
    assert person_at_a.closed_at is not None
    person_set_status(actor=coordinator, person=person_at_a, status=CaseStatus.RESETTLED)
    person_at_a.refresh_from_db()
    assert person_at_a.closed_at is None
    events = AuditEvent.objects.filter(action="person.status", case_id=person_at_a.id).order_by("id")
    assert [e.details for e in events] == [
        {"from": "sheltered", "to": "closed"},
        {"from": "closed", "to": "resettled"},
    ]


def test_movements_write_the_status_through_the_same_function(
    coordinator: User, person_at_a: Person, station_c: Station
) -> None:
    from waystation.network import services

    assert not hasattr(services, "_set_person_status")  # one place writes a case status
    movement = services.movement_plan(actor=coordinator, person=person_at_a, to_station=station_c, depart_now=True)
    services.movement_end(actor=coordinator, movement=movement, outcome="intercepted")
    events = AuditEvent.objects.filter(action="person.status", case_id=person_at_a.id).order_by("id")
    assert [e.details for e in events] == [
        {"from": "sheltered", "to": "in_transit"},
        {"from": "in_transit", "to": "detained"},
    ]


# --- family -----------------------------------------------------------------------------------------------------------


def test_a_family_link_never_makes_someone_their_own_ancestor(
    keeper_a: User, caseworker: User, station_a: Station
) -> None:
    def person(name: str) -> Person:
        return person_register(actor=keeper_a, station=station_a, **arrival(name_hangul=name))

    grandmother, mother, daughter = person("가상 할머니"), person("가상 어머니"), person("가상 딸")
    family_link_add(actor=caseworker, person=grandmother, relative=mother, relation=Relation.MOTHER)
    family_link_add(actor=caseworker, person=daughter, relative=mother, relation=Relation.CHILD)  # stored the other way

    message = "This link would make someone their own ancestor: check who is the parent and who is the child."
    with refused(message, "relation"):
        family_link_add(actor=caseworker, person=daughter, relative=grandmother, relation=Relation.MOTHER)
    with refused(message, "relation"):
        family_link_add(actor=caseworker, person=grandmother, relative=daughter, relation=Relation.CHILD)
    with refused(message, "relation"):
        family_link_add(actor=caseworker, person=daughter, relative=grandmother, relation=Relation.PARENT)
    with refused("These two people are already linked.", "relative"):
        family_link_add(actor=caseworker, person=mother, relative=grandmother, relation=Relation.MOTHER)

    # The right way round, and relations that are not parent and child, are fine.
    family_link_add(actor=caseworker, person=grandmother, relative=daughter, relation=Relation.OTHER)
    assert FamilyLink.objects.count() == 3


def test_the_inverse_of_a_child_link_is_named_by_the_other_persons_sex() -> None:
    assert inverse_relation(Relation.CHILD, other_sex=Sex.FEMALE) == Relation.MOTHER
    assert inverse_relation(Relation.CHILD, other_sex=Sex.MALE) == Relation.FATHER
    assert inverse_relation(Relation.CHILD, other_sex=Sex.UNKNOWN) == Relation.PARENT
    assert inverse_relation("child", other_sex="") == Relation.PARENT
    for parent in (Relation.MOTHER, Relation.FATHER, Relation.PARENT):
        assert inverse_relation(parent, other_sex=Sex.MALE) == Relation.CHILD
    assert inverse_relation(Relation.SPOUSE, other_sex=Sex.MALE) == Relation.SPOUSE
    assert set(INVERSE_RELATION) == set(Relation)


# --- consent ----------------------------------------------------------------------------------------------------------


def test_withdrawing_consent_to_photos_removes_the_photo(
    coordinator: User, person_at_a: Person, photo_a: bytes
) -> None:
    assert Person.objects.filter(pk=person_at_a.pk, photo__isnull=False).exists()

    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.PHOTOS, given=False)

    assert not Person.objects.filter(pk=person_at_a.pk, photo__isnull=False).exists()
    event = AuditEvent.objects.filter(action="consent.record").latest("id")
    assert event.details == {"scope": "photos", "given": False, "partner": None, "photo_removed": True}
    assert Consent.objects.filter(person=person_at_a, scope="photos").count() == 2


def test_withdrawing_another_consent_keeps_the_photo(coordinator: User, person_at_a: Person, photo_a: bytes) -> None:
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.STATISTICS, given=False)
    assert Person.objects.filter(pk=person_at_a.pk, photo__isnull=False).exists()
    assert "photo_removed" not in AuditEvent.objects.filter(action="consent.record").latest("id").details


def test_a_photo_removal_is_part_of_the_consent_transaction(
    coordinator: User, person_at_a: Person, photo_a: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot()

    with audit_unavailable(monkeypatch), pytest.raises(RuntimeError):
        consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.PHOTOS, given=False)
    assert snapshot() == before
    assert Person.objects.filter(pk=person_at_a.pk, photo__isnull=False).exists()
