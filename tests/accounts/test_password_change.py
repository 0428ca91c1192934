"""A user changes their own password (accounts.views.password_change): the same key pair, wrapped anew, so every
record they could read stays readable; the old password no longer signs in."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from waystation.accounts import duress
from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.vault.models import CaseKeyWrap, PendingGrant, UserKey

PAGE = "/accounts/security/password/"
NEW = "copper-meadow-tundra-58"
DURESS = "quiet-harbour-umbrella-19"
REFUSED = "The username or password is not right."


def change(client: Any, current: str, new: str, again: str | None = None) -> Any:
    client.get(PAGE)
    return client.submit(PAGE, {"current": current, "new": new, "new_again": new if again is None else again})


def test_the_settings_page_links_to_the_password_change(caseworker: User, client_for: Any) -> None:
    page = client_for(caseworker).get("/accounts/security/")
    assert f'href="{PAGE}"' in page.content.decode()


def test_after_a_change_the_new_password_signs_in_and_the_case_is_still_readable(
    caseworker: User, person_at_a: Person, client_for: Any, sign_in_fully: Any, persona_password: str
) -> None:
    client = client_for(caseworker)
    response = change(client, persona_password, NEW)
    assert response.status_code == 302 and response["Location"] == "/accounts/security/"
    case_page = reverse("cases:detail", kwargs={"code": person_at_a.case_code})
    assert "Gasang Hana (fictional)" in client.get(case_page).content.decode()  # this session goes on
    assert AuditEvent.objects.filter(action="user.password_changed", target_id=str(caseworker.pk)).exists()

    fresh = client_for(None)
    response = sign_in_fully(fresh, caseworker.username, NEW)
    assert response.status_code == 302
    page = fresh.get(case_page)
    assert page.status_code == 200
    assert "Gasang Hana (fictional)" in page.content.decode()

    old = client_for(None)
    old.get("/accounts/login/")
    response = old.submit("/accounts/login/", {"username": caseworker.username, "password": persona_password})
    assert response.status_code == 200 and REFUSED in response.content.decode()


def test_other_sessions_end_with_the_change(caseworker: User, client_for: Any, persona_password: str) -> None:
    here, elsewhere = client_for(caseworker), client_for(caseworker)
    assert elsewhere.get("/").status_code == 200
    change(here, persona_password, NEW)
    assert here.get("/").status_code == 200
    response = elsewhere.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("current", "new", "again", "field", "message"),
    [
        ("wrong-password-entirely", NEW, None, "current", "The current password is not right."),
        ("PASSWORD", NEW, "copper-meadow-tundra-59", "new_again", "The two new passwords are not the same."),
        ("PASSWORD", "short", None, "new", "This password is too short."),
        ("PASSWORD", DURESS, None, "new", "This is your duress password. Choose a different password."),
        ("PASSWORD", "", None, "new", "This field is required."),
    ],
)
def test_bad_input_is_refused_on_its_field_and_changes_nothing(
    current: str,
    new: str,
    again: str | None,
    field: str,
    message: str,
    caseworker: User,
    client_for: Any,
    persona_password: str,
) -> None:
    duress.duress_password_set(user=caseworker, password=DURESS)
    key_before = bytes(UserKey.objects.get(user=caseworker).wrapped_private)
    client = client_for(caseworker)
    current = persona_password if current == "PASSWORD" else current
    response = change(client, current, new, again)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert message in response.content.decode()
    caseworker.refresh_from_db()
    assert caseworker.check_password(persona_password)
    assert bytes(UserKey.objects.get(user=caseworker).wrapped_private) == key_before
    assert not AuditEvent.objects.filter(action="user.password_changed").exists()


def test_a_stale_session_confirms_who_it_is_first(caseworker: User, client_for: Any) -> None:
    response = client_for(caseworker, recent_auth=False).get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/confirm/")


def test_the_change_needs_the_csrf_token(caseworker: User, client_for: Any, persona_password: str) -> None:
    client = client_for(caseworker)
    response = client.post(PAGE, {"current": persona_password, "new": NEW, "new_again": NEW})
    assert response.status_code == 403
    caseworker.refresh_from_db()
    assert caseworker.check_password(persona_password)


def test_an_administrator_gives_a_new_password_and_the_user_gets_new_keys(
    world: Any, client_for: Callable[..., Any], sign_in_fully: Callable[..., Any]
) -> None:
    """A forgotten password: the administrator's reset shows a one-time password; the user signs in with it, and
    once a coordinator has acted their cases open again with their new key pair."""
    caseworker = world.caseworker
    admin = client_for(world.personas["administrator"])
    page = admin.submit(f"/accounts/users/{caseworker.pk}/reset-password/")
    assert page.status_code == 200
    password = re.search(r'<code class="sensitive">([^<]+)</code>', page.content.decode()).group(1)  # type: ignore[union-attr]
    assert not CaseKeyWrap.objects.filter(holder=caseworker).exists()  # sealed to the old pair: gone, owed again
    assert PendingGrant.objects.filter(user=caseworker).exists()

    client = client_for(None)
    sign_in_fully(client, caseworker.username, password)  # a coordinator's sign-in or action pays what is owed
    sign_in_fully(client_for(None), world.coordinator.username)
    case_page = client.get(f"/cases/{world.person_at_a.case_code}/").content.decode()
    assert "Gasang Hana" in case_page
    assert AuditEvent.objects.filter(action="user.password_set", target_id=str(caseworker.pk)).exists()
