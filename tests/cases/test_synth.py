"""``waystation synth``: deterministic, calibrated on the field reports, consistent, refusing bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q
from django.utils import timezone

from waystation import synth
from waystation.accounts.models import Role, User
from waystation.audit.models import AuditEvent
from waystation.cases.choices import ENDED_STATUSES, CaseStatus, Province, Relation
from waystation.cases.htcds import ExploitationType
from waystation.cases.models import (
    Assignment,
    CarePlanGoal,
    CaseNote,
    Consent,
    ExploitationEpisode,
    FamilyLink,
    FollowUpTask,
    NeedsAssessment,
    Person,
    Referral,
    ServiceRecord,
)
from waystation.lib.months import this_month
from waystation.network.models import Country, Leg, Movement, MovementStatus, Station, StationKind
from waystation.network.selectors import current_station_id, with_place
from waystation.synth_route import ROLE_ACCOUNTS

pytestmark = pytest.mark.django_db


def _wipe() -> None:
    """An empty network again (the staff accounts stay: the generator reuses them)."""
    Person.objects.all().delete()
    Leg.objects.all().delete()
    Station.objects.all().delete()


def _names() -> list[tuple[str, str, str]]:
    return list(Person.objects.order_by("case_code").values_list("case_code", "name_hangul", "name_romanized"))


@pytest.fixture
def generated() -> dict[str, int]:
    return synth.generate(persons=300, seed=2026)


def test_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    day = dt.date(2026, 6, 15)
    synth.generate(persons=150, seed=5, today=day)
    first, first_names = synth.coded_digest(), _names()
    _wipe()
    synth.generate(persons=150, seed=5, today=day)
    assert synth.coded_digest() == first
    assert _names() == first_names
    _wipe()
    synth.generate(persons=150, seed=6, today=day)
    assert synth.coded_digest() != first


def test_calibrated_on_the_field_reports(generated: dict[str, int]) -> None:
    persons = Person.objects.all()
    women = persons.filter(sex="F")
    assert persons.count() == generated["persons"] == 300
    assert women.count() / persons.count() > 0.7
    trafficked = women.filter(episodes__isnull=False).distinct().count()
    assert trafficked / women.count() > 0.8
    sold = women.annotate(sold=Count("episodes", filter=Q(episodes__was_sold=True)))
    assert sold.filter(sold__gte=2).count() >= 10
    assert set(persons.values_list("status", flat=True)) == set(CaseStatus.values)
    kinds = Counter(ExploitationEpisode.objects.values_list("exploitation_type", flat=True))
    assert kinds.most_common(1)[0][0] == ExploitationType.FORCED_MARRIAGE
    for kind in ("venue_based_prostitution", "remote_interactive_services", "forced_labour"):
        assert kinds[kind] > 0, kind
    from_north = persons.exclude(origin_province=Province.UNKNOWN)
    border = from_north.filter(origin_province__in=[Province.NORTH_HAMGYONG, Province.RYANGGANG]).count()
    assert border / from_north.count() > 0.5
    years = [year or 0 for year in persons.values_list("birth_year", flat=True)]
    assert min(years) >= 1960 and max(years) <= timezone.localdate().year
    statistics = Consent.objects.filter(scope="statistics")
    assert 0.5 < statistics.filter(given=True).count() / statistics.count() < 1
    for model in (NeedsAssessment, ServiceRecord, Referral, FollowUpTask, CaseNote):
        assert model.objects.exists(), model.__name__


def test_children_born_in_china_are_linked_to_their_mother(generated: dict[str, int]) -> None:
    links = FamilyLink.objects.select_related("person", "relative")
    assert links.exists()
    assert links.filter(stateless=True).exists()
    for link in links:
        assert link.relation == Relation.MOTHER and link.person.sex == "F"
        child = link.relative
        assert child.origin_province == Province.UNKNOWN and child.left_nk_month is None
        mother_left = link.person.left_nk_month
        assert mother_left is not None and child.birth_year is not None
        assert mother_left.year < child.birth_year <= timezone.localdate().year
        assert child.status == link.person.status


def test_movements_agree_with_status_and_nothing_is_dated_in_the_future(generated: dict[str, int]) -> None:
    now, month = timezone.now(), this_month()
    persons = list(with_place(Person.objects.all()))
    assert all(p.place_id is not None for p in persons)
    stations = {s.pk: s for s in Station.objects.all()}
    for person in persons:
        moves = list(person.movements.order_by("planned_at", "id"))
        assert moves[0].from_station_id is None and moves[0].status == MovementStatus.ARRIVED
        assert sum(1 for m in moves if m.from_station_id is None) == 1
        statuses = [m.status for m in moves]
        place = stations[current_station_id(person.pk) or 0]
        if person.status == CaseStatus.IN_TRANSIT:
            assert statuses.count(MovementStatus.UNDER_WAY) == 1
        else:
            assert MovementStatus.UNDER_WAY not in statuses
        if person.status in (CaseStatus.DETAINED, CaseStatus.REPATRIATED):
            assert statuses[-1] == MovementStatus.INTERCEPTED
        if person.status == CaseStatus.SHELTERED:
            assert place.country == Country.CHINA and place.kind == StationKind.SAFE_HOUSE
        if person.status == CaseStatus.THIRD_COUNTRY:
            assert place.country not in (Country.CHINA, Country.SOUTH_KOREA)
        if person.status in (CaseStatus.ARRIVED_KR, CaseStatus.RESETTLED):
            assert place.country == Country.SOUTH_KOREA
        for m in moves:
            for moment in (m.planned_at, m.departed_at, m.arrived_at, m.ended_at):
                assert moment is None or moment <= now
        assert person.first_contact_month <= month
        assert person.left_nk_month is None or person.left_nk_month <= person.first_contact_month
        assert person.created_at <= now
    under_way = Movement.objects.filter(status=MovementStatus.UNDER_WAY)
    assert under_way.filter(expected_arrival__lt=now).exists()  # some are overdue
    assert under_way.filter(expected_arrival__gt=now).exists()  # and some are not (yet)
    for start, end in ExploitationEpisode.objects.values_list("start_month", "end_month"):
        assert start is not None and end is not None and start <= end <= month
    today = timezone.localdate()
    assert not ServiceRecord.objects.filter(delivered_on__gt=today).exists()
    assert not NeedsAssessment.objects.filter(assessed_on__gt=today).exists()
    recorded = [
        (CaseNote, "created_at"),
        (CarePlanGoal, "created_at"),
        (FamilyLink, "created_at"),
        (Person, "created_at"),
        (Consent, "recorded_at"),
        (ExploitationEpisode, "recorded_at"),
        (ServiceRecord, "recorded_at"),
        (Assignment, "assigned_at"),
        (Assignment, "ended_at"),
        (FollowUpTask, "done_at"),
        (Person, "closed_at"),
    ]
    for model, column in recorded:
        assert not model.objects.filter(**{f"{column}__gt": now}).exists(), (model.__name__, column)


def test_staff_assignments_keepers_and_texts(generated: dict[str, int]) -> None:
    for username, role in ROLE_ACCOUNTS:
        user = User.objects.get(username=username)
        assert user.role == role and not user.has_usable_password()
    assert User.objects.filter(username="keeper2", role=Role.KEEPER).exists()
    assert User.objects.filter(username="caseworker2", role=Role.CASEWORKER).exists()
    open_cases = Person.objects.exclude(status__in=ENDED_STATUSES)
    assigned = Assignment.objects.filter(ended_at__isnull=True).values("person_id")
    assert not open_cases.exclude(pk__in=assigned).exists()
    mine = Assignment.objects.filter(worker__username="caseworker", ended_at__isnull=True).count()
    assert 20 <= mine <= 60
    assert not Station.objects.filter(keepers__isnull=True).exists()
    kept = Station.objects.filter(keepers__username="keeper", country=Country.CHINA, kind=StationKind.SAFE_HOUSE)
    assert 1 <= kept.count() <= 2
    assert with_place(Person.objects.filter(status=CaseStatus.SHELTERED)).filter(place_id__in=kept).exists()
    for person in Person.objects.all():
        assert person.narrative.startswith("[SYNTHETIC]")
    assert all(text.startswith("[SYNTHETIC]") for text in CaseNote.objects.values_list("text", flat=True))
    event = AuditEvent.objects.get(action="synth.generate")
    assert event.details["persons"] == 300 and event.details["seed"] == 2026


def test_existing_accounts_are_reused() -> None:
    existing = User.objects.create(username="caseworker", role=Role.CASEWORKER)
    synth.generate(persons=30, seed=1, stations=4)
    assert User.objects.filter(username="caseworker").count() == 1
    assert Assignment.objects.filter(worker=existing).exists()
    assert Station.objects.count() == 4


def test_command_prints_json_and_refuses_to_mix_with_existing_persons() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("synth", "--persons", "40", "--seed", "3", "--json", stdout=out, stderr=err)
    counts = json.loads(out.getvalue())
    assert counts["persons"] == 40 and counts["movements"] == Movement.objects.count()
    assert "100%" in err.getvalue()
    with pytest.raises(CommandError, match="already holds 40 persons"):
        call_command("synth", "--persons", "10", "--seed", "4", stdout=out, stderr=err)
    call_command("synth", "--persons", "10", "--seed", "3", "--append", stdout=out, stderr=err)
    assert Person.objects.count() == 50
    assert Station.objects.count() == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--persons", "0", "--seed", "1"], "--persons must be at least 1"),
        (["--persons", "5", "--seed", "1", "--stations", "3"], "--stations must be between 4 and 50"),
        (["--persons", "5", "--seed", "1", "--stations", "51"], "--stations must be between 4 and 50"),
    ],
)
def test_command_refuses_bad_arguments(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("synth", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not Person.objects.exists()


def test_api_refuses_bad_arguments() -> None:
    with pytest.raises(synth.SynthError, match="at least 1"):
        synth.generate(persons=0, seed=1)
    with pytest.raises(synth.SynthError, match="between 4 and 50"):
        synth.generate(persons=1, seed=1, stations=60)


def test_many_stations_make_a_longer_route() -> None:
    counts = synth.generate(persons=60, seed=9, stations=50)
    assert counts["stations"] == 50 == Station.objects.count()
    assert len({p.place_id for p in with_place(Person.objects.all())}) > 5
