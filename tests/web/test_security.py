"""Protection of every page: headers, deny by default, quick exit, signing out, short sessions, audited sign-ins."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from waystation.accounts.models import User
from waystation.accounts.sessions import renew_every_seconds
from waystation.audit.models import AuditEvent

# sync:push and sync:pull: installations, not people, authenticated by the signature of an enrolled peer.
PUBLIC_ROUTES = {"accounts:login", "set_language", "quick_exit", "sync:push", "sync:pull"}
LOGIN = "/accounts/login/"


def every_url(url_routes: list[Any], world: SimpleNamespace, *, skip: Collection[str] = ()) -> dict[str, str]:
    values = world.route_values
    return {
        route.name: reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
        for route in url_routes
        if route.name and route.name not in skip
    }


# --- headers ---------------------------------------------------------------------------------------------------------

ALLOWED_SOURCES = {"'self'", "'none'", "data:"}


def check_headers(response: Any, where: str) -> list[str]:
    problems = []
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {parts[0]: parts[1:] for parts in (d.split() for d in csp.split(";") if d.strip())}
    if not {"default-src", "script-src", "frame-ancestors", "object-src"} <= set(directives):
        problems.append(f"{where}: CSP incomplete: {csp!r}")
    for name, sources in directives.items():
        foreign = [s for s in sources if s not in ALLOWED_SOURCES]
        if foreign:
            problems.append(f"{where}: CSP {name} allows {foreign}")
    expected = {
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
    }
    for header, value in expected.items():
        if response.headers.get(header) != value:
            problems.append(f"{where}: {header} is {response.headers.get(header)!r}, not {value!r}")
    if "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append(f"{where}: Cache-Control is {response.headers.get('Cache-Control')!r}, not no-store")
    return problems


THIRD_PARTY = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_every_page_carries_the_protective_headers_for_every_role(
    world: SimpleNamespace, url_routes: list[Any], client_for: Any
) -> None:
    problems: list[str] = []
    urls = every_url(url_routes, world, skip={"quick_exit", "accounts:logout"})
    urls["a page that does not exist"] = "/no/such/page/"
    for role, user in [*world.personas.items(), ("anonymous", None)]:
        client = client_for(user)
        for url in urls.values():
            response = client.get(url)
            problems += check_headers(response, f"GET {url} as {role} ({response.status_code})")
            if response.headers.get("Content-Type", "").startswith("text/html"):
                html = response.content.decode()
                if THIRD_PARTY.search(html):
                    problems.append(f"GET {url} as {role}: refers to another site: {THIRD_PARTY.search(html)[0]}")
    assert not problems, "\n".join(problems)


def test_the_app_serves_its_own_assets(client_for: Any, db: None) -> None:
    page = client_for(None).get(LOGIN).content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    client = client_for(None)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


# --- deny by default -------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in_for_every_route_that_is_not_public(
    world: SimpleNamespace, url_routes: list[Any], client_for: Any
) -> None:
    client = client_for(None)
    token = client.fetch_token()
    events_before = AuditEvent.objects.count()
    problems = []
    urls = every_url(url_routes, world, skip=PUBLIC_ROUTES)
    urls["an unknown page (no hint of what exists)"] = "/cases/ZZZZ-0000/nothing/"
    urls["a health check nothing serves (it was a public path)"] = "/healthz"
    for name, url in urls.items():
        for method in ("GET", "POST"):
            response = client.get(url) if method == "GET" else client.post(url, {"csrfmiddlewaretoken": token})
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.startswith(f"{LOGIN}?next="):
                problems.append(f"{method} {url} ({name}): {response.status_code} {location}")
    assert not problems, "\n".join(problems)
    assert AuditEvent.objects.count() == events_before  # nothing was done, nothing was revealed


def test_a_change_without_the_csrf_token_is_refused(keeper_a: User, station_a: Any, client_for: Any) -> None:
    client = client_for(keeper_a)
    client.get("/cases/register/")
    before = AuditEvent.objects.count()
    response = client.post("/cases/register/", {"station": "ALDER", "sex": "F", "name_hangul": "가상"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before


# --- quick exit ------------------------------------------------------------------------------------------------------


def test_the_quick_exit_is_on_every_page(world: SimpleNamespace, client_for: Any) -> None:
    for user in (None, world.keeper_a, world.analyst):
        page = client_for(user).get("/" if user else LOGIN).content.decode()
        assert 'id="quick-exit"' in page and 'href="/exit/"' in page


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_quick_exit_signs_out_and_leaves_for_the_neutral_site(
    caseworker: User, client_for: Any, settings: Any, method: str
) -> None:
    settings.QUICK_EXIT_URL = "https://weather.example/today"
    client = client_for(caseworker)
    assert client.get("/").status_code == 200

    # The page's script sends a beacon without a CSRF token: the exit must work all the same.
    response = client.get("/exit/") if method == "GET" else client.post("/exit/")

    assert response.status_code == 302
    assert response["Location"] == "https://weather.example/today"
    assert "cookies" in response.headers.get("Clear-Site-Data", "")
    assert client.get("/").headers["Location"].startswith(f"{LOGIN}?next=")
    assert not Session.objects.exists()
    assert AuditEvent.objects.filter(action="auth.logout", actor=caseworker).exists()


def test_quick_exit_works_for_someone_not_signed_in(client_for: Any, db: None) -> None:
    response = client_for(None).get("/exit/")
    assert response.status_code == 302 and response["Location"] == settings.QUICK_EXIT_URL


# --- signing out -----------------------------------------------------------------------------------------------------


def test_signing_out_needs_a_post_with_the_csrf_token(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    client.get("/")

    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 403  # no token: a third-party page cannot sign us out
    assert client.get("/").status_code == 200  # still signed in

    response = client.submit("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get("/").status_code == 302
    assert not Session.objects.exists()


# --- sessions --------------------------------------------------------------------------------------------------------


def test_sessions_are_short_and_end_with_the_browser() -> None:
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    # The limit is on idle time: requests start it again, once its renewal step has passed (tests/accounts), which
    # needs the renewal right inside the session middleware.
    sessions = settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert settings.MIDDLEWARE[sessions + 1] == "waystation.web.middleware.IdleSessionMiddleware"
    assert 10 * renew_every_seconds() <= settings.SESSION_COOKIE_AGE
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Strict" and settings.CSRF_COOKIE_SAMESITE == "Strict"


def test_an_idle_session_expires(keeper_a: User, client_for: Any) -> None:
    client = client_for(keeper_a)
    assert client.get("/").status_code == 200
    session = Session.objects.get()
    assert session.expire_date - timezone.now() <= dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)

    # Time passes: the session's age runs out.
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")


# --- signing in ------------------------------------------------------------------------------------------------------


def sign_in(client: Any, username: str, password: str) -> Any:
    client.get(LOGIN)
    return client.submit(LOGIN, {"username": username, "password": password})


def test_signing_in_is_audited(keeper_a: User, client_for: Any, persona_password: str, sign_in_fully: Any) -> None:
    client = client_for(None)
    response = sign_in_fully(client, "keeper-alder", persona_password)

    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="auth.second_factor", actor=keeper_a).exists()
    event = AuditEvent.objects.filter(action="auth.login").latest("id")
    assert event.actor == keeper_a and event.actor_role == "keeper"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("username", ["keeper-alder", "CANARY-7f3a-user"])
def test_a_failed_sign_in_is_audited_without_the_attempted_username(
    keeper_a: User, client_for: Any, username: str
) -> None:
    client = client_for(None)
    response = sign_in(client, username, "CANARY-7f3a-password")

    assert response.status_code == 200
    assert "The username or password is not right." in response.content.decode()
    events = list(AuditEvent.objects.filter(action="auth.login_failed").values())
    assert len(events) == 1 and events[0]["actor_id"] is None
    for event in AuditEvent.objects.values():
        text = json.dumps(event, default=str)
        assert username not in text and "CANARY-7f3a" not in text, event
    assert client.get("/").status_code == 302  # not signed in


def test_an_inactive_user_cannot_sign_in(inactive_user: User, client_for: Any, persona_password: str) -> None:
    client = client_for(None)
    response = sign_in(client, inactive_user.username, persona_password)
    assert response.status_code == 200
    assert "The username or password is not right." in response.content.decode()
    assert client.get("/").status_code == 302
