"""A cold server knows nothing: after a restart (the key agent emptied) with nobody signed in, no sensitive value of
anyone opens, for any user; a browser that was signed in is signed out; and no usable key is in the database, the
sessions, the data folder or the environment."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection
from vault_helpers import canary_values, fill_through_services

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.testing import vault as test_vault
from waystation.vault import blind, crypto
from waystation.vault.agent import AGENT
from waystation.vault.fields import Sealed, open_value
from waystation.vault.keyring import keyring_for
from waystation.vault.reveal import reveal, sensitive_fields


@pytest.fixture
def filled(world: SimpleNamespace) -> Person:
    """The world, and one more person with every sensitive field of every model filled."""
    values = canary_values("COLD-START", seed=7)
    return fill_through_services(  # type: ignore[no-any-return]
        values,
        actor=world.coordinator,
        station=world.station_a,
        destination=world.station_c,
        partner=world.partner,
    )


def sealed_cells() -> Iterator[tuple[Any, str]]:
    """Every stored (non-empty) sensitive value of every row of every model."""
    for label, names in sensitive_fields().items():
        for obj in apps.get_model(label).objects.all():
            for name in names:
                if isinstance(getattr(obj, obj._meta.get_field(name).attname), Sealed):
                    yield obj, name


def test_after_a_restart_no_sensitive_value_opens_for_anyone(world: SimpleNamespace, filled: Person) -> None:
    cells = list(sealed_cells())
    every_field = {f"{label}.{name}" for label, names in sensitive_fields().items() for name in names}
    assert {f"{obj._meta.label_lower}.{name}" for obj, name in cells} == every_field
    coordinator = keyring_for(world.coordinator)
    assert all(open_value(coordinator, obj, name) for obj, name in cells)  # before: every value opens

    AGENT.drop_all()  # what a restart leaves: the database, and no key in memory

    users: list[User | None] = [None, *User.objects.all()]
    assert len(users) > 8
    opened = []
    for user in users:
        keyring = keyring_for(user)
        for obj, name in cells:
            try:
                opened.append((user, obj, name, open_value(keyring, obj, name)))
            except crypto.Locked:
                continue
    assert not opened, opened[:3]
    with pytest.raises(crypto.Locked):
        blind.matching(keyring_for(world.coordinator), "Gasang Hana (fictional)")


def test_after_a_restart_a_reveal_is_audited_and_shows_nothing(world: SimpleNamespace, filled: Person) -> None:
    AGENT.drop_all()
    before = AuditEvent.objects.filter(action="reveal").count()
    fields = ["name_hangul", "narrative", "photo"]
    try:
        result = reveal(user=world.coordinator, items=[(filled, fields)], purpose="test", case_id=filled.id)
    except crypto.Locked:
        result = None
    if result is not None:  # a locked record reads as empty, marked locked, never as its text
        assert getattr(result[0], "locked", False) and not any(result[0].values())
    assert AuditEvent.objects.filter(action="reveal").count() == before + 1


def test_a_signed_in_browser_is_signed_out_by_a_restart(
    world: SimpleNamespace, client_for: Any, sign_in_fully: Any
) -> None:
    client = client_for(None)
    sign_in_fully(client, world.coordinator.username)
    case = f"/cases/{world.person_at_a.case_code}/"
    assert client.get(case).status_code == 200
    session_key = client.cookies[settings_cookie()].value

    AGENT.drop_all()

    response = client.get(case)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert AuditEvent.objects.filter(action="auth.session_keys_gone", actor=world.coordinator).exists()
    # signed out for good, not merely turned away once: the next page asks for a sign-in too
    assert client.get("/").status_code == 302
    stored = Session.objects.filter(session_key=session_key).first()
    assert stored is None or "_auth_user_id" not in stored.get_decoded()


def settings_cookie() -> str:
    from django.conf import settings

    return str(settings.SESSION_COOKIE_NAME)


# --- no key material at rest -------------------------------------------------------------------------------------


def forms_of(secret: bytes) -> list[bytes]:
    """A key as it could be kept: raw, hex (either case), base64 (standard or URL-safe, padded or not)."""
    b64 = base64.b64encode(secret)
    url = base64.urlsafe_b64encode(secret)
    return [secret, secret.hex().encode(), secret.hex().upper().encode(), b64, b64.rstrip(b"="), url, url.rstrip(b"=")]


def key_material(world: SimpleNamespace) -> dict[str, bytes]:
    """Every unwrapped key there is: users' private keys (from the agent), each case's data key, the index key and
    the recovery key."""
    found: dict[str, bytes] = {}
    for user in User.objects.all():
        private = AGENT.for_user(user.pk)
        if private is not None:
            found[f"private key of {user.username}"] = bytes(private)
    keyring = keyring_for(world.coordinator)
    for person in Person.objects.all():
        found[f"data key of {person.case_code}"] = keyring.case_key(person.id)
    found["index key"] = test_vault.index_key()
    found["recovery key"] = bytes(test_vault.recovery_key())
    assert len(found) > 10
    return found


def search(places: dict[str, bytes], secrets: dict[str, bytes]) -> list[str]:
    return [
        f"{label} in {where}"
        for label, secret in secrets.items()
        for form in forms_of(secret)
        for where, data in places.items()
        if form in data
    ]


@pytest.mark.django_db(transaction=True)
def test_no_usable_key_is_at_rest_anywhere(
    world: SimpleNamespace, filled: Person, client_for: Any, sign_in_fully: Any, tmp_path: Path
) -> None:
    client = client_for(None)
    sign_in_fully(client, world.coordinator.username)
    assert client.get(f"/cases/{filled.case_code}/").status_code == 200
    secrets = key_material(world)
    places = {"environment": json.dumps(dict(os.environ)).encode()}
    connection.ensure_connection()
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        places["database pages"] = connection.connection.serialize()
    elif connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        places |= {p: Path(p).read_bytes() for p in (name, f"{name}-wal", f"{name}-journal") if Path(p).exists()}
    sessions = [(s.session_key, s.session_data, s.get_decoded()) for s in Session.objects.all()]
    assert sessions
    places["sessions"] = json.dumps(sessions, default=repr).encode()
    home = Path(os.environ["WAYSTATION_HOME"])
    places |= {str(p): p.read_bytes() for p in home.rglob("*") if p.is_file()}
    assert not search(places, secrets)
    for share in test_vault.recovery_shares():  # nor the recovery shares, which exist only on paper
        assert " ".join(share.split()[:4]).encode() not in b"".join(places.values())


def test_the_search_for_keys_would_find_one(world: SimpleNamespace) -> None:
    secrets = key_material(world)
    label, secret = next(iter(secrets.items()))
    for form in forms_of(secret):
        assert set(search({"somewhere": b"xx" + form + b"yy"}, secrets)) == {f"{label} in somewhere"}
