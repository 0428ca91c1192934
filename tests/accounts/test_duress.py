"""The duress password (accounts.duress): a sign-in that looks like any other and destroys the user's keys.

What the person forcing the sign-in sees must not differ from a normal sign-in (status, redirect, headers, templates,
the same Argon2 work); what happens out of sight: the keys are gone, the caseload is empty, the coordinators are
warned. Personas' passwords use a fast hasher; the tests that compare the two paths give the user an Argon2 hash,
as every real account has.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password
from django.urls import reverse

from waystation.accounts import duress
from waystation.accounts.models import User
from waystation.accounts.services import user_set_password
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.vault import crypto, userkeys
from waystation.vault.agent import AGENT
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant, UserKey

DURESS = "quiet-harbour-umbrella-19"
LOGIN = "/accounts/login/"
REFUSED = "The username or password is not right."
ALERT = "signed in under duress: their keys are destroyed"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    """New hashes (the duress password's, a reset password's) with the fast hasher, as the personas' passwords are:
    most tests here sign in several times. The tests about cost and indistinguishability use ``argon2_hashing``."""
    fast = "django.contrib.auth.hashers.MD5PasswordHasher"
    settings.PASSWORD_HASHERS = [fast, *(h for h in settings.PASSWORD_HASHERS if h != fast)]


@pytest.fixture
def argon2_hashing(_fast_hashing: None, settings: Any) -> None:
    """The production hasher first again: every new hash is an Argon2 hash."""
    settings.PASSWORD_HASHERS = sorted(settings.PASSWORD_HASHERS, key=lambda h: "Argon2" not in h)


@pytest.fixture
def with_duress(persona_password: str) -> Callable[..., User]:
    """``with_duress(user)``: the user sets a duress password. Their real password is hashed anew, with the hasher
    the duress password gets (an Argon2 hash under ``argon2_hashing``, as every real account has)."""

    def give(user: User, password: str = DURESS) -> User:
        user.set_password(persona_password)
        user.save(update_fields=["password"])
        duress.duress_password_set(user=user, password=password)
        return user

    return give


def password_step(client: Any, username: str, password: str) -> Any:
    client.get(LOGIN)
    return client.submit(LOGIN, {"username": username, "password": password})


def sign_in(client: Any, user: User, password: str, totp_code: Callable[[User], str]) -> tuple[Any, Any, Any]:
    """Both steps as a browser: the password answer, the second-step page, and the answer to the code."""
    answer = password_step(client, user.username, password)
    assert answer.status_code == 302, "the password step refused"
    second_page = client.get(answer["Location"])
    done = client.submit("/accounts/two-factor/", {"token": totp_code(user)})
    return answer, second_page, done


def cookies(response: Any) -> list[tuple[str, dict[str, str]]]:
    """The cookies a response sets: names, in order, with their attributes; not their values or expiry times."""
    return [(name, {k: v for k, v in morsel.items() if k != "expires"}) for name, morsel in response.cookies.items()]


def templates(response: Any) -> list[str]:
    return [t.name for t in response.templates]


def case_url(person: Person) -> str:
    return reverse("cases:detail", kwargs={"code": person.case_code})


# --- setting it ------------------------------------------------------------------------------------------------------


def test_a_user_sets_a_duress_password_on_the_settings_page_and_only_its_hash_is_kept(
    argon2_hashing: None, caseworker: User, client_for: Any
) -> None:
    client = client_for(caseworker)
    assert 'href="/accounts/security/duress/"' in client.get("/accounts/security/").content.decode()
    client.get("/accounts/security/duress/")
    response = client.submit("/accounts/security/duress/", {"password": DURESS, "password_again": DURESS})
    assert response.status_code == 302 and response["Location"] == "/accounts/security/"
    caseworker.refresh_from_db()
    assert caseworker.duress_password.startswith("argon2")
    assert check_password(DURESS, caseworker.duress_password)
    row = User.objects.filter(pk=caseworker.pk).values().get()
    assert not any(DURESS in str(value) for value in row.values())
    assert AuditEvent.objects.filter(action="auth.duress_password_set", target_id=str(caseworker.pk)).exists()


@pytest.mark.parametrize(
    ("password", "again", "field", "message"),
    [
        ("REAL", "REAL", "password", "The duress password must differ from your password."),
        (DURESS, "quiet-harbour-umbrella-20", "password_again", "The two passwords are not the same."),
        ("short", "short", "password", "This password is too short."),
    ],
)
def test_a_bad_duress_password_is_refused_on_its_field(
    password: str, again: str, field: str, message: str, caseworker: User, client_for: Any, persona_password: str
) -> None:
    password = persona_password if password == "REAL" else password
    again = persona_password if again == "REAL" else again
    client = client_for(caseworker)
    client.get("/accounts/security/duress/")
    response = client.submit("/accounts/security/duress/", {"password": password, "password_again": again})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors.get(field, []))
    assert message in response.content.decode()
    caseworker.refresh_from_db()
    assert caseworker.duress_password == ""


def test_the_duress_password_is_removed_on_the_same_page(
    with_duress: Callable[..., User], caseworker: User, client_for: Any
) -> None:
    with_duress(caseworker)
    client = client_for(caseworker)
    client.get("/accounts/security/duress/")
    response = client.submit("/accounts/security/duress/", {"remove": "1"})
    assert response.status_code == 302
    caseworker.refresh_from_db()
    assert caseworker.duress_password == ""
    answer = password_step(client_for(None), caseworker.username, DURESS)
    assert answer.status_code == 200 and REFUSED in answer.content.decode()


def test_setting_it_asks_a_stale_session_to_confirm_first(caseworker: User, client_for: Any) -> None:
    response = client_for(caseworker, recent_auth=False).get("/accounts/security/duress/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/confirm/")


# --- the sign-in -----------------------------------------------------------------------------------------------------


def test_a_duress_sign_in_cannot_be_told_from_a_normal_one(
    argon2_hashing: None,
    with_duress: Callable[..., User],
    caseworker: User,
    client_for: Any,
    totp_code: Callable[[User], str],
    persona_password: str,
) -> None:
    with_duress(caseworker)
    normal_client, forced_client = client_for(None), client_for(None)
    normal = sign_in(normal_client, caseworker, persona_password, totp_code)
    normal_session = dict(normal_client.session)  # (the duress sign-in ends this session)
    forced = sign_in(forced_client, caseworker, DURESS, totp_code)
    # Even the server-side session records the same: which backend signed it in, and the same keys.
    assert forced_client.session[BACKEND_SESSION_KEY] == normal_session[BACKEND_SESSION_KEY]
    assert sorted(forced_client.session.keys()) == sorted(normal_session)
    for ordinary, under_duress in zip(normal, forced, strict=True):
        assert under_duress.status_code == ordinary.status_code
        assert under_duress.get("Location") == ordinary.get("Location")
        assert list(under_duress.headers) == list(ordinary.headers)
        assert cookies(under_duress) == cookies(ordinary)
        assert templates(under_duress) == templates(ordinary)
    answer, _page, done = forced
    assert answer["Location"].startswith("/accounts/two-factor/")
    assert done.status_code == 302 and done["Location"] == "/"  # the second step worked as usual


def test_both_paths_do_the_same_argon2_work(
    argon2_hashing: None,
    with_duress: Callable[..., User],
    caseworker: User,
    client_for: Any,
    monkeypatch: pytest.MonkeyPatch,
    persona_password: str,
) -> None:
    with_duress(caseworker)
    work: list[tuple[str, Any]] = []

    def count_verify(real: Callable[..., bool]) -> Callable[..., bool]:
        def verify(self: Argon2PasswordHasher, password: str, encoded: str) -> bool:
            work.append(("verify", encoded.split("$")[2]))  # the hash's cost parameters
            return real(self, password, encoded)

        return verify

    def count_kdf(real: Callable[..., bytes]) -> Callable[..., bytes]:
        def kdf(*args: Any, **kwargs: Any) -> bytes:
            work.append(("kdf", (kwargs["time_cost"], kwargs["memory_cost"], kwargs["parallelism"])))
            return real(*args, **kwargs)

        return kdf

    monkeypatch.setattr(Argon2PasswordHasher, "verify", count_verify(Argon2PasswordHasher.verify))
    monkeypatch.setattr(userkeys, "hash_secret_raw", count_kdf(userkeys.hash_secret_raw))

    started = time.perf_counter()
    assert password_step(client_for(None), caseworker.username, persona_password).status_code == 302
    normal_seconds, normal_work = time.perf_counter() - started, Counter(work)
    work.clear()
    started = time.perf_counter()
    assert password_step(client_for(None), caseworker.username, DURESS).status_code == 302
    duress_seconds, duress_work = time.perf_counter() - started, Counter(work)

    assert normal_work == duress_work
    assert sum(n for (kind, _cost), n in normal_work.items() if kind == "verify") == 2  # duress hash and real hash
    assert sum(n for (kind, _cost), n in normal_work.items() if kind == "kdf") == 1  # the key step
    # Loosely (not a timing test): both are dominated by the same hashing, within the same order of magnitude.
    assert 0.2 < duress_seconds / normal_seconds < 5


def test_a_user_without_a_duress_password_is_checked_against_a_hash_of_the_same_cost(
    argon2_hashing: None, with_duress: Callable[..., User], caseworker: User, coordinator: User
) -> None:
    with_duress(caseworker)
    coordinator.set_password("a-real-password-of-their-own")
    coordinator.save()
    assert coordinator.duress_password == ""
    with_cost = duress.duress_hash(caseworker).split("$")[:4]
    assert duress.duress_hash(coordinator).split("$")[:4] == with_cost  # algorithm, version, parameters


# --- what it does ----------------------------------------------------------------------------------------------------


def test_a_duress_sign_in_destroys_every_key_of_the_user(
    with_duress: Callable[..., User],
    caseworker: User,
    person_at_a: Person,
    client_for: Any,
    totp_code: Callable[[User], str],
    persona_password: str,
) -> None:
    with_duress(caseworker)
    held = CaseKeyWrap.objects.filter(holder=caseworker).count()
    assert held >= 1 and IndexKeyWrap.objects.filter(holder=caseworker).exists()
    PendingGrant.objects.create(person=None, user=caseworker)  # a grant still owed to them is dropped too
    real_private = bytes(userkeys.unlock(caseworker, persona_password))
    earlier = client_for(caseworker)  # a session of theirs elsewhere
    assert earlier.get("/").status_code == 200

    sign_in(client_for(None), caseworker, DURESS, totp_code)

    assert not CaseKeyWrap.objects.filter(holder=caseworker).exists()
    assert not IndexKeyWrap.objects.filter(holder=caseworker).exists()
    assert not PendingGrant.objects.filter(user=caseworker).exists()
    assert not UserKey.objects.filter(user=caseworker).exists()
    with pytest.raises(crypto.Locked):
        userkeys.unlock(caseworker, persona_password)  # the real password opens nothing any more
    assert CaseKeyWrap.objects.filter(person=person_at_a, holder=None).exists()  # the recovery wrap stays
    in_agent = AGENT.for_user(caseworker.pk)
    assert in_agent is not None and bytes(in_agent) != real_private  # only a throwaway key pair
    response = earlier.get("/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)  # other sessions ended

    event = AuditEvent.objects.get(action="auth.duress")
    assert event.target_id == str(caseworker.pk)
    assert event.details["case_keys"] == held


@pytest.mark.parametrize("role", ["caseworker", "keeper", "coordinator"])
def test_the_duress_session_shows_an_empty_caseload(
    with_duress: Callable[..., User], role: str, world: Any, client_for: Any, totp_code: Callable[[User], str]
) -> None:
    user = world.personas[role]
    with_duress(user)
    client = client_for(None)
    sign_in(client, user, DURESS, totp_code)
    person = world.person_at_a
    for page in ("/", "/cases/"):
        response = client.get(page)
        assert response.status_code == 200
        text = response.content.decode()
        for shown in (world.person_at_a, world.person_at_b, world.person_heading_to_a):
            assert shown.case_code not in text
        assert ALERT not in text  # nothing tells the person at the screen
    assert client.get(case_url(person)).status_code == 404
    assert client.get(reverse("cases:needs", kwargs={"code": person.case_code})).status_code == 404
    station = client.get(reverse("network:station", kwargs={"code_name": world.station_a.code_name}))
    assert person.case_code not in station.content.decode()


def test_the_real_password_afterwards_opens_nothing(
    with_duress: Callable[..., User],
    caseworker: User,
    person_at_a: Person,
    client_for: Any,
    totp_code: Callable[[User], str],
    persona_password: str,
) -> None:
    with_duress(caseworker)
    sign_in(client_for(None), caseworker, DURESS, totp_code)
    client = client_for(None)
    sign_in(client, caseworker, persona_password, totp_code)
    assert client.get(case_url(person_at_a)).status_code == 404
    assert person_at_a.case_code not in client.get("/cases/").content.decode()
    assert not UserKey.objects.filter(user=caseworker).exists()  # no new key pair made on the way


def test_coordinators_and_administrators_are_warned(
    with_duress: Callable[..., User],
    caseworker: User,
    coordinator: User,
    administrator: User,
    client_for: Any,
    totp_code: Callable[[User], str],
) -> None:
    quiet = client_for(coordinator).get("/").content.decode()
    assert ALERT not in quiet
    with_duress(caseworker)
    sign_in(client_for(None), caseworker, DURESS, totp_code)
    dashboard = client_for(coordinator).get("/").content.decode()
    assert "A worker signed in under duress: their keys are destroyed." in dashboard
    assert caseworker.username in dashboard
    users = client_for(administrator).get("/accounts/users/").content.decode()
    assert ALERT in users and caseworker.username in users


def test_a_coordinator_under_duress_is_not_told_and_clears_nothing(
    with_duress: Callable[..., User],
    caseworker: User,
    coordinator: User,
    client_for: Any,
    totp_code: Callable[[User], str],
) -> None:
    with_duress(caseworker)
    sign_in(client_for(None), caseworker, DURESS, totp_code)
    with_duress(coordinator, "amber-willow-canyon-33")
    client = client_for(None)
    sign_in(client, coordinator, "amber-willow-canyon-33", totp_code)
    assert ALERT not in client.get("/").content.decode()
    clear = reverse("accounts:duress_clear", kwargs={"user_id": caseworker.pk})
    assert client.submit(clear).status_code == 403
    assert User.objects.get(pk=caseworker.pk).under_duress


def test_without_a_duress_password_nothing_changes(
    caseworker: User, client_for: Any, totp_code: Callable[[User], str], persona_password: str
) -> None:
    wraps = CaseKeyWrap.objects.filter(holder=caseworker).count()
    refused = password_step(client_for(None), caseworker.username, DURESS)
    assert refused.status_code == 200 and REFUSED in refused.content.decode()
    sign_in(client_for(None), caseworker, persona_password, totp_code)
    caseworker.refresh_from_db()
    assert not caseworker.under_duress
    assert CaseKeyWrap.objects.filter(holder=caseworker).count() == wraps
    assert UserKey.objects.filter(user=caseworker).exists()
    assert not AuditEvent.objects.filter(action="auth.duress").exists()


def test_a_wrong_password_of_a_user_with_a_duress_password_is_just_wrong(
    with_duress: Callable[..., User], caseworker: User, client_for: Any
) -> None:
    with_duress(caseworker)
    refused = password_step(client_for(None), caseworker.username, "not-the-duress-one-either")
    assert refused.status_code == 200 and REFUSED in refused.content.decode()
    caseworker.refresh_from_db()
    assert not caseworker.under_duress and UserKey.objects.filter(user=caseworker).exists()


def test_a_locked_account_refuses_the_duress_password_too(
    with_duress: Callable[..., User], caseworker: User, client_for: Any
) -> None:
    with_duress(caseworker)
    client = client_for(None)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_step(client, caseworker.username, "guess-guess-guess-1")
    assert AccessAttempt.objects.exists()
    refused = password_step(client, caseworker.username, DURESS)
    assert refused.status_code == 200 and REFUSED in refused.content.decode()
    caseworker.refresh_from_db()
    assert not caseworker.under_duress and UserKey.objects.filter(user=caseworker).exists()


def test_the_duress_password_of_one_user_does_not_sign_in_another(
    with_duress: Callable[..., User], caseworker: User, caseworker_unassigned: User, client_for: Any
) -> None:
    with_duress(caseworker)
    refused = password_step(client_for(None), caseworker_unassigned.username, DURESS)
    assert refused.status_code == 200
    assert not User.objects.filter(under_duress=True).exists()


# --- keeping up appearances inside a duress session ------------------------------------------------------------------


def test_inside_a_duress_session_the_duress_password_confirms_and_changes_like_a_password(
    with_duress: Callable[..., User],
    caseworker: User,
    client_for: Any,
    totp_code: Callable[[User], str],
    persona_password: str,
) -> None:
    with_duress(caseworker)
    client = client_for(None)
    sign_in(client, caseworker, DURESS, totp_code)
    session = client.session
    session["waystation_reauthenticated_at"] -= 3600  # the proof has gone stale
    session.save()

    page = "/accounts/security/password/"
    response = client.get(page)
    assert response["Location"].startswith("/accounts/confirm/")
    client.get(response["Location"])
    confirmed = client.submit("/accounts/confirm/", {"password": DURESS, "token": totp_code(caseworker), "next": page})
    assert confirmed.status_code == 302 and confirmed["Location"] == page

    client.get(page)
    new = "granite-orchard-lantern-77"
    changed = client.submit(page, {"current": DURESS, "new": new, "new_again": new})
    assert changed.status_code == 302 and changed["Location"] == "/accounts/security/"
    assert client.get("/").status_code == 200  # the session goes on
    caseworker.refresh_from_db()
    assert check_password(persona_password, caseworker.password)  # the real password is untouched
    assert check_password(new, caseworker.duress_password)  # the "new password" is the duress password now

    client.get("/accounts/security/duress/")
    saved = client.submit("/accounts/security/duress/", {"password": DURESS, "password_again": DURESS})
    assert saved.status_code == 302
    caseworker.refresh_from_db()
    assert check_password(new, caseworker.duress_password)  # only pretended


# --- afterwards ------------------------------------------------------------------------------------------------------


def test_after_clearing_and_a_reset_the_user_reads_their_cases_again(
    with_duress: Callable[..., User],
    caseworker: User,
    coordinator: User,
    administrator: User,
    person_at_a: Person,
    client_for: Any,
    totp_code: Callable[[User], str],
    sign_in_fully: Any,
    persona_password: str,
) -> None:
    with_duress(caseworker)
    sign_in(client_for(None), caseworker, DURESS, totp_code)

    coordinator_client = client_for(coordinator)
    coordinator_client.get("/")
    clear = reverse("accounts:duress_clear", kwargs={"user_id": caseworker.pk})
    assert coordinator_client.submit(clear, {"next": "/"}).status_code == 302
    caseworker.refresh_from_db()
    assert not caseworker.under_duress
    assert AuditEvent.objects.filter(action="auth.duress_cleared", target_id=str(caseworker.pk)).exists()
    assert ALERT not in coordinator_client.get("/").content.decode()

    password = user_set_password(actor=administrator, user=caseworker)  # new keys
    sign_in_fully(client_for(None), coordinator.username, persona_password)  # a holder of the key signs in
    client = client_for(None)
    sign_in_fully(client, caseworker.username, password)
    page = client.get(case_url(person_at_a))
    assert page.status_code == 200 and "Gasang Hana (fictional)" in page.content.decode()


def test_a_reset_before_clearing_is_granted_when_the_flag_is_cleared(
    with_duress: Callable[..., User],
    caseworker: User,
    coordinator: User,
    administrator: User,
    person_at_a: Person,
    client_for: Any,
    totp_code: Callable[[User], str],
    sign_in_fully: Any,
) -> None:
    with_duress(caseworker)
    sign_in(client_for(None), caseworker, DURESS, totp_code)
    password = user_set_password(actor=administrator, user=caseworker)
    client = client_for(coordinator)
    client.get("/")
    client.submit(reverse("accounts:duress_clear", kwargs={"user_id": caseworker.pk}))
    caseworker_client = client_for(None)
    sign_in_fully(caseworker_client, caseworker.username, password)
    page = caseworker_client.get(case_url(person_at_a))
    assert page.status_code == 200 and "Gasang Hana (fictional)" in page.content.decode()


def test_nobody_clears_their_own_flag(coordinator: User, client_for: Any) -> None:
    User.objects.filter(pk=coordinator.pk).update(under_duress=True)
    client = client_for(coordinator)
    client.get("/")
    response = client.submit(reverse("accounts:duress_clear", kwargs={"user_id": coordinator.pk}))
    assert response.status_code == 403
    assert User.objects.get(pk=coordinator.pk).under_duress
