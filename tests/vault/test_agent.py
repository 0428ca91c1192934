"""The key agent: what drops a user's keys from memory, and the idle timeout."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from waystation.accounts.sessions import renew_every_seconds
from waystation.vault.agent import AGENT, Agent, handle_for
from waystation.vault.crypto import Locked, new_key_pair
from waystation.vault.fields import open_value
from waystation.vault.keyring import keyring_for

pytestmark = pytest.mark.django_db


def _name_opens(world: SimpleNamespace) -> bool:
    try:
        open_value(keyring_for(world.coordinator), world.person_at_a, "name_romanized")
    except Locked:
        return False
    return True


def test_quick_exit_drops_every_key_of_the_user(world: SimpleNamespace, client_for: Any) -> None:
    phone, laptop = client_for(world.coordinator), client_for(world.coordinator)
    assert _name_opens(world)
    response = phone.get("/exit/")
    assert response.status_code == 302 and "Clear-Site-Data" in response.headers
    assert AGENT.for_user(world.coordinator.pk) is None  # not only this session's: the user may be in danger
    assert not _name_opens(world)
    assert laptop.get("/cases/")["Location"].startswith("/accounts/login/")  # the other session needs a sign-in


def test_signing_out_drops_this_sessions_keys_only(world: SimpleNamespace, client_for: Any) -> None:
    AGENT.drop_all()
    phone, laptop = client_for(world.coordinator), client_for(world.coordinator)
    phone_handle = handle_for(phone.session.session_key)
    phone.submit("/accounts/logout/")
    assert AGENT.get(phone_handle) is None
    assert laptop.get("/cases/").status_code == 200  # the laptop's session keeps its own keys
    assert _name_opens(world)


def test_an_idle_entry_is_forgotten(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.VAULT_AGENT_IDLE_SECONDS = 60
    agent, clock = Agent(), [1000.0]
    monkeypatch.setattr("waystation.vault.agent.time.monotonic", lambda: clock[0])
    agent.put("h", 7, new_key_pair())
    clock[0] += 59
    assert agent.get("h") is not None  # used: the idle time starts again
    clock[0] += 59
    assert agent.for_user(7) is not None
    clock[0] += 61
    assert agent.get("h") is None and agent.for_user(7) is None and len(agent) == 0


@pytest.mark.parametrize("minutes", [30, 5, 1])
def test_the_keys_of_an_idle_session_go_no_later_than_the_session(
    minutes: int, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session is renewed at most ``renew_every_seconds`` before its last request, so it ends that much before
    its idle timeout at the earliest: the agent forgets its keys by then, whatever the idle timeout is set to."""
    settings.SESSION_COOKIE_AGE = minutes * 60
    earliest_end = settings.SESSION_COOKIE_AGE - renew_every_seconds()
    agent, clock = Agent(), [1000.0]
    monkeypatch.setattr("waystation.vault.agent.time.monotonic", lambda: clock[0])
    agent.put("h", 7, new_key_pair())
    clock[0] += earliest_end - 1
    assert agent.get("h") is not None  # an active user keeps her keys
    clock[0] += earliest_end + 1
    assert agent.get("h") is None
