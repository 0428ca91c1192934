"""API tokens: made on the page (shown once) and at the command line, refused when revoked, expired, forged or
tampered, useless after deactivation, a duress sign-in, the kill switch or a password reset, and at rest only as
a hash and a wrap that nothing but the token opens."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from waystation.accounts import duress
from waystation.accounts.services import user_set_active, user_set_password
from waystation.api import tokens
from waystation.api.models import ApiToken, TokenKeyWrap
from waystation.audit.models import AuditEvent
from waystation.lib.errors import ServiceError
from waystation.vault import shred
from waystation.vault.agent import AGENT

from .conftest import make_token

TOKEN_RE = re.compile(r"wst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


def _secret(token: str) -> bytes:
    text = token.split("_", 2)[2]
    return base64.urlsafe_b64decode(text + "=")


def _cases(client: Any) -> int:
    return int(client.get("/api/v1/cases/").status_code)


def test_the_page_shows_a_new_token_once_and_it_works(world: SimpleNamespace, client_for: Any, api_client: Any) -> None:
    browser = client_for(world.caseworker)
    assert "/accounts/tokens/" in browser.get("/accounts/security/").content.decode()
    browser.get("/accounts/tokens/")
    page = browser.submit("/accounts/tokens/new/", {"name": "field laptop", "days": "7"})
    assert page.status_code == 200
    shown = TOKEN_RE.findall(page.content.decode())
    assert len(shown) == 1
    token = ApiToken.objects.get(user=world.caseworker)
    assert token.name == "field laptop"
    assert sorted(token.scopes) == sorted(tokens.ROLE_SCOPES["caseworker"])
    assert shown[0] not in browser.get("/accounts/tokens/").content.decode()  # listed, never shown again
    assert AuditEvent.objects.filter(action="api.token_created", actor=world.caseworker).count() == 1
    assert _cases(api_client(token=shown[0])) == 200


def test_creating_a_token_on_the_page_needs_a_recent_password_and_code(world: SimpleNamespace, client_for: Any) -> None:
    browser = client_for(world.caseworker, recent_auth=False)
    browser.get("/accounts/tokens/")
    response = browser.submit("/accounts/tokens/new/", {"name": "field laptop", "days": "7"})
    assert response.status_code == 302 and "/accounts/confirm/" in response["Location"]
    assert not ApiToken.objects.exists()


def test_revoking_on_the_page_ends_the_token_and_destroys_its_wrap(
    world: SimpleNamespace, client_for: Any, api_client: Any
) -> None:
    plaintext = make_token(world.keeper_a)
    token = ApiToken.objects.get()
    assert _cases(api_client(token=plaintext)) == 200
    browser = client_for(world.keeper_a)
    browser.get("/accounts/tokens/")
    assert browser.submit("/accounts/tokens/revoke/", {"token": str(token.pk)}).status_code == 302
    assert _cases(api_client(token=plaintext)) == 401
    assert not TokenKeyWrap.objects.exists()
    assert AuditEvent.objects.filter(action="api.token_revoked", actor=world.keeper_a).count() == 1
    # Someone else's token is not found.
    other = make_token(world.coordinator)
    browser.get("/accounts/tokens/")
    theirs = ApiToken.objects.get(user=world.coordinator)
    assert browser.submit("/accounts/tokens/revoke/", {"token": str(theirs.pk)}).status_code == 404
    assert _cases(api_client(token=other)) == 200


def test_expired_forged_and_tampered_tokens_are_refused(world: SimpleNamespace, api_client: Any) -> None:
    plaintext = make_token(world.coordinator)
    assert _cases(api_client(token=plaintext)) == 200
    prefix, key_id, secret = plaintext.split("_", 2)
    forged = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    for bad in (forged, f"{prefix}_{'0' * 16}_{secret}", "wst_nothing", "", plaintext + "x"):
        response = api_client(token=bad).get("/api/v1/cases/")
        assert response.status_code == 401, bad
        assert response.json()["detail"]
    assert AuditEvent.objects.filter(action="api.token_refused", details__reason="secret").count() == 1

    wrap = TokenKeyWrap.objects.get()
    blob = bytearray(wrap.wrapped_private)
    blob[-1] ^= 1
    TokenKeyWrap.objects.filter(pk=wrap.pk).update(wrapped_private=bytes(blob))
    assert _cases(api_client(token=plaintext)) == 401
    TokenKeyWrap.objects.filter(pk=wrap.pk).update(wrapped_private=wrap.wrapped_private)
    assert _cases(api_client(token=plaintext)) == 200

    idle = make_token(world.coordinator)  # expired too, and never presented again
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _cases(api_client(token=plaintext)) == 401
    assert not TokenKeyWrap.objects.exists()  # expiry destroys the wraps, of the idle token too
    assert _cases(api_client(token=idle)) == 401
    assert AuditEvent.objects.filter(action="api.token_refused", details__reason="expired").exists()


def test_only_a_hash_of_the_token_and_a_wrap_of_the_key_are_stored(world: SimpleNamespace, api_client: Any) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the byte-level search reads SQLite's pages")
    plaintext = make_token(world.coordinator)
    assert _cases(api_client(token=plaintext)) == 200
    secret = _secret(plaintext)
    private = bytes(AGENT.for_user(world.coordinator.pk))  # type: ignore[arg-type]
    connection.ensure_connection()
    assert connection.is_in_memory_db()
    pages = connection.connection.serialize()
    needles = {
        "token": plaintext.encode(),
        "secret (base64)": plaintext.split("_", 2)[2].encode(),
        "secret (raw)": secret,
        "secret (hex)": secret.hex().encode(),
        "private key (raw)": private,
        "private key (hex)": private.hex().encode(),
    }
    found = [name for name, needle in needles.items() if needle in pages]
    assert not found, f"in the database: {found}"
    assert ApiToken.objects.get().secret_hash.encode() in pages  # the search does see what is stored


@pytest.mark.parametrize("event", ["deactivated", "duress", "kill switch", "password reset"])
def test_what_ends_a_users_keys_ends_their_tokens(
    event: str, world: SimpleNamespace, api_client: Any, persona_password: str
) -> None:
    user = world.caseworker
    plaintext = make_token(user)
    assert _cases(api_client(token=plaintext)) == 200
    if event == "deactivated":
        user_set_active(actor=world.administrator, user=user, active=False)
        assert ApiToken.objects.get().revoked
    elif event == "duress":
        duress.duress_triggered(user=user)
    elif event == "kill switch":
        shred.kill_switch(actor=world.coordinator)
    else:
        user_set_password(actor=world.administrator, user=user)
    user.refresh_from_db()
    if event == "deactivated":  # back again: the token stays revoked
        user_set_active(actor=world.administrator, user=user, active=True)
    assert _cases(api_client(token=plaintext)) == 401
    if event != "password reset":  # the reset keeps the wrap of the old key pair, which now opens nothing
        assert not TokenKeyWrap.objects.exists()


def test_scopes_are_limited_by_the_role(world: SimpleNamespace) -> None:
    for role in ("auditor", "administrator"):
        user = world.personas[role]
        with pytest.raises(ServiceError):
            tokens.token_create(actor=user, private_key=AGENT.for_user(user.pk), name="x")  # type: ignore[arg-type]
    keeper = world.keeper_a
    with pytest.raises(ServiceError, match="cases:write"):
        tokens.token_create(
            actor=keeper,
            private_key=AGENT.for_user(keeper.pk),  # type: ignore[arg-type]
            name="x",
            scopes=[tokens.Scope.CASES_WRITE],
        )
    with pytest.raises(ServiceError):  # another user's key is not this user's
        tokens.token_create(actor=keeper, private_key=AGENT.for_user(world.coordinator.pk), name="x")  # type: ignore[arg-type]
    assert not ApiToken.objects.exists()


def test_a_scope_the_role_lost_is_refused(world: SimpleNamespace, api_client: Any) -> None:
    plaintext = make_token(world.coordinator)
    assert _cases(api_client(token=plaintext)) == 200
    world.coordinator.role = "analyst"
    world.coordinator.save(update_fields=["role"])
    assert _cases(api_client(token=plaintext)) == 403


def test_a_token_over_its_rate_answers_429(world: SimpleNamespace, api_client: Any, settings: Any) -> None:
    settings.API_REQUESTS_PER_MINUTE = 3
    busy, other = api_client(world.coordinator), api_client(world.coordinator)
    assert [_cases(busy) for _i in range(3)] == [200, 200, 200]
    response = busy.get("/api/v1/cases/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"]
    assert _cases(other) == 200  # counted per token


def test_the_command_creates_lists_and_revokes(
    world: SimpleNamespace, api_client: Any, persona_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    user = world.keeper_a.username
    out = StringIO()
    call_command(
        "api", "token", "create", "--as", user, "--name", "phone", "--scope", "cases:read", "--json", stdout=out
    )
    created = json.loads(out.getvalue())
    assert TOKEN_RE.fullmatch(created["token"]) and created["scopes"] == ["cases:read"]
    client = api_client(token=created["token"])
    assert _cases(client) == 200
    assert client.get("/api/v1/stations/").status_code == 403  # not a scope it was given
    out = StringIO()
    call_command("api", "token", "list", "--as", user, "--json", stdout=out)
    listed = json.loads(out.getvalue())["tokens"]
    assert [(t["key_id"], t["state"]) for t in listed] == [(created["key_id"], "active")]
    assert created["token"] not in out.getvalue()
    call_command("api", "token", "revoke", created["key_id"], "--as", user, stdout=StringIO())
    assert _cases(client) == 401
    monkeypatch.setenv("WAYSTATION_PASSWORD", "not the password")
    with pytest.raises(CommandError):
        call_command("api", "token", "create", "--as", user, "--name", "phone", stdout=StringIO())
    assert ApiToken.objects.count() == 1
