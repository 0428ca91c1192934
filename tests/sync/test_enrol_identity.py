"""This installation's identity and its peers: key strings and fingerprints people compare, enrolment and
revocation from the command line and the pages (coordinators and administrators only, after a recent proof), and
the identity's private halves, which never sit on disk in the clear and open for coordinators only."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection
from transport_helpers import other_installation

from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create
from waystation.audit.models import AuditEvent
from waystation.sync.identity import SyncError, identity_ensure, identity_open, parse_key_string, public_keys
from waystation.sync.models import IdentityKeyWrap
from waystation.testing import vault as test_vault
from waystation.vault.keyring import Keyring, keyring_for

pytestmark = pytest.mark.django_db


# --- key strings and fingerprints ------------------------------------------------------------------------------------


def test_a_key_string_gives_back_its_keys_and_a_typo_is_caught() -> None:
    keys = other_installation().public
    text = keys.key_string()
    assert parse_key_string(f"  {text[:30]}\n{text[30:]} ") == keys  # pasted over two lines
    typo = text[:20] + ("A" if text[20] != "A" else "B") + text[21:]
    for bad in (typo, text[:-3], "ws1:", "hello", "", text.replace("ws1:", "ws2:")):
        with pytest.raises(SyncError, match="not a Waystation key string"):
            parse_key_string(bad)


def test_a_fingerprint_is_twelve_groups_of_five_digits_and_differs_per_key() -> None:
    one, two = other_installation().public, other_installation().public
    assert re.fullmatch(r"(\d{5} ){11}\d{5}", one.fingerprint())
    assert one.fingerprint() == parse_key_string(one.key_string()).fingerprint()
    assert one.fingerprint() != two.fingerprint()


# --- the identity's private halves ----------------------------------------------------------------------------------


def test_the_identity_is_made_once_and_sealed_to_coordinators_and_the_recovery_key(world: SimpleNamespace) -> None:
    first = identity_ensure(actor=world.administrator)
    assert identity_ensure(actor=world.coordinator) == first
    holders = set(IdentityKeyWrap.objects.values_list("holder__username", flat=True))
    assert holders == {None, world.coordinator.username}
    assert AuditEvent.objects.filter(action="sync.identity_created").count() == 1
    opened = identity_open(keyring_for(world.coordinator))
    assert opened.public == first


def test_no_one_but_a_coordinator_opens_the_identity(world: SimpleNamespace) -> None:
    identity_ensure(actor=world.coordinator)
    for user in (world.administrator, world.keeper_a, world.caseworker, world.analyst):
        with pytest.raises(SyncError, match="do not hold"):
            identity_open(keyring_for(user))
    with pytest.raises(SyncError, match="password is needed"):
        identity_open(Keyring(world.coordinator, None))  # the server restarted: no key in the agent


def another_coordinator(world: SimpleNamespace) -> User:
    """A coordinator made by the administrator after the identity, signed in."""
    with test_vault.persona_keys():
        user, password = user_create(
            actor=world.administrator, username="coord-egret", role=Role.COORDINATOR, password="quiet-harbour-lamp-73"
        )
    test_vault.unlock(user, password)
    return user


def test_a_coordinator_added_later_is_given_the_identity_by_the_next_holder(world: SimpleNamespace) -> None:
    identity_ensure(actor=world.coordinator)
    newcomer = another_coordinator(world)
    with pytest.raises(SyncError, match="do not hold"):
        identity_open(keyring_for(newcomer))
    identity_open(keyring_for(world.coordinator))
    assert identity_open(keyring_for(newcomer)).public == public_keys()


def test_the_identity_needs_the_vault(db: None) -> None:
    with pytest.raises(SyncError, match="vault"):
        identity_ensure(actor=None)


def _stored_bytes() -> bytes:
    """The database as SQLite holds it (pages, free ones included) and every file of the data folder."""
    if connection.vendor != "sqlite":
        pytest.skip("the byte-level search reads SQLite's pages")
    connection.ensure_connection()
    name = str(connection.settings_dict["NAME"])
    blob = connection.connection.serialize() if connection.is_in_memory_db() else Path(name).read_bytes()
    for path in Path(settings.HOME).rglob("*"):
        if path.is_file():
            blob += path.read_bytes()
    return blob


def test_the_private_keys_are_nowhere_on_disk_in_the_clear(world: SimpleNamespace) -> None:
    identity_ensure(actor=world.coordinator)
    opened = identity_open(keyring_for(world.coordinator))
    secrets = [opened.signing.private_bytes_raw(), opened.encryption.private_bytes_raw()]
    public = [opened.public.signing, opened.public.encryption]
    stored = _stored_bytes()
    assert all(key in stored for key in public)  # the search finds what is there
    for secret in secrets:
        for form in (secret, secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)[:40]):
            assert form not in stored


def test_the_kill_switch_takes_the_identity_and_the_recovery_shares_give_it_back(
    world: SimpleNamespace, persona_password: str
) -> None:
    from waystation.sync.identity import identity_reshare
    from waystation.vault import shred

    identity_ensure(actor=world.coordinator)
    shred.kill_switch(actor=world.coordinator)
    test_vault.unlock(world.coordinator, persona_password)
    with pytest.raises(SyncError, match="do not hold"):
        identity_open(keyring_for(world.coordinator))
    assert IdentityKeyWrap.objects.filter(holder__isnull=True).count() == 1

    assert identity_reshare(test_vault.recovery_key()) == 1
    assert identity_open(keyring_for(world.coordinator)).public == public_keys()


def test_recovering_with_the_shares_gives_the_identity_back_after_the_kill_switch(
    world: SimpleNamespace, persona_password: str
) -> None:
    from waystation.vault import setup, shred

    identity_ensure(actor=world.coordinator)
    shred.kill_switch(actor=world.coordinator)
    test_vault.unlock(world.coordinator, persona_password)
    with pytest.raises(SyncError, match="do not hold"):
        identity_open(keyring_for(world.coordinator))

    setup.recover(actor=world.coordinator, shares=test_vault.recovery_shares()[:2])
    assert identity_open(keyring_for(world.coordinator)).public == public_keys()


def test_a_coordinator_who_leaves_loses_the_identity(world: SimpleNamespace) -> None:
    from waystation.accounts.services import user_set_active

    identity_ensure(actor=world.coordinator)
    second = another_coordinator(world)
    identity_open(keyring_for(world.coordinator))
    assert IdentityKeyWrap.objects.filter(holder=second).exists()
    user_set_active(actor=world.administrator, user=second, active=False)
    identity_open(keyring_for(world.coordinator))
    assert not IdentityKeyWrap.objects.filter(holder=second).exists()
