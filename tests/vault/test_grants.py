"""Need to know, enforced by the keys too: a case's data key is wrapped for exactly those entitled to read the case
(its coordinators, its assigned caseworkers, the keepers of the station where the person is or is heading), and
always for the recovery key; a change of entitlement adds or removes the wrap at once, or, when the actor does not
hold the key, records a debt that the next holder of the key pays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from waystation.accounts.models import Role, User
from waystation.accounts.services import user_change_password, user_create, user_set_active, user_set_password
from waystation.cases import care_services
from waystation.cases.access import visible_persons
from waystation.cases.models import Person
from waystation.network import services as network_services
from waystation.network.models import Station, StationStatus
from waystation.testing import vault as test_vault
from waystation.vault import crypto, userkeys
from waystation.vault.agent import AGENT
from waystation.vault.fields import open_value
from waystation.vault.grants import KEY_ROLES
from waystation.vault.keyring import Keyring
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant

NEW_PASSWORD = "quiet-harbour-willow-8812"


@pytest.fixture(autouse=True)
def _cheap_key_derivation(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """Key pairs made or re-wrapped here use the personas' cheaper Argon2id, and new passwords a fast hash: these
    tests are about who holds which wrap (the production parameters are checked in test_userkeys.py)."""
    monkeypatch.setattr(userkeys, "KDF", test_vault.FIXTURE_KDF)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


def holds(user: User, person: Person) -> bool:
    return CaseKeyWrap.objects.filter(person=person, holder=user).exists()


def reads(user: User, person: Person) -> str | None:
    """The person's romanized name as ``user`` opens it now with a fresh keyring (None when locked)."""
    keyring = Keyring(user, AGENT.for_user(user.pk))
    try:
        return str(open_value(keyring, Person.objects.get(pk=person.pk), "name_romanized"))
    except crypto.Locked:
        return None


def page(client: Any, person: Person) -> str:
    response = client.get(f"/cases/{person.case_code}/")
    assert response.status_code == 200
    return str(response.content.decode())


NAME_A = "Gasang Hana (fictional)"
NAME_B = "Gasang Dul (fictional)"


# --- assignment ----------------------------------------------------------------------------------------------------


def test_assigning_a_caseworker_gives_the_key_and_ending_it_takes_it_away(
    coordinator: User, caseworker_unassigned: User, person_at_a: Person, client_for: Any
) -> None:
    worker = caseworker_unassigned
    assert not holds(worker, person_at_a) and reads(worker, person_at_a) is None

    assignment = care_services.assignment_set(actor=coordinator, person=person_at_a, worker=worker)
    assert holds(worker, person_at_a)
    assert reads(worker, person_at_a) == NAME_A
    assert NAME_A in page(client_for(worker), person_at_a)

    care_services.assignment_end(actor=coordinator, assignment=assignment)
    assert not holds(worker, person_at_a)
    assert reads(worker, person_at_a) is None  # the worker's own key pair is still open: the wrap is what is gone


# --- movement between stations -------------------------------------------------------------------------------------


def test_a_move_gives_the_destination_keeper_the_key_and_the_arrival_takes_it_from_the_origin(
    keeper_a: User, keeper_b: User, person_at_b: Person, station_a: Station, client_for: Any
) -> None:
    assert holds(keeper_b, person_at_b) and not holds(keeper_a, person_at_b)
    assert reads(keeper_a, person_at_b) is None

    movement = network_services.movement_plan(actor=keeper_b, person=person_at_b, to_station=station_a, depart_now=True)
    assert holds(keeper_a, person_at_b) and holds(keeper_b, person_at_b)  # under way: both stations look out for her
    assert reads(keeper_a, person_at_b) == NAME_B
    assert NAME_B in page(client_for(keeper_a), person_at_b)

    network_services.movement_arrive(actor=keeper_a, movement=movement)
    assert holds(keeper_a, person_at_b)
    assert not holds(keeper_b, person_at_b)
    assert reads(keeper_b, person_at_b) is None


def test_a_compromised_station_s_keeper_loses_every_wrap(
    coordinator: User, keeper_a: User, station_a: Station, person_at_a: Person, person_heading_to_a: Person
) -> None:
    assert holds(keeper_a, person_at_a) and holds(keeper_a, person_heading_to_a)
    network_services.station_set_status(actor=coordinator, station=station_a, status=StationStatus.COMPROMISED)
    assert not CaseKeyWrap.objects.filter(holder=keeper_a).exists()
    assert reads(keeper_a, person_at_a) is None and reads(keeper_a, person_heading_to_a) is None
    assert reads(coordinator, person_at_a) == NAME_A  # the others keep theirs


# --- a coordinator made by an administrator ------------------------------------------------------------------------


@pytest.fixture
def new_coordinator(world: SimpleNamespace) -> User:
    """Made through the real path by an administrator, who holds no case key, so every case key is owed."""
    admin = world.administrator
    assert not CaseKeyWrap.objects.filter(holder=admin).exists()
    user, _password = user_create(actor=admin, username="coord-new-egret", role=Role.COORDINATOR, password=PASSWORD)
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)  # enrolled, so sign_in_fully works
    return user


PASSWORD = "lantern-river-morning-42"  # the personas' password (tests/conftest.py), so sign_in_fully can use it


def _owed_to(user: User) -> set[Any]:
    return set(PendingGrant.objects.filter(user=user, person__isnull=False).values_list("person_id", flat=True))


def test_a_new_coordinator_is_owed_every_case_key_until_a_coordinator_signs_in(
    world: SimpleNamespace, new_coordinator: User, client_for: Any, sign_in_fully: Any
) -> None:
    every = set(Person.objects.values_list("id", flat=True))
    assert _owed_to(new_coordinator) == every
    assert not CaseKeyWrap.objects.filter(holder=new_coordinator).exists()

    sign_in_fully(client_for(None), world.coordinator.username)  # an existing coordinator signs in

    assert not _owed_to(new_coordinator)
    assert set(CaseKeyWrap.objects.filter(holder=new_coordinator).values_list("person_id", flat=True)) == every
    client = client_for(None)
    sign_in_fully(client, new_coordinator.username)
    assert NAME_A in page(client, world.person_at_a)


def test_a_new_coordinator_is_paid_when_an_existing_coordinator_acts(
    world: SimpleNamespace, new_coordinator: User
) -> None:
    care_services.note_add(actor=world.coordinator, person=world.person_at_b, text="A fictional note.")
    assert not _owed_to(new_coordinator)
    test_vault.unlock(new_coordinator, PASSWORD)
    assert reads(new_coordinator, world.person_at_a) == NAME_A
    assert reads(new_coordinator, world.person_heading_to_a) == "Gasang Set (fictional)"


# --- passwords -----------------------------------------------------------------------------------------------------


def test_changing_one_s_own_password_keeps_every_record_readable(
    caseworker: User, person_at_a: Person, client_for: Any, sign_in_fully: Any
) -> None:
    user_change_password(user=caseworker, current=PASSWORD, new=NEW_PASSWORD)
    AGENT.drop_all()
    client = client_for(None)
    sign_in_fully(client, caseworker.username, NEW_PASSWORD)
    assert NAME_A in page(client, person_at_a)
    with pytest.raises(crypto.Tampered):
        test_vault.unlock(caseworker, PASSWORD)  # the old password opens nothing any more


def test_a_reset_by_an_administrator_loses_access_until_a_key_holder_grants_it_again(
    world: SimpleNamespace, client_for: Any, sign_in_fully: Any
) -> None:
    worker, person = world.caseworker, world.person_at_a
    user_set_password(actor=world.administrator, user=worker, password=NEW_PASSWORD)
    assert AGENT.for_user(worker.pk) is None  # the old key pair is gone from memory too

    client = client_for(None)
    sign_in_fully(client, worker.username, NEW_PASSWORD)
    shown = page(client, person)
    assert NAME_A not in shown  # the new key pair opens no wrap made for the old one
    assert reads(worker, person) is None

    sign_in_fully(client_for(None), world.coordinator.username)  # a holder of the key signs in and pays the debt
    assert NAME_A in page(client, person)


# --- standing invariants -------------------------------------------------------------------------------------------


def test_every_case_has_a_recovery_wrap_that_opens_its_key(world: SimpleNamespace) -> None:
    coordinator = Keyring(world.coordinator, AGENT.for_user(world.coordinator.pk))
    persons = list(Person.objects.all())
    assert len(persons) >= 3
    for person in persons:
        (sealed,) = CaseKeyWrap.objects.filter(person=person, holder=None).values_list("sealed", flat=True)
        assert crypto.unseal(test_vault.recovery_key(), bytes(sealed)) == coordinator.case_key(person.id)


def test_an_inactive_user_holds_no_wraps(world: SimpleNamespace, client_for: Any) -> None:
    worker, person = world.caseworker, world.person_at_a
    assert holds(worker, person) and IndexKeyWrap.objects.filter(holder=worker).exists()
    user_set_active(actor=world.administrator, user=worker, active=False)
    assert not CaseKeyWrap.objects.filter(holder=worker).exists()
    assert not IndexKeyWrap.objects.filter(holder=worker).exists()
    assert not PendingGrant.objects.filter(user=worker).exists()
    assert AGENT.for_user(worker.pk) is None
    inactive = world.inactive_user
    assert not CaseKeyWrap.objects.filter(holder=inactive).exists()
    assert not IndexKeyWrap.objects.filter(holder=inactive).exists()


def test_the_wraps_match_who_may_see_each_case(world: SimpleNamespace) -> None:
    """Over the whole network: each user holds the key of exactly the cases they may see; nobody else holds any."""
    test_vault.pay_pending()
    wrong = []
    for user in User.objects.all():
        wrapped = set(CaseKeyWrap.objects.filter(holder=user).values_list("person_id", flat=True))
        entitled = set()
        if user.is_active and user.role in KEY_ROLES:
            entitled = set(visible_persons(user).values_list("id", flat=True))
        if wrapped != entitled:
            wrong.append(f"{user.username} ({user.role}): holds {len(wrapped)}, may see {len(entitled)}")
    assert not wrong, wrong
    assert CaseKeyWrap.objects.filter(holder__role__in=[Role.ANALYST, Role.AUDITOR, Role.ADMINISTRATOR]).count() == 0
