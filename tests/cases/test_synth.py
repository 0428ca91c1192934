"""``waystation synth``: deterministic, calibrated on the field reports, consistent, encrypted as the app encrypts,
refusing bad input.

The staff accounts synth makes get key pairs through ``accounts.services.user_create``: for this module's tests
the ``_cheap_staff_keys`` fixture wraps them with the fixtures' cheap Argon2id (``testing.vault.FIXTURE_KDF``) and
hashes their passwords with the fast hasher, as the conftest's ``make_user`` does for the personas; the production
defaults (t=3, 64 MiB) are untouched. Where a test reads names, accounts with the demo's names ("coordinator",
"caseworker", "keeper") are made first by :func:`make_account` (``make_user``'s steps), so that synth reuses them
and their keys are in the agent.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from waystation import synth
from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create
from waystation.audit.models import AuditEvent
from waystation.cases.access import visible_persons
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
from waystation.network.selectors import current_station_id
from waystation.synth_route import ROLE_ACCOUNTS
from waystation.testing import vault as test_vault
from waystation.vault import blind, crypto, setup, userkeys
from waystation.vault.fields import Sealed, open_value
from waystation.vault.keyring import Keyring, keyring_for
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, NameIndex, UserKey
from waystation.vault.reveal import reveal

pytestmark = pytest.mark.django_db

NAME_FIELDS = ["name_hangul", "name_romanized", "name_chinese", "aliases"]
PASSWORD = "lantern-river-morning-42"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(autouse=True)
def _cheap_staff_keys(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff accounts made by synth: the fixtures' cheap key wrapping and password hasher (see the docstring)."""
    monkeypatch.setattr(userkeys, "KDF", test_vault.FIXTURE_KDF)
    settings.PASSWORD_HASHERS = [FAST_HASHER, *settings.PASSWORD_HASHERS]


def make_account(username: str, role: str) -> User:
    """An account made through the accounts service before synth runs, given the index key, its keys held in the
    agent as a sign-in would (the conftest's ``make_user``, under a name synth uses)."""
    test_vault.ensure_vault()
    user, _password = user_create(actor=None, username=username, role=role, password=PASSWORD)
    test_vault.give_index_key(user)
    test_vault.unlock(user, PASSWORD)
    return user


@pytest.fixture
def coordinator_account() -> User:
    """The demo's "coordinator", made before synth runs: synth reuses it, and it holds the key of every case."""
    return make_account("coordinator", Role.COORDINATOR)


def _wipe() -> None:
    """An empty network again (the staff accounts stay: the generator reuses them)."""
    Person.objects.all().delete()
    Leg.objects.all().delete()
    Station.objects.all().delete()


def _names(user: User) -> list[tuple[str, ...]]:
    """Every person's case code and names, decrypted with ``user``'s keys through the one gate that reveals."""
    persons = list(Person.objects.order_by("case_code"))
    values = reveal(user=user, items=[(p, NAME_FIELDS) for p in persons], purpose="test")
    return [(p.case_code, *(str(v[name]) for name in NAME_FIELDS)) for p, v in zip(persons, values, strict=True)]


@pytest.fixture
def generated(coordinator_account: User) -> dict[str, int]:
    return synth.generate(persons=300, seed=2026, index_key=test_vault.index_key()).counts


def test_same_seed_gives_the_same_data_and_another_seed_other_data(coordinator_account: User) -> None:
    day, key = dt.date(2026, 6, 15), test_vault.index_key()
    synth.generate(persons=150, seed=5, today=day, index_key=key)
    first, first_names = synth.coded_digest(), _names(coordinator_account)
    assert all(romanized for _code, _hangul, romanized, *_rest in first_names)
    _wipe()
    synth.generate(persons=150, seed=5, today=day, index_key=key)
    assert synth.coded_digest() == first
    assert _names(coordinator_account) == first_names
    _wipe()
    synth.generate(persons=150, seed=6, today=day, index_key=key)
    assert synth.coded_digest() != first
    assert _names(coordinator_account) != first_names


def test_names_are_sealed_in_the_database_and_found_by_the_blind_index(coordinator_account: User) -> None:
    synth.generate(persons=60, seed=8, index_key=test_vault.index_key())
    names = _names(coordinator_account)
    keyring = keyring_for(coordinator_account)
    for code, hangul, romanized, chinese, aliases in names:
        person_id = Person.objects.get(case_code=code).pk
        for name in (hangul, romanized, chinese, *aliases.splitlines()):
            if name:
                assert person_id in blind.matching(keyring, name), (code, name)
        assert person_id in blind.matching(keyring, romanized.upper().replace("-", " "))  # as typed in a search
    with connection.cursor() as cursor:
        cursor.execute("SELECT name_hangul, name_romanized, narrative FROM cases_person")
        stored = [value for row in cursor.fetchall() for value in row]
    filled = [str(value) for value in stored if value]  # a child born in China has no Hangul name: empty stays empty
    assert len(filled) > len(stored) * 0.9 and all(value.startswith(crypto.TEXT_PREFIX) for value in filled)
    plain = {name for row in names for name in row[1:3] if name}
    assert not any(name in value for value in stored for name in plain)
    if connection.vendor == "sqlite":  # the whole database, every table, as a file copy would hold it
        dump = "\n".join(connection.connection.iterdump())
        assert [name for name in plain if name in dump] == []
    assert NameIndex.objects.count() >= 2 * len(names)


def test_every_case_key_is_wrapped_for_the_staff_it_belongs_to_and_the_recovery_key() -> None:
    keeper, caseworker = make_account("keeper", Role.KEEPER), make_account("caseworker", Role.CASEWORKER)
    coordinator = make_account("coordinator", Role.COORDINATOR)
    synth.generate(persons=120, seed=4, index_key=test_vault.index_key())
    persons = list(Person.objects.all())
    assert CaseKeyWrap.objects.filter(holder=None).count() == len(persons)
    recovery = setup.recovery_keyring(test_vault.recovery_key())
    for person in persons:
        assert str(open_value(recovery, person, "narrative")).startswith("[SYNTHETIC]")
    assert all(keyring_for(coordinator).has_case_key(p.pk) for p in persons)
    for user in (caseworker, keeper):  # each reads exactly the cases the access rules show them
        visible = set(visible_persons(user).values_list("pk", flat=True))
        assert visible and {p.pk for p in persons if keyring_for(user).has_case_key(p.pk)} == visible
    staff = User.objects.exclude(username__in=["keeper", "caseworker", "coordinator"])
    assert staff.exists() and not staff.exclude(pk__in=UserKey.objects.values("user_id")).exists()
    assert IndexKeyWrap.objects.filter(holder__in=staff).count() == staff.count()


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
    persons = list(Person.objects.all())
    assert all(p.place_id is not None for p in persons)
    stations = {s.pk: s for s in Station.objects.all()}
    for person in persons:
        moves = list(person.movements.order_by("planned_at", "id"))
        assert moves[0].from_station_id is None and moves[0].status == MovementStatus.ARRIVED
        assert sum(1 for m in moves if m.from_station_id is None) == 1
        statuses = [m.status for m in moves]
        place = stations[current_station_id(person.pk) or 0]
        assert person.place_id == place.pk  # kept by the database
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


def test_staff_assignments_keepers_and_texts(generated: dict[str, int], coordinator_account: User) -> None:
    for username, role in ROLE_ACCOUNTS:
        user = User.objects.get(username=username)
        assert user.role == role and UserKey.objects.filter(user=user).exists()
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
    assert Person.objects.filter(status=CaseStatus.SHELTERED, place_id__in=kept).exists()
    persons, notes = list(Person.objects.all()), list(CaseNote.objects.all())
    assert all(isinstance(p.narrative, Sealed) for p in persons)
    texts = reveal(
        user=coordinator_account,
        items=[(p, ["narrative"]) for p in persons] + [(n, ["text"]) for n in notes],
        purpose="test",
    )
    assert len(texts) == len(persons) + len(notes)
    assert all(str(next(iter(t.values()))).startswith("[SYNTHETIC]") for t in texts)
    event = AuditEvent.objects.get(action="synth.generate")
    assert event.details["persons"] == 300 and event.details["seed"] == 2026


def test_existing_accounts_are_reused_and_hold_the_keys_of_their_cases() -> None:
    existing = make_account("caseworker", Role.CASEWORKER)
    synth.generate(persons=30, seed=1, stations=4, index_key=test_vault.index_key())
    assert User.objects.filter(username="caseworker").count() == 1
    assignment = Assignment.objects.filter(worker=existing, ended_at__isnull=True).select_related("person").first()
    assert assignment is not None
    (values,) = reveal(user=existing, items=[(assignment.person, ["name_hangul"])], purpose="test")
    assert values["name_hangul"]
    assert Station.objects.count() == 4


def _recovered(shares: list[str]) -> Keyring:
    """A keyring opened with the recovery shares, as ``waystation vault recover`` opens it: every case key and the
    index key."""
    return setup.recovery_keyring(setup.combine(shares))


def test_command_sets_the_vault_up_prints_its_shares_and_refuses_to_mix_with_existing_persons() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("synth", "--persons", "40", "--seed", "3", "--json", stdout=out, stderr=err)
    counts = json.loads(out.getvalue())
    assert counts["persons"] == 40 and counts["movements"] == Movement.objects.count()
    assert "100%" in err.getvalue()
    shares, threshold = counts["recovery_shares"], counts["recovery_threshold"]
    assert len(shares) == 5 and threshold == 3
    with pytest.raises(CommandError, match="already holds 40 persons"):
        call_command("synth", "--persons", "10", "--seed", "4", stdout=out, stderr=err)
    with pytest.raises(CommandError, match="vault is set up already.*index key"):
        call_command("synth", "--persons", "10", "--seed", "3", "--append", stdout=out, stderr=err)
    assert Person.objects.count() == 40

    # The printed shares open every case; with the index key they give, the API appends.
    keyring = _recovered(shares[:threshold])
    result = synth.generate(persons=10, seed=3, append=True, index_key=keyring.index_key())
    assert result.vault is None and Person.objects.count() == 50
    keyring = _recovered(shares[1 : threshold + 1])
    for person in Person.objects.all():
        name = open_value(keyring, person, "name_romanized")
        assert isinstance(name, str) and person.pk in blind.matching(keyring, name)
    assert Station.objects.count() == 8


def test_a_run_into_an_empty_installation_sets_the_vault_up() -> None:
    result = synth.generate(persons=5, seed=2, stations=4)
    assert result.vault is not None and len(result.vault.shares) == 5
    assert setup.is_initialised() and result.counts["persons"] == 5
    assert IndexKeyWrap.objects.filter(holder__isnull=False).count() == User.objects.count()


def test_api_refuses_to_append_without_the_index_key() -> None:
    synth.generate(persons=5, seed=2, stations=4)
    with pytest.raises(synth.SynthError, match="index key"):
        synth.generate(persons=5, seed=3, stations=4, append=True)
    assert Person.objects.count() == 5


def test_api_refuses_an_index_key_without_a_vault() -> None:
    with pytest.raises(synth.SynthError, match="not set up"):
        synth.generate(persons=5, seed=2, index_key=crypto.new_key())
    assert not Person.objects.exists() and not setup.is_initialised()


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
    counts = synth.generate(persons=60, seed=9, stations=50).counts
    assert counts["stations"] == 50 == Station.objects.count()
    assert len({p.place_id for p in Person.objects.all()}) > 5
