"""Browser tests: Playwright (sync API) driving Debian's Chromium against the app on pytest-django's live server.

Only /usr/bin/chromium is ever launched (never a browser downloaded by Playwright). When it is missing the tests
fail, naming the package to install: they are part of the suite, not optional.

Every browser context routes every request through ``_Watch``: requests to the live server go through, the
configured quick-exit URL is answered locally with a neutral page (so that leaving never touches the network),
and anything else is refused and recorded, so a test can assert that no third-party request was made. Console
errors and uncaught page errors (a CSP violation shows up as one) are recorded the same way.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.servers.basehttp import WSGIServer
from django.test.testcases import LiveServerThread


# The live server answers one request at a time. On SQLite the test database lives in memory, and every thread of a
# threaded live server shares its one connection: two requests at once (a case page and its photo) would then
# interleave inside each other's transactions, which no real installation does (each thread has its own
# connection there, and SQLite's IMMEDIATE transactions serialise writers). Seen as a duplicate audit sequence number.
class _OneRequestAtATime(WSGIServer):
    def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # the server thread itself already uses the shared connection


LiveServerThread.server_class = _OneRequestAtATime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
# Where quick exit sends the browser in these tests. `.example` is reserved: the route handler answers it locally.
NEUTRAL_EXIT_URL = "https://weather.example/today"
NEUTRAL_PAGE = "<!doctype html><html lang=en><title>Weather</title><h1>Weather today</h1><p>Sunny.</p></html>"
PASSWORD = "browser-test-passphrase-42"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One Chromium per test module. Module scope (not session) so that Playwright's event loop is gone before
    any other test module runs: Django refuses ORM calls from a thread with a running event loop."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Install it with "
            "`apt-get install chromium` (`make test` does this through waystation.testing.browser_setup). "
            "Never use `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    # Test-only: the test thread makes ORM calls (fixtures, DB assertions) while Playwright's loop runs in it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def quick_exit_url(settings: Any) -> str:
    """Quick exit leads to a neutral page that the route handler serves locally: no request leaves the machine."""
    settings.QUICK_EXIT_URL = NEUTRAL_EXIT_URL
    return NEUTRAL_EXIT_URL


@dataclass
class Watch:
    """What the browser did that a user would not see: requests leaving the server, console errors."""

    origin: str
    offsite: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    checked: bool = False

    def route(self, route: Any) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        elif url.startswith(NEUTRAL_EXIT_URL):
            self.exits.append(url)
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=NEUTRAL_PAGE)
        else:
            self.offsite.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Any) -> None:
        self.console_errors.append(f"page error: {error}")

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching ``pattern`` (e.g. Chromium's note on a page answered with 404)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_console_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(p.search(e) for p in self.allowed)]

    def assert_clean(self) -> None:
        self.checked = True
        assert not self.offsite, f"requests to hosts other than the app: {self.offsite}"
        errors = self.unexpected_console_errors()
        assert not errors, f"console errors (CSP violations?): {errors}"


@dataclass
class Cast:
    """The people and places every browser scenario starts from, all made through the services: station A
    "Lilac" (China, safe house) kept by keeper_a, station B "Birch" (Laos, transit point) kept by keeper_b, a leg
    A -> B of 5 days, a coordinator, a counsellor (role caseworker, assigned to nobody yet), an analyst, an auditor
    and an administrator, all with PASSWORD. Its own, not tests/conftest.py's ``world``: these tests need a
    transactional database (the live server runs in another thread) and a small, fixed scene."""

    station_a: Any
    station_b: Any
    keeper_a: Any
    keeper_b: Any
    coordinator: Any
    counsellor: Any
    analyst: Any
    auditor: Any
    administrator: Any
    password: str = PASSWORD


@pytest.fixture
def cast(transactional_db: None, settings: Any) -> Cast:
    from django.test import override_settings

    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.network.services import leg_set, station_create

    # Personas are hashed with a fast hasher (Argon2 costs ~0.1 s a user); the app still verifies it and then
    # rehashes with Argon2 at sign-in, as it would a legacy hash.
    if FAST_HASHER not in settings.PASSWORD_HASHERS:
        settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, FAST_HASHER]

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from waystation.testing import vault as test_vault

    def user(username: str, role: str) -> Any:
        with test_vault.persona_keys(), override_settings(PASSWORD_HASHERS=[FAST_HASHER, *settings.PASSWORD_HASHERS]):
            created = user_create(actor=None, username=username, role=role, password=PASSWORD)[0]
        test_vault.persona_ready(created, PASSWORD)  # the index key; services below act with the persona's keys
        TOTPDevice.objects.create(user=created, name="authenticator", confirmed=True)  # sign_in types its codes
        return created

    coordinator = user("coord-hana", Role.COORDINATOR)
    keeper_a = user("keeper-lilac", Role.KEEPER)
    keeper_b = user("keeper-birch", Role.KEEPER)
    station_a = station_create(
        actor=coordinator,
        keepers=[keeper_a],
        code_name="Lilac",
        country="CN",
        region="Jilin (fictional)",
        kind="safe_house",
        capacity=6,
    )
    station_b = station_create(
        actor=coordinator,
        keepers=[keeper_b],
        code_name="Birch",
        country="LA",
        region="Bokeo (fictional)",
        kind="transit",
        capacity=4,
    )
    leg_set(actor=coordinator, from_station=station_a, to_station=station_b, usual_days=5)
    return Cast(
        station_a=station_a,
        station_b=station_b,
        keeper_a=keeper_a,
        keeper_b=keeper_b,
        coordinator=coordinator,
        counsellor=user("counsellor-min", Role.CASEWORKER),
        analyst=user("analyst-jin", Role.ANALYST),
        auditor=user("auditor-seo", Role.AUDITOR),
        administrator=user("admin-yoon", Role.ADMINISTRATOR),
    )


@pytest.fixture
def make_person(cast: Cast) -> Callable[..., Any]:
    """``make_person(station=None, **fields)``: a person registered at station A (by default) through the
    service, as its keeper would."""
    from waystation.cases.services import person_register

    def _make(*, station: Any = None, **fields: Any) -> Any:
        values: dict[str, Any] = {
            "sex": "F",
            "birth_year": 1994,
            "origin_province": "north_hamgyong",
            "left_nk_month": dt.date(2019, 3, 1),
            "name_hangul": "김은하",
            "name_romanized": "Kim Eun-ha",
        }
        values.update(fields)
        return person_register(actor=cast.keeper_a, station=station or cast.station_a, **values)

    return _make


@pytest.fixture
def watch(live_server: Any) -> Iterator[Watch]:
    w = Watch(origin=live_server.url)
    yield w
    if not w.checked:
        w.assert_clean()


OpenPage = Callable[..., Any]


@pytest.fixture
def open_page(
    chromium_browser: Any, live_server: Any, watch: Watch, sign_in: Callable[..., None]
) -> Iterator[OpenPage]:
    """``open_page(user=None, phone=False, javascript=True)``: a new browser context (a separate person at a
    separate device), signed in as ``user`` when given."""
    contexts: list[Any] = []

    def _open(user: Any = None, *, phone: bool = False, javascript: bool = True, locale: str = "en-GB") -> Any:
        context = chromium_browser.new_context(
            base_url=live_server.url, java_script_enabled=javascript, locale=locale, **(PHONE if phone else DESKTOP)
        )
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", watch.route)
        context.on("console", watch.on_console)
        context.on("weberror", lambda web_error: watch.on_page_error(web_error.error))
        page = context.new_page()
        if user is not None:
            sign_in(page, user.username)
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in(totp_code: Callable[[Any], str]) -> Callable[..., None]:
    """``sign_in(page, username, password=PASSWORD)`` through the login form and the second step (the code the
    user's authenticator shows now, from tests/conftest.py's ``totp_code``)."""

    def _sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
        from playwright.sync_api import expect

        from waystation.accounts.models import User

        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Second step")
        page.get_by_label("Code", exact=True).fill(totp_code(User.objects.get(username=username)))
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", level=1)).not_to_have_text("Second step")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    return _sign_in
