"""Lockout after repeated failed sign-ins: per account and address, no user enumeration, audited, unlockable."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent

LOGIN = "/accounts/login/"
_TOKENS = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+"')


def attempt(client: Any, username: str, password: str) -> Any:
    client.get(LOGIN)
    return client.submit(LOGIN, {"username": username, "password": password})


def fingerprint(response: Any) -> tuple[int, tuple[str, ...], str]:
    """What a visitor (or a script) can tell apart: status, templates and the page without its random CSRF token."""
    body = _TOKENS.sub(r'\1"', response.content.decode())
    return response.status_code, tuple(t.name for t in response.templates), body


def lock(client: Any, username: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, username, "not-the-password")


def test_five_failures_lock_the_account_even_for_the_right_password(
    keeper_a: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    response = attempt(client, keeper_a.username, persona_password)
    assert response.status_code == 200
    assert "The username or password is not right." in response.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_four_failures_do_not_lock(keeper_a: User, client_for: Any, persona_password: str) -> None:
    client = client_for(None)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, keeper_a.username, "not-the-password")
    assert attempt(client, keeper_a.username, persona_password).status_code == 302
    assert not AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_unknown_user_wrong_password_and_locked_account_answer_identically(
    keeper_a: User, keeper_b: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    lock(client, keeper_b.username)
    unknown = fingerprint(attempt(client, "nobody-here", "whatever-password"))
    wrong = fingerprint(attempt(client, keeper_a.username, "not-the-password"))
    locked_wrong = fingerprint(attempt(client, keeper_b.username, "not-the-password"))
    locked_right = fingerprint(attempt(client, keeper_b.username, persona_password))
    assert unknown[0] == 200 and "accounts/login.html" in unknown[1]
    assert unknown == wrong == locked_wrong == locked_right


def test_every_failure_and_every_lockout_is_audited_without_the_username(
    keeper_a: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    attempt(client, keeper_a.username, persona_password)
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == settings.AXES_FAILURE_LIMIT + 1
    locked = AuditEvent.objects.filter(action="auth.locked_out")
    assert locked.exists()
    for event in [*failed.values(), *locked.values()]:
        assert keeper_a.username not in str(event)


def test_the_typed_username_is_not_stored_by_the_lockout(keeper_a: User, client_for: Any) -> None:
    client = client_for(None)
    attempt(client, "CANARY-typed-into-username", "not-the-password")
    attempt(client, keeper_a.username, "CANARY-password")
    stored = str(list(AccessAttempt.objects.values()))
    assert "CANARY" not in stored
    assert keeper_a.username not in stored


def test_the_lock_holds_for_one_address_only(keeper_a: User, client_for: Any, persona_password: str) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    elsewhere = client_for(None)
    elsewhere.defaults["REMOTE_ADDR"] = "10.9.8.7"
    assert attempt(elsewhere, keeper_a.username, persona_password).status_code == 302


def test_behind_the_proxy_a_forged_forwarded_address_does_not_escape_the_lock(
    keeper_a: User, client_for: Any, persona_password: str, settings: Any
) -> None:
    settings.BEHIND_PROXY = True
    client = client_for(None)
    client.defaults["REMOTE_ADDR"] = "127.0.0.1"  # every request comes from the proxy
    client.defaults["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"  # the address the proxy saw
    lock(client, keeper_a.username)
    forger = client_for(None)
    forger.defaults["REMOTE_ADDR"] = "127.0.0.1"
    forger.defaults["HTTP_X_FORWARDED_FOR"] = "198.51.100.77, 203.0.113.5"  # a made-up first hop, same real client
    assert attempt(forger, keeper_a.username, persona_password).status_code == 200  # still locked
    other_client = client_for(None)
    other_client.defaults["REMOTE_ADDR"] = "127.0.0.1"
    other_client.defaults["HTTP_X_FORWARDED_FOR"] = "192.0.2.44"  # really another address
    assert attempt(other_client, keeper_a.username, persona_password).status_code == 302


def test_the_lock_ends_after_the_cooloff(keeper_a: User, client_for: Any, persona_password: str) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    assert dt.timedelta(minutes=30) == settings.AXES_COOLOFF_TIME
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31))
    assert attempt(client, keeper_a.username, persona_password).status_code == 302


def test_an_administrator_unlocks_a_user_from_the_users_page(
    keeper_a: User, administrator: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    admin = client_for(administrator)
    page = admin.get("/accounts/users/").content.decode()
    assert f"/accounts/users/{keeper_a.pk}/unlock/" in page
    assert f"/accounts/users/{administrator.pk}/unlock/" not in page  # only locked accounts offer it
    assert admin.submit(f"/accounts/users/{keeper_a.pk}/unlock/").status_code == 302
    event = AuditEvent.objects.get(action="user.unlock")
    assert (event.actor_id, event.target_id) == (administrator.pk, str(keeper_a.pk))
    assert attempt(client, keeper_a.username, persona_password).status_code == 302


def test_only_an_administrator_may_unlock(keeper_a: User, coordinator: User, client_for: Any) -> None:
    client = client_for(None)
    lock(client, keeper_a.username)
    other = client_for(coordinator)
    assert other.submit(f"/accounts/users/{keeper_a.pk}/unlock/").status_code == 403
    assert other.get(f"/accounts/users/{keeper_a.pk}/unlock/").status_code == 405
    assert not AuditEvent.objects.filter(action="user.unlock").exists()


@pytest.mark.parametrize(("failures", "minutes"), [("3", "10")])
def test_the_limit_and_the_cooloff_come_from_the_environment(tmp_path: Any, failures: str, minutes: str) -> None:
    env = {**os.environ, "WAYSTATION_HOME": str(tmp_path), "WAYSTATION_DEV_HTTP": "1"}
    env.update(WAYSTATION_LOCKOUT_FAILURES=failures, WAYSTATION_LOCKOUT_MINUTES=minutes)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='waystation.settings'; django.setup();"
        "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))"
    )
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
    assert out.split() == [failures, str(int(minutes) * 60)]
