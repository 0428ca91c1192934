"""Re-authentication (accounts.reauth): a stale session gives the password and a code again before a sensitive action.

``client_for(user, recent_auth=False)`` is a session that signed in long enough ago for its proof to be stale.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django_otp.plugins.otp_static.models import StaticToken

from waystation.accounts import second_factor
from waystation.accounts.lockout import username_key
from waystation.accounts.models import User
from waystation.accounts.sessions import REAUTHENTICATED_AT
from waystation.audit.models import AuditEvent

CONFIRM = "/accounts/confirm/"


def next_of(response: Any) -> str:
    """The ``next`` of a redirect to the confirm page (failing when the redirect goes anywhere else)."""
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    assert location.path == CONFIRM, response["Location"]
    return parse_qs(location.query)["next"][0]


def confirm(client: Any, next_url: str, password: str, code: str) -> Any:
    client.get(f"{CONFIRM}?next={next_url}")
    return client.submit(CONFIRM, {"password": password, "token": code, "next": next_url})


# Each gated action: (path, form data, where a stale request comes back to, did it happen?).
def _actions(world: SimpleNamespace) -> dict[str, tuple[str, dict[str, str], str, Callable[[], bool]]]:
    target: User = world.caseworker_unassigned
    return {
        "user_create": (
            "/accounts/users/new/",
            {"username": "cw-new-sparrow", "role": "caseworker"},
            "/accounts/users/new/",
            lambda: User.objects.filter(username="cw-new-sparrow").exists(),
        ),
        "user_set_active": (
            f"/accounts/users/{target.pk}/active/",
            {"active": "0"},
            "/accounts/users/",
            lambda: not User.objects.get(pk=target.pk).is_active,
        ),
        "user_unlock": (
            f"/accounts/users/{target.pk}/unlock/",
            {},
            "/accounts/users/",
            lambda: AuditEvent.objects.filter(action="user.unlock").exists(),
        ),
        "user_reset_2fa": (
            f"/accounts/users/{target.pk}/reset-second-factor/",
            {},
            "/accounts/users/",
            lambda: not second_factor.has_confirmed_device(target),
        ),
        "end_all_sessions": (
            "/accounts/sessions/end-all/",
            {},
            "/accounts/users/",
            lambda: AuditEvent.objects.filter(action="auth.sessions_ended_all").exists(),
        ),
        "backup_codes_new": (
            "/accounts/security/backup-codes/",
            {},
            "/accounts/security/",
            lambda: AuditEvent.objects.filter(action="auth.backup_codes_new").exists(),
        ),
    }


ACTIONS = ["user_create", "user_set_active", "user_unlock", "user_reset_2fa", "end_all_sessions", "backup_codes_new"]


@pytest.mark.parametrize("name", ACTIONS)
def test_a_stale_session_confirms_first_and_then_the_action_works(
    name: str,
    world: SimpleNamespace,
    client_for: Any,
    persona_password: str,
    totp_code: Any,
) -> None:
    actor = world.administrator
    path, data, back, happened = _actions(world)[name]
    client = client_for(actor, recent_auth=False)
    client.get("/")

    response = client.submit(path, data)
    assert next_of(response) == back
    assert not happened(), f"{name} ran without a fresh proof"

    response = confirm(client, back, persona_password, totp_code(actor))
    assert response.status_code == 302 and response["Location"] == back
    assert AuditEvent.objects.filter(action="auth.reauth", actor=actor).exists()

    client.get(back)
    response = client.submit(path, data)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert not response["Location"].startswith(CONFIRM)
    assert happened(), f"{name} did not run after confirming: {response.status_code} {response.get('Location')}"


def test_a_stale_get_of_a_gated_form_comes_back_to_it(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.administrator, recent_auth=False)
    assert next_of(client.get("/accounts/users/new/?x=1")) == "/accounts/users/new/?x=1"


def test_a_fresh_session_is_not_asked(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.administrator)
    assert client.get("/accounts/users/new/").status_code == 200
    client.get("/accounts/security/")
    assert client.submit("/accounts/security/backup-codes/").status_code == 200  # the new codes, shown once


def test_the_proof_goes_stale_after_the_configured_minutes(
    world: SimpleNamespace, client_for: Any, settings: Any
) -> None:
    client = client_for(world.administrator)
    session = client.session
    session[REAUTHENTICATED_AT] -= settings.REAUTH_MINUTES * 60 + 1
    session.save()
    assert next_of(client.get("/accounts/users/new/")) == "/accounts/users/new/"


def test_signing_in_with_both_factors_counts_as_a_fresh_proof(
    world: SimpleNamespace, client_for: Any, sign_in_fully: Any
) -> None:
    client = client_for(None)
    sign_in_fully(client, world.administrator.username)
    assert client.get("/accounts/users/new/").status_code == 200


def test_a_password_alone_at_sign_in_is_not_a_proof(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.administrator, verified=False)
    response = client.get("/accounts/users/new/")
    assert response.status_code == 302 and not response["Location"].startswith(CONFIRM)  # the second step first


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_a_wrong_password_or_code_is_refused_audited_and_counted(
    wrong: str, world: SimpleNamespace, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    actor = world.administrator
    client = client_for(actor, recent_auth=False)
    password = "not-the-password" if wrong == "password" else persona_password
    code = "000000" if wrong == "code" else totp_code(actor)
    if code == "000000" and totp_code(actor) == "000000":  # pragma: no cover - one chance in a million
        pytest.skip("the right code happens to be 000000")
    failed_before = AuditEvent.objects.filter(action="auth.login_failed").count()

    response = confirm(client, "/accounts/users/", password, code)
    assert response.status_code == 200
    assert "The password or the code is not right." in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.reauth_failed", actor=actor, details={"reason": wrong}).count() == 1
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == failed_before + 1
    attempt = AccessAttempt.objects.get(username=username_key(actor.username))
    assert attempt.failures_since_start == 1
    assert not AuditEvent.objects.filter(action="auth.reauth").exists()
    assert next_of(client.get("/accounts/users/new/")) == "/accounts/users/new/"  # still stale


def test_wrong_answers_lock_the_account_and_end_the_session(
    world: SimpleNamespace, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    actor = world.administrator
    client = client_for(actor, recent_auth=False)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert confirm(client, "/", "not-the-password", "000000").status_code == 200
    response = confirm(client, "/", "not-the-password", "000000")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    assert client.get("/").status_code == 302  # signed out
    # another of the user's sessions, from the same address, cannot confirm either
    other = client_for(actor, recent_auth=False)
    response = confirm(other, "/", persona_password, totp_code(actor))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not AuditEvent.objects.filter(action="auth.reauth").exists()


def test_a_reused_totp_code_is_refused(
    world: SimpleNamespace, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    actor = world.administrator
    code = totp_code(actor)
    first, second = client_for(actor, recent_auth=False), client_for(actor, recent_auth=False)
    assert confirm(first, "/", persona_password, code).status_code == 302
    response = confirm(second, "/", persona_password, code)
    assert response.status_code == 200 and "The password or the code is not right." in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.reauth_failed", details={"reason": "code"}).count() == 1


def test_a_backup_code_confirms_once(world: SimpleNamespace, client_for: Any, persona_password: str) -> None:
    actor = world.administrator
    code = second_factor.new_backup_codes(actor=actor, user=actor)[0]
    client = client_for(actor, recent_auth=False)
    assert confirm(client, "/accounts/users/", persona_password, code)["Location"] == "/accounts/users/"
    assert AuditEvent.objects.filter(action="auth.reauth", details={"method": "backup_code"}).exists()
    assert StaticToken.objects.filter(device__user=actor).count() == second_factor.BACKUP_CODES - 1
    again = client_for(actor, recent_auth=False)
    assert confirm(again, "/", persona_password, code).status_code == 200


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example", "//evil.example/accounts/users/", "/\\evil.example", ""]
)
def test_next_never_leaves_the_site(
    evil: str, world: SimpleNamespace, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    actor = world.administrator
    client = client_for(actor, recent_auth=False)
    page = client.get(f"{CONFIRM}?next={evil}").content.decode()
    assert '<input type="hidden" name="next" value="/">' in page  # the form carries only a local fallback
    response = client.submit(CONFIRM, {"password": persona_password, "token": totp_code(actor), "next": evil})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_stale_post_with_a_foreign_next_comes_back_home(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.administrator, recent_auth=False)
    client.get("/")
    response = client.submit("/accounts/sessions/end-all/", {"next": "https://evil.example/"})
    assert next_of(response) == "/accounts/users/"
    assert Session.objects.exists()


def test_signing_out_everywhere_needs_no_fresh_proof(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.keeper_a, recent_auth=False)
    client.get("/accounts/security/")
    response = client.submit("/accounts/sessions/end/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert AuditEvent.objects.filter(action="auth.sessions_ended").exists()


def test_marking_a_station_compromised_needs_no_fresh_proof(world: SimpleNamespace, client_for: Any) -> None:
    client = client_for(world.coordinator, recent_auth=False)
    code_name = world.station_a.code_name
    client.get(f"/stations/{code_name}/")
    response = client.submit(f"/stations/{code_name}/status/", {"status": "compromised"})
    assert response.status_code == 302 and not response["Location"].startswith(CONFIRM)
    world.station_a.refresh_from_db()
    assert world.station_a.status == "compromised"
