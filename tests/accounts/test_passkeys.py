"""Passkeys (WebAuthn) beside TOTP: adding one (after re-authentication), using one at the second step, removing one.

The browser's authenticator is played by ``SoftAuthenticator``: a real P-256 key that answers the challenge the page
carries exactly as a platform authenticator would (attestation "none", ES256 signatures over authenticator data and
the client data hash), so every answer goes through the real checks of py_webauthn: challenge, relying party id,
origin, signature and counter. The real browser, with Chromium's virtual authenticator, is in
tests/browser/test_passkeys.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent

LOGIN = "/accounts/login/"
SECOND = "/accounts/two-factor/"
PASSKEYS = "/accounts/passkeys/"
ADD = "/accounts/passkeys/add/"
REMOVE = "/accounts/passkeys/remove/"
CONFIRM = "/accounts/confirm/"
ORIGIN = "https://localhost"  # the default origin for the default relying party id "localhost"
_OPTIONS_RE = re.compile(r'<script id="passkey-options" type="application/json">(.*?)</script>', re.S)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey on one device: a P-256 key pair and a signature counter."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    user_handle: bytes = b""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def create(self, options: dict[str, Any], *, origin: str = ORIGIN, rp_id: str | None = None) -> str:
        """The answer to ``navigator.credentials.create`` for these options, as passkeys.js posts it."""
        self.user_handle = unb64url(options["user"]["id"])
        client_data = json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": origin, "crossOrigin": False}
        ).encode()
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key()
        rp_hash = hashlib.sha256((rp_id or options["rp"]["id"]).encode()).digest()
        auth_data = rp_hash + bytes([0x01 | 0x04 | 0x40]) + self.sign_count.to_bytes(4, "big") + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "clientExtensionResults": {"credProps": {"rk": True}},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
            }
        )

    def get(self, options: dict[str, Any], *, origin: str = ORIGIN, rp_id: str | None = None) -> str:
        """The answer to ``navigator.credentials.get`` for these options, as passkeys.js posts it."""
        self.sign_count += 1
        client_data = json.dumps({"type": "webauthn.get", "challenge": options["challenge"], "origin": origin}).encode()
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        auth_data = rp_hash + bytes([0x01 | 0x04]) + self.sign_count.to_bytes(4, "big")
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(self.user_handle),
                },
            }
        )


def page_options(response: Any) -> dict[str, Any]:
    """The ceremony's options, read from the page as passkeys.js reads them."""
    match = _OPTIONS_RE.search(response.content.decode())
    assert match, "the page offers no passkey ceremony"
    return json.loads(match.group(1))


def add_passkey(client: Any, name: str = "work laptop", authenticator: SoftAuthenticator | None = None) -> Any:
    """Open the passkeys page, let the authenticator answer, post the form; returns (authenticator, answer)."""
    authenticator = authenticator or SoftAuthenticator()
    page = client.get(PASSKEYS)
    assert page.status_code == 200
    response = client.submit(ADD, {"name": name, "credential": authenticator.create(page_options(page))})
    return authenticator, response


def password_step(client: Any, user: User, password: str) -> None:
    client.get(LOGIN)
    response = client.submit(LOGIN, {"username": user.username, "password": password})
    assert response.status_code == 302 and response["Location"].startswith(SECOND)
    user.refresh_from_db()  # the fixture's fast hash was upgraded at sign-in; later force_logins need the new one


def passkey_step(client: Any, authenticator: SoftAuthenticator, next_url: str = "/", **answer: Any) -> Any:
    page = client.get(f"{SECOND}?next={next_url}")
    assert page.status_code == 200
    return client.submit(SECOND, {"credential": authenticator.get(page_options(page), **answer), "next": next_url})


@pytest.fixture
def keeper_with_passkey(keeper_a: User, client_for: Any) -> tuple[User, SoftAuthenticator]:
    authenticator, response = add_passkey(client_for(keeper_a))
    assert response.status_code == 302
    return keeper_a, authenticator


# --- adding ----------------------------------------------------------------------------------------------------------


def test_a_verified_user_adds_a_named_passkey(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    page = client.get(PASSKEYS)
    assert "You have no passkey yet." in page.content.decode()
    options = page_options(page)
    assert options["rp"] == {"id": "localhost", "name": "Waystation"}
    # the device keeps these names where anyone holding it may read them: the work alias, nothing more
    assert options["user"]["name"] == options["user"]["displayName"] == keeper_a.username

    _authenticator, response = add_passkey(client, name="work laptop")
    assert response.status_code == 302 and response["Location"] == PASSKEYS
    page = client.get(PASSKEYS)
    assert "The passkey is added." in page.content.decode()
    assert "work laptop" in page.content.decode() and "You have no passkey yet." not in page.content.decode()
    passkey = WebAuthnCredential.objects.get(user=keeper_a)
    assert passkey.name == "work laptop"
    event = AuditEvent.objects.get(action="auth.passkey_added")
    assert (event.actor_id, event.target_id, event.details) == (keeper_a.pk, str(keeper_a.pk), {"passkey": passkey.pk})
    # the page now keeps the browser from making a second passkey for this account on the same device
    assert page_options(page)["excludeCredentials"][0]["id"] == b64url(bytes(passkey.credential_id))


def test_the_passkeys_page_and_adding_need_a_recent_password_and_code(keeper_a: User, client_for: Any) -> None:
    fresh = client_for(keeper_a)
    page = fresh.get(PASSKEYS)
    answer = SoftAuthenticator().create(page_options(page))
    stale = client_for(keeper_a, recent_auth=False)
    response = stale.get(PASSKEYS)
    assert response.status_code == 302 and response["Location"] == f"{CONFIRM}?next=%2Faccounts%2Fpasskeys%2F"
    response = stale.submit(ADD, {"name": "phone", "credential": answer, "next": PASSKEYS})
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM)
    assert not WebAuthnCredential.objects.exists()


def test_the_passkeys_page_needs_the_second_factor(keeper_a: User, client_for: Any) -> None:
    response = client_for(keeper_a, verified=False).get(PASSKEYS)
    assert response.status_code == 302 and response["Location"].startswith(SECOND)


def test_an_answer_to_another_sessions_challenge_adds_nothing(keeper_a: User, client_for: Any) -> None:
    first, second = client_for(keeper_a), client_for(keeper_a)
    answer = SoftAuthenticator().create(page_options(first.get(PASSKEYS)))
    second.get(PASSKEYS)
    response = second.submit(ADD, {"name": "phone", "credential": answer})
    assert response.status_code == 200 and "The passkey could not be added." in response.content.decode()
    assert not WebAuthnCredential.objects.exists()


def test_a_registration_answer_is_used_once(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    answer = SoftAuthenticator().create(page_options(client.get(PASSKEYS)))
    assert client.submit(ADD, {"name": "phone", "credential": answer}).status_code == 302
    response = client.submit(ADD, {"name": "phone again", "credential": answer})
    assert response.status_code == 200 and "The passkey could not be added." in response.content.decode()
    assert list(WebAuthnCredential.objects.values_list("name", flat=True)) == ["phone"]


def test_a_passkey_for_another_site_is_refused(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    for answer in (
        {"origin": "https://waystation-login.example"},  # a look-alike site relaying the challenge
        {"rp_id": "waystation-login.example"},
        {"origin": "http://localhost"},  # not https, and not the development server's own address
    ):
        response = client.submit(
            ADD,
            {"name": "phone", "credential": SoftAuthenticator().create(page_options(client.get(PASSKEYS)), **answer)},
        )
        assert response.status_code == 200 and "The passkey could not be added." in response.content.decode()
    assert not WebAuthnCredential.objects.exists()


def test_a_passkey_needs_a_name(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    answer = SoftAuthenticator().create(page_options(client.get(PASSKEYS)))
    response = client.submit(ADD, {"name": "   ", "credential": answer})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not WebAuthnCredential.objects.exists()


# --- using one at the second step ------------------------------------------------------------------------------------


def test_a_user_with_a_passkey_is_offered_one_and_it_passes_the_second_step(
    keeper_with_passkey: tuple[User, SoftAuthenticator], client_for: Any, persona_password: str
) -> None:
    keeper, authenticator = keeper_with_passkey
    client = client_for(None)
    password_step(client, keeper, persona_password)
    page = client.get(SECOND)
    assert "Use a passkey" in page.content.decode() and 'name="token"' in page.content.decode()  # codes still work
    assert page_options(page)["allowCredentials"][0]["id"] == b64url(authenticator.credential_id)

    response = passkey_step(client, authenticator, next_url="/cases/")
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.filter(action="auth.second_factor").latest("seq")
    assert (event.actor_id, event.details) == (keeper.pk, {"method": "passkey"})
    # as after a code: the session counts as freshly authenticated (no confirm page before key changes)
    assert client.get(PASSKEYS).status_code == 200
    assert WebAuthnCredential.objects.get(user=keeper).last_used_at is not None


def test_a_user_without_a_passkey_is_not_offered_one(keeper_a: User, client_for: Any, persona_password: str) -> None:
    client = client_for(None)
    password_step(client, keeper_a, persona_password)
    page = client.get(SECOND).content.decode()
    assert "Use a passkey" not in page and "passkey-options" not in page and 'name="token"' in page


def test_a_refused_passkey_counts_as_a_wrong_code_up_to_the_lockout(
    keeper_with_passkey: tuple[User, SoftAuthenticator], client_for: Any, persona_password: str
) -> None:
    keeper, _authenticator = keeper_with_passkey
    stranger = SoftAuthenticator(credential_id=_authenticator.credential_id, user_handle=_authenticator.user_handle)
    client = client_for(None)
    password_step(client, keeper, persona_password)
    before = AuditEvent.objects.filter(action="auth.login_failed").count()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = passkey_step(client, stranger)  # the right passkey's id, signed by another key
        assert response.status_code == 200
        assert "The passkey was not accepted. Try again, or use a code." in response.content.decode()
        assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == before + settings.AXES_FAILURE_LIMIT - 1
    response = passkey_step(client, stranger)
    assert response.status_code == 302 and response["Location"] == LOGIN  # locked: the half sign-in is over
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    assert not AuditEvent.objects.filter(action="auth.second_factor").exists()


def test_a_replayed_or_foreign_passkey_answer_is_refused(
    keeper_with_passkey: tuple[User, SoftAuthenticator],
    coordinator: User,
    client_for: Any,
    persona_password: str,
) -> None:
    keeper, authenticator = keeper_with_passkey
    first = client_for(None)
    password_step(first, keeper, persona_password)
    page = first.get(SECOND)
    answer = authenticator.get(page_options(page))
    assert first.submit(SECOND, {"credential": answer}).status_code == 302
    # the same answer, seen on the wire, in another half-signed-in session: its challenge is not that session's
    second = client_for(None)
    password_step(second, keeper, persona_password)
    second.get(SECOND)
    response = second.submit(SECOND, {"credential": answer})
    assert response.status_code == 200 and second.get("/").status_code == 302
    # the coordinator's second step cannot be passed with the keeper's passkey
    add_passkey(client_for(coordinator))
    coordinator_client = client_for(None)
    password_step(coordinator_client, coordinator, persona_password)
    response = passkey_step(coordinator_client, authenticator)
    assert response.status_code == 200 and coordinator_client.get("/").status_code == 302


def test_a_cloned_passkey_is_refused(
    keeper_with_passkey: tuple[User, SoftAuthenticator], client_for: Any, persona_password: str
) -> None:
    """The signature counter went backwards: two devices hold the same key."""
    keeper, authenticator = keeper_with_passkey
    client = client_for(None)
    password_step(client, keeper, persona_password)
    authenticator.sign_count = 10
    assert passkey_step(client, authenticator).status_code == 302
    clone = client_for(None)
    password_step(clone, keeper, persona_password)
    authenticator.sign_count = 3
    assert passkey_step(clone, authenticator).status_code == 200
    assert clone.get("/").status_code == 302


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "null",
        "[]",
        "{}",
        "not json",
        '{"id": 1}',
        json.dumps({"id": "a", "rawId": "!!", "type": "public-key"}),
        "x" * 40_000,
    ],
    ids=lambda value: value[:24],
)
def test_malformed_answers_are_refused_without_a_server_error(
    credential: str, keeper_with_passkey: tuple[User, SoftAuthenticator], client_for: Any, persona_password: str
) -> None:
    keeper, authenticator = keeper_with_passkey
    client = client_for(None)
    password_step(client, keeper, persona_password)
    client.get(SECOND)
    response = client.submit(SECOND, {"credential": credential})
    assert response.status_code == 200 and "The passkey was not accepted." in response.content.decode()
    assert passkey_step(client, authenticator).status_code == 302  # and the real one still works afterwards
    adder = client_for(keeper)
    adder.get(PASSKEYS)
    response = adder.submit(ADD, {"name": "phone", "credential": credential})
    assert response.status_code == 200
    assert WebAuthnCredential.objects.filter(user=keeper).count() == 1


# --- settings --------------------------------------------------------------------------------------------------------


def test_the_relying_party_and_its_origins_come_from_the_settings(
    keeper_a: User, client_for: Any, settings: Any, persona_password: str
) -> None:
    settings.OTP_WEBAUTHN_RP_ID = "waystation.example.org"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://waystation.example.org"]
    client = client_for(keeper_a)
    options = page_options(client.get(PASSKEYS))
    assert options["rp"]["id"] == "waystation.example.org"
    refused = SoftAuthenticator().create(options)  # from https://localhost, which is not listed any more
    assert client.submit(ADD, {"name": "old", "credential": refused}).status_code == 200
    authenticator = SoftAuthenticator()
    answer = authenticator.create(page_options(client.get(PASSKEYS)), origin="https://waystation.example.org")
    assert client.submit(ADD, {"name": "phone", "credential": answer}).status_code == 302

    signing_in = client_for(None)
    password_step(signing_in, keeper_a, persona_password)
    response = passkey_step(signing_in, authenticator, origin="https://waystation.example.org")
    assert response.status_code == 302 and signing_in.get("/").status_code == 200


def test_the_development_server_accepts_its_own_localhost_address_only(
    keeper_a: User, client_for: Any, settings: Any
) -> None:
    assert settings.DEV_HTTP and settings.OTP_WEBAUTHN_RP_ID == "localhost"  # the tests' (and the demo's) setting
    client = client_for(keeper_a)
    client.defaults["HTTP_HOST"] = "localhost:8123"
    options = page_options(client.get(PASSKEYS))
    answer = SoftAuthenticator().create(options, origin="http://localhost:8124")  # another port: another site
    assert client.submit(ADD, {"name": "other port", "credential": answer}).status_code == 200
    options = page_options(client.get(PASSKEYS))
    answer = SoftAuthenticator().create(options, origin="http://localhost:8123")
    assert client.submit(ADD, {"name": "laptop", "credential": answer}).status_code == 302
    settings.DEV_HTTP = False  # in production plain HTTP is never accepted
    options = page_options(client.get(PASSKEYS))
    answer = SoftAuthenticator().create(options, origin="http://localhost:8123")
    assert client.submit(ADD, {"name": "again", "credential": answer}).status_code == 200
    assert list(WebAuthnCredential.objects.values_list("name", flat=True)) == ["laptop"]


# --- removing --------------------------------------------------------------------------------------------------------


def test_removing_a_passkey_needs_recent_auth_and_ends_its_use(
    keeper_with_passkey: tuple[User, SoftAuthenticator], client_for: Any, persona_password: str
) -> None:
    keeper, authenticator = keeper_with_passkey
    passkey = WebAuthnCredential.objects.get(user=keeper)
    stale = client_for(keeper, recent_auth=False)
    response = stale.submit(REMOVE, {"passkey": passkey.pk, "next": PASSKEYS})
    assert response.status_code == 302 and response["Location"] == f"{CONFIRM}?next=%2Faccounts%2Fpasskeys%2F"
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()

    # a session that passed the second step with this passkey
    signed_in = client_for(None)
    password_step(signed_in, keeper, persona_password)
    assert passkey_step(signed_in, authenticator).status_code == 302 and signed_in.get("/").status_code == 200

    client = client_for(keeper)
    client.get(PASSKEYS)
    response = client.submit(REMOVE, {"passkey": passkey.pk})
    assert response.status_code == 302 and response["Location"] == PASSKEYS
    page = client.get(PASSKEYS).content.decode()
    assert "The passkey is removed." in page and "You have no passkey yet." in page
    event = AuditEvent.objects.get(action="auth.passkey_removed")
    assert (event.actor_id, event.details) == (keeper.pk, {"passkey": passkey.pk})
    # the session it verified is back at the second step; there, no passkey is offered any more
    response = signed_in.get("/")
    assert response.status_code == 302 and response["Location"].startswith(SECOND)
    assert "Use a passkey" not in signed_in.get(SECOND).content.decode()


@pytest.mark.parametrize("value", ["", "abc", "99999999", "1" * 40, "²"])
def test_removing_someone_elses_or_no_passkey_is_not_found(
    value: str, keeper_with_passkey: tuple[User, SoftAuthenticator], coordinator: User, client_for: Any
) -> None:
    keeper, _authenticator = keeper_with_passkey
    client = client_for(coordinator)
    client.get(PASSKEYS)
    passkey = WebAuthnCredential.objects.get(user=keeper)
    assert client.submit(REMOVE, {"passkey": passkey.pk}).status_code == 404
    assert client.submit(REMOVE, {"passkey": value}).status_code == 404
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_an_administrators_reset_removes_passkeys_too(
    keeper_with_passkey: tuple[User, SoftAuthenticator], administrator: User, client_for: Any
) -> None:
    keeper, _authenticator = keeper_with_passkey
    client = client_for(administrator)
    client.get(reverse("accounts:users"))
    response = client.submit(reverse("accounts:user_reset_2fa", kwargs={"user_id": keeper.pk}))
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(user=keeper).exists()
