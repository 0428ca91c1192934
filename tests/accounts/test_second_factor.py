"""The second factor: TOTP (single use, throttled) and backup codes, enrolment, and no page without it."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from waystation.accounts.models import Role, User
from waystation.accounts.second_factor import base32_secret, new_backup_codes
from waystation.audit.models import AuditEvent

LOGIN = "/accounts/login/"
SECOND = "/accounts/two-factor/"
SETUP = "/accounts/two-factor/setup/"
# Reachable with the password alone: the public pages, the second step itself, and signing out.
WITHOUT_SECOND_FACTOR = {
    "accounts:login",
    "accounts:two_factor",
    "accounts:two_factor_setup",
    "accounts:logout",
    "set_language",
    "quick_exit",
    # Installations, not people: the signature of an enrolled peer authenticates them (sync.views).
    "sync:push",
    "sync:pull",
}


def password_step(client: Any, username: str, password: str) -> Any:
    client.get(LOGIN)
    return client.submit(LOGIN, {"username": username, "password": password})


def code_step(client: Any, token: str, path: str = SECOND) -> Any:
    client.get(path)
    return client.submit(path, {"token": token})


def test_the_password_leads_to_the_second_step_not_to_the_page(
    keeper_a: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    client.get("/accounts/login/?next=/cases/")
    response = client.submit(
        "/accounts/login/?next=/cases/",
        {"username": keeper_a.username, "password": persona_password, "next": "/cases/"},
    )
    assert response.status_code == 302 and response["Location"] == f"{SECOND}?next={quote('/cases/', safe='')}"
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"].startswith(SECOND)


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_needs_the_second_factor(role: str, personas: dict[str, User], client_for: Any) -> None:
    client = client_for(personas[role], verified=False)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == f"{SECOND}?next=/"
    assert client_for(personas[role]).get("/").status_code == 200


def test_a_right_code_signs_in_and_is_audited(
    keeper_a: User, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    client = client_for(None)
    password_step(client, keeper_a.username, persona_password)
    response = code_step(client, totp_code(keeper_a))
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="auth.second_factor")
    assert (event.actor_id, event.details) == (keeper_a.pk, {"method": "totp"})


def test_a_wrong_code_is_refused_and_counts_as_a_failed_sign_in(
    keeper_a: User, client_for: Any, persona_password: str
) -> None:
    client = client_for(None)
    password_step(client, keeper_a.username, persona_password)
    before = AuditEvent.objects.filter(action="auth.login_failed").count()
    response = code_step(client, "000000")
    assert response.status_code == 200
    assert "The code is not right." in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == before + 1
    assert client.get("/").status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    keeper_a: User, client_for: Any, persona_password: str, totp_code: Any
) -> None:
    client = client_for(None)
    password_step(client, keeper_a.username, persona_password)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert code_step(client, "000000").status_code == 200
    response = code_step(client, "000000")
    assert response.status_code == 302 and response["Location"] == LOGIN  # the half sign-in is over
    assert client.get("/").status_code == 302 and client.get("/")["Location"].startswith(LOGIN)
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    # locked: even the right password (and then a right code) gets nowhere
    response = password_step(client, keeper_a.username, persona_password)
    assert response.status_code == 200 and "The username or password is not right." in response.content.decode()


def test_a_totp_code_works_once(keeper_a: User, client_for: Any, persona_password: str, totp_code: Any) -> None:
    code = totp_code(keeper_a)
    first, second = client_for(None), client_for(None)
    password_step(first, keeper_a.username, persona_password)
    assert code_step(first, code).status_code == 302
    password_step(second, keeper_a.username, persona_password)
    response = code_step(second, code)  # seen over a shoulder, or replayed: refused
    assert response.status_code == 200 and "The code is not right." in response.content.decode()
    assert second.get("/").status_code == 302


def test_wrong_codes_are_throttled(keeper_a: User, client_for: Any, persona_password: str, totp_code: Any) -> None:
    client = client_for(None)
    password_step(client, keeper_a.username, persona_password)
    code_step(client, "000000")
    response = code_step(client, totp_code(keeper_a))  # right, but too soon after a wrong one
    assert response.status_code == 200 and client.get("/").status_code == 302
    device = TOTPDevice.objects.get(user=keeper_a)
    assert device.throttling_failure_count == 1 and device.verify_is_allowed()[0] is False
    device.throttle_reset()  # a moment later (the wait doubles with every wrong code in a row)
    assert code_step(client, totp_code(keeper_a)).status_code == 302


def test_a_backup_code_works_once(keeper_a: User, client_for: Any, persona_password: str) -> None:
    codes = new_backup_codes(actor=keeper_a, user=keeper_a)
    first, second = client_for(None), client_for(None)
    password_step(first, keeper_a.username, persona_password)
    assert code_step(first, codes[0].upper()).status_code == 302
    assert AuditEvent.objects.filter(action="auth.second_factor", details={"method": "backup_code"}).exists()
    password_step(second, keeper_a.username, persona_password)
    assert code_step(second, codes[0]).status_code == 200
    assert StaticDevice.objects.get(user=keeper_a).token_set.count() == len(codes) - 1


def test_a_secret_shown_to_one_session_is_never_the_one_another_session_confirms(
    administrator: User, client_for: Any
) -> None:
    """Someone else who holds the first password (whoever handed it over, or intercepted it) signs in first and notes
    the secret on the enrolment page; the real user's enrolment must not confirm that secret."""
    from waystation.accounts.services import user_create

    user, password = user_create(actor=administrator, username="cw-handover", role=Role.CASEWORKER)
    intruder = client_for(None)
    password_step(intruder, user.username, password)
    seen = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', intruder.get(SETUP).content.decode())
    owner = client_for(None)
    password_step(owner, user.username, password)
    shown = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', owner.get(SETUP).content.decode())
    assert seen and shown and seen.group(1) != shown.group(1)
    intruders_device = next(
        d for d in TOTPDevice.objects.filter(user=user) if base32_secret(d) == seen.group(1).replace(" ", "")
    )
    response = code_step(owner, _code(intruders_device), SETUP)  # a code from the intruder's copy is refused
    assert "The code is not right." in response.content.decode()
    owners_device = TOTPDevice.objects.exclude(pk=intruders_device.pk).get(user=user)
    owners_device.throttle_reset()
    assert code_step(owner, _code(owners_device), SETUP).status_code == 200
    assert list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")) == [(owners_device.pk, True)]


def test_a_user_without_a_device_enrols_before_reaching_any_page(
    administrator: User, client_for: Any, totp_code: Any
) -> None:
    from waystation.accounts.services import user_create

    user, password = user_create(actor=administrator, username="cw-new", role=Role.CASEWORKER)
    client = client_for(None)
    response = password_step(client, user.username, password)
    assert client.get(response["Location"])["Location"].startswith(SETUP)
    assert client.get("/")["Location"].startswith(SECOND)  # no page yet
    page = client.get(SETUP).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert secret, "the secret is shown as text"
    assert "<svg" in page and 'role="img"' in page  # the QR code, inline
    assert "<img" not in page and "data:image" not in page and "https://" not in page.split("</header>")[1]
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed and secret.group(1).replace(" ", "") in device.config_url

    response = code_step(client, "000000", SETUP)
    assert response.status_code == 200 and "The code is not right." in response.content.decode()
    assert client.get("/").status_code == 302

    TOTPDevice.objects.get(pk=device.pk).throttle_reset()  # a moment later: wrong codes are throttled
    response = code_step(client, _code(device), SETUP)
    assert response.status_code == 200
    assert len(re.findall(r'<li><code class="sensitive">[a-z2-7]{8}</code></li>', response.content.decode())) == 10
    assert client.get("/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="auth.second_factor_enrolled", target_id=str(user.pk)).exists()


def _code(device: TOTPDevice) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_confirmed_device_cannot_be_replaced_with_the_password_alone(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a, verified=False)
    response = client.get(SETUP)
    assert response.status_code == 302 and response["Location"].startswith(SECOND)
    assert TOTPDevice.objects.filter(user=keeper_a).count() == 1


def test_an_unverified_session_reaches_no_page_but_the_second_step(
    world: SimpleNamespace, url_routes: list[Any], client_for: Any
) -> None:
    values = world.route_values
    problems = []
    for role, user in world.personas.items():
        if role == "inactive":
            continue
        client = client_for(user, verified=False)
        client.get(SECOND)  # the one page with a CSRF token this session can reach
        for route in url_routes:
            if not route.name or route.name in WITHOUT_SECOND_FACTOR:
                continue
            url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
            for method in ("get", "submit"):
                response = client.get(url) if method == "get" else client.submit(url, {})
                location = response.get("Location", "") if response.status_code == 302 else ""
                if not location.startswith(f"{SECOND}?next="):
                    problems.append(f"{role} {method} {url}: {response.status_code} {location}")
    assert not problems, "\n".join(problems)


def test_an_administrator_resets_a_lost_second_factor(
    keeper_a: User, administrator: User, client_for: Any, persona_password: str
) -> None:
    admin = client_for(administrator)
    assert f"/accounts/users/{keeper_a.pk}/reset-second-factor/" in admin.get("/accounts/users/").content.decode()
    assert admin.submit(f"/accounts/users/{keeper_a.pk}/reset-second-factor/").status_code == 302
    assert not TOTPDevice.objects.filter(user=keeper_a).exists()
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert (event.actor_id, event.target_id) == (administrator.pk, str(keeper_a.pk))
    client = client_for(None)
    response = password_step(client, keeper_a.username, persona_password)
    assert client.get(response["Location"])["Location"].startswith(SETUP)
    assert client.get("/")["Location"].startswith(SECOND)


def test_only_an_administrator_resets_a_second_factor(keeper_a: User, coordinator: User, client_for: Any) -> None:
    assert client_for(coordinator).submit(f"/accounts/users/{keeper_a.pk}/reset-second-factor/").status_code == 403
    assert TOTPDevice.objects.filter(user=keeper_a).exists()


def test_new_backup_codes_replace_the_old_ones(keeper_a: User, client_for: Any) -> None:
    old = new_backup_codes(actor=keeper_a, user=keeper_a)
    client = client_for(keeper_a)
    assert "10 backup codes left." in client.get("/accounts/security/").content.decode()
    response = client.submit("/accounts/security/backup-codes/")
    new = re.findall(r'<code class="sensitive">([a-z2-7]{8})</code>', response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticDevice.objects.get(user=keeper_a).token_set.values_list("token", flat=True)) == set(new)
    assert AuditEvent.objects.filter(action="auth.backup_codes_new", actor=keeper_a).count() == 2
