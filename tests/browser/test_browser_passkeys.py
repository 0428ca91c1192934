"""Passkeys in a real Chromium, with a virtual authenticator (Chrome DevTools Protocol, WebAuthn domain) standing in
for the device's screen lock: register one from the account page, then pass the second step of signing in with it.

The live server is http://localhost:<port>, where plain HTTP is a secure context and the relying party id
"localhost" is valid, as in the demo opened at localhost.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from waystation.audit.models import AuditEvent

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def heading(page: Any) -> Any:
    return page.get_by_role("heading", level=1)


def virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator (like a laptop's fingerprint reader) that says yes at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, result["authenticatorId"]


def password_step(page: Any, username: str, password: str, next_url: str = "/") -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(heading(page)).to_have_text("Second step")


def no_serious_axe_violation(page: Any) -> None:
    results = Axe().run(page)
    serious = [v["id"] for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert not serious, f"{page.url}: {serious}"


def test_a_passkey_added_on_the_account_page_passes_the_second_step(cast: Any, open_page: Any, watch: Any) -> None:
    user = cast.counsellor
    page = open_page(user)  # signed in with password and code just now: no confirm page before key changes
    cdp, authenticator_id = virtual_authenticator(page)

    page.goto("/accounts/security/")
    page.get_by_role("link", name="Manage passkeys").click()
    expect(heading(page)).to_have_text("Passkeys")
    expect(page.locator("main")).to_contain_text("You have no passkey yet.")
    expect(page.get_by_text("This browser cannot add a passkey at this address.")).to_be_hidden()
    no_serious_axe_violation(page)
    page.get_by_label("Name of the passkey").fill("work laptop")
    page.get_by_role("button", name="Add a passkey").click()

    expect(page.get_by_role("status")).to_contain_text("The passkey is added.")
    expect(page.locator("main")).to_contain_text("work laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(stored) == 1 and stored[0]["rpId"] == "localhost"
    passkey = WebAuthnCredential.objects.get(user=user)
    assert passkey.name == "work laptop"

    # Next time: the password, then the passkey instead of a code.
    page.get_by_role("button", name="Sign out").click()
    password_step(page, user.username, cast.password, next_url="/cases/")
    expect(page.get_by_label("Code", exact=True)).to_be_visible()  # the code still works, beside the passkey
    no_serious_axe_violation(page)
    page.get_by_role("button", name="Use a passkey").click()

    expect(heading(page)).not_to_have_text("Second step")
    assert page.url.endswith("/cases/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    event = AuditEvent.objects.filter(action="auth.second_factor", actor=user).latest("seq")
    assert event.details == {"method": "passkey"}
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
    watch.assert_clean()


def test_a_passkey_the_device_no_longer_holds_leaves_the_code(
    cast: Any, open_page: Any, watch: Any, totp_code: Any
) -> None:
    user = cast.keeper_a
    page = open_page(user, phone=True)
    cdp, authenticator_id = virtual_authenticator(page)
    page.goto("/accounts/passkeys/")
    page.get_by_label("Name of the passkey").fill("phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("The passkey is added.")
    page.get_by_role("button", name="Sign out").click()

    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": authenticator_id})  # the phone was reset
    password_step(page, user.username, cast.password)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("No passkey was used")
    expect(heading(page)).to_have_text("Second step")

    page.get_by_label("Code", exact=True).fill(totp_code(user))
    page.get_by_role("button", name="Confirm").click()
    expect(heading(page)).to_have_text("Dashboard")
    watch.assert_clean()


def test_without_webauthn_no_passkey_is_offered_and_the_code_works(
    cast: Any, open_page: Any, watch: Any, totp_code: Any
) -> None:
    user = cast.analyst
    page = open_page(user)
    virtual_authenticator(page)
    page.goto("/accounts/passkeys/")
    page.get_by_label("Name of the passkey").fill("laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_contain_text("The passkey is added.")
    page.get_by_role("button", name="Sign out").click()

    older = open_page()  # a browser without WebAuthn
    older.add_init_script("delete window.PublicKeyCredential;")
    password_step(older, user.username, cast.password)
    expect(older.get_by_role("button", name="Use a passkey")).to_have_count(0)
    older.get_by_label("Code", exact=True).fill(totp_code(user))
    older.get_by_role("button", name="Confirm").click()
    expect(heading(older)).to_have_text("Dashboard")
    older.goto("/accounts/passkeys/")
    expect(older.get_by_text("This browser cannot add a passkey at this address.")).to_be_visible()
    expect(older.get_by_role("button", name="Add a passkey")).to_have_count(0)
    expect(older.locator("main")).to_contain_text("laptop")  # the list and removal work without it
    older.get_by_role("button", name="Remove laptop").click()
    expect(older.get_by_role("status")).to_contain_text("The passkey is removed.")
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    watch.assert_clean()
