"""Shared fixtures: a small, realistic network and a persona for every role.

Everything is created through the services, as the app itself would create it:

    stations   station_a "ALDER" (China, safe house, capacity 2, kept by keeper_a)
               station_b "BIRCH" (China, safe house, kept by keeper_b)
               station_c "CEDAR" (Laos, transit point)
               legs B -> A (4 days), A -> C (7 days)
    persons    person_at_a          registered at A by keeper_a (the `caseworker` fixture is assigned to her)
               person_at_b          registered at B by keeper_b
               person_heading_to_a  registered at B, under way B -> A (so keeper_a and keeper_b both see her)
    users      keeper_a, keeper_b, caseworker (assigned to person_at_a), caseworker_unassigned, coordinator,
               analyst, auditor, administrator, inactive_user (a deactivated caseworker); all with
               ``persona_password``
    partner    a partner organisation for referrals
    goal_a, task_a, photo_a   person_at_a's care-plan goal, follow-up task (for the caseworker) and photo

``personas`` maps each role name ("keeper", "caseworker", ..., and "inactive") to its persona; ``world`` is all of
the above in one namespace. ``client_for(user)`` gives a signed-in browser-like client that enforces CSRF
(``client_for(None)`` an anonymous one): ``get`` remembers the CSRF token of the page it fetched and
``submit(path, data)`` posts a form with it, as a browser would. ``url_routes`` lists every URL pattern.

Second factor: every persona has a confirmed TOTP device (``make_user``), and ``client_for(user)`` is signed in with
both factors (the device is recorded in the session as ``django_otp.login`` does); ``client_for(user,
verified=False)`` has passed the password only. ``totp_code(user)`` is a code the user's device accepts now (single
use: the next call gives the next acceptable one), and ``sign_in_fully(client, username, password)`` goes through
both sign-in forms as a browser does.

Personas are hashed with a fast hasher (MD5, appended to the configured hashers for verification only), because
Argon2 at production strength costs ~0.1 s a user: new passwords set by the app under test are still Argon2.

The vault: ``make_user`` sets the vault up (one recovery key and index key for the session,
``waystation.testing.vault``), wraps each persona's key pair with a cheaper Argon2id (``FIXTURE_KDF``; users made
by the app under test outside ``make_user`` get the production parameters), gives them the index key, and holds
their private key in the agent as a sign-in would, so that services called directly act with the persona's keys.
``client_for(user)`` puts the keys in the agent for its own session. After each test the agent is emptied.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create, user_set_active
from waystation.accounts.sessions import mark_reauthenticated
from waystation.cases import care_services
from waystation.cases.choices import ConsentScope, NeedArea, TaskKind
from waystation.cases.models import Partner, Person
from waystation.cases.services import consent_record, person_register, person_set_photo
from waystation.network import services as network_services
from waystation.network.models import Country, Station, StationKind
from waystation.testing import vault as test_vault
from waystation.testing.passes import leave_database_free_tests_to_the_sqlite_pass
from waystation.vault import shred
from waystation.vault.agent import AGENT, handle_for

PASSWORD = "lantern-river-morning-42"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


# --- clients -------------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class BrowserClient(Client):
    """A test client that enforces CSRF and posts forms with the token of a page it fetched, like a browser."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enforce_csrf_checks=True, **kwargs)
        self.csrf_token: str | None = None

    def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
        response = super().get(path, *args, **kwargs)
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html") and not getattr(response, "streaming", False):
            match = _TOKEN_RE.search(response.content.decode(errors="replace"))
            if match:
                self.csrf_token = match.group(1)
        return response

    def fetch_token(self) -> str:
        """A CSRF token from an ordinary page: the dashboard when signed in, the sign-in page otherwise."""
        for page in ("/", "/accounts/login/"):
            if self.csrf_token is None:
                self.get(page)
        assert self.csrf_token, "no page offered a CSRF token"
        return self.csrf_token

    def submit(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the CSRF token of the last page fetched (fetching one first if there is none)."""
        token = self.csrf_token or self.fetch_token()
        return self.post(path, {**(data or {}), "csrfmiddlewaretoken": token}, **kwargs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    leave_database_free_tests_to_the_sqlite_pass(items)


@pytest.fixture
def client_for(db: None) -> Callable[..., BrowserClient]:
    """``client_for(user, verified=True, recent_auth=True)``: a CSRF-enforcing client signed in as ``user``
    (anonymous for None), with the second factor passed unless ``verified=False``, and counted as having just proved
    who it is (accounts.reauth) unless ``recent_auth=False``, which gives a stale session."""

    def make(user: User | None, *, verified: bool = True, recent_auth: bool = True) -> BrowserClient:
        client = BrowserClient()
        if user is not None:
            client.force_login(user)
            test_vault.unlock(user, PASSWORD, handle=handle_for(client.session.session_key or ""))
            if verified:
                session = client.session
                session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
                if recent_auth:
                    mark_reauthenticated(session)
                session.save()
        return client

    return make


def totp_device(user: User) -> TOTPDevice:
    """The user's confirmed authenticator (made now for a user created without one)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def next_totp_code(device: TOTPDevice) -> str:
    """A code ``device`` accepts now: the current time step's, or, when that was used already (codes are single
    use), the next step within the device's tolerance. When even that is used (a test signing the same user in
    three times in 30 seconds), the device's record of the last step used is moved back: a real person would wait
    for the next code."""
    device.refresh_from_db()
    now_t = int((time.time() - device.t0) // device.step) + device.drift
    t = max(now_t, device.last_t + 1)
    if t > now_t + device.tolerance:
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=now_t - 1)
        t = now_t
    return f"{hotp(device.bin_key, t, digits=device.digits):0{device.digits}d}"


@pytest.fixture
def totp_code() -> Callable[[User], str]:
    """``totp_code(user)``: a code the user's authenticator accepts now."""
    return lambda user: next_totp_code(totp_device(user))


@pytest.fixture
def sign_in_fully(totp_code: Callable[[User], str]) -> Callable[..., Any]:
    """``sign_in_fully(client, username, password)``: the password form, then the code; returns the last answer."""

    def sign_in(client: BrowserClient, username: str, password: str = PASSWORD) -> Any:
        client.get("/accounts/login/")
        response = client.submit("/accounts/login/", {"username": username, "password": password})
        assert response.status_code == 302, f"{username}: the password was refused"
        client.get(response["Location"])
        code = totp_code(User.objects.get(username=username))
        return client.submit("/accounts/two-factor/", {"token": code})

    return sign_in


# --- users ---------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_persona_passwords(settings: Any) -> None:
    """Let fixture personas (hashed with FAST_HASHER) sign in; the app still hashes new passwords with Argon2."""
    if FAST_HASHER not in settings.PASSWORD_HASHERS:
        settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, FAST_HASHER]


@pytest.fixture
def persona_password() -> str:
    """The password of every persona, for tests that sign in through the form."""
    return PASSWORD


@pytest.fixture(autouse=True)
def _empty_key_agent() -> Iterator[None]:
    """Keys held in memory do not outlive the test (its database is rolled back; the agent would not be), nor do
    the shred and kill ledgers in the data folder (files, which no rollback removes)."""
    yield
    AGENT.drop_all()
    for path in (shred.ledger_path(), shred.kill_ledger_path()):
        path.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _places_agree_with_movements(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used the database, each person's stored place (``Person.place``, kept by triggers) is
    the station of her latest arrival as her movements say, whatever the test wrote and however."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    uses_db = bool({"db", "transactional_db"} & names or marker)
    if uses_db:  # asked for here, so that the database is still there when this fixture ends
        transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
        request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    if uses_db and not connection.needs_rollback:  # a test that ends in a broken transaction can be read no more
        from waystation.network.selectors import places_out_of_step

        assert places_out_of_step() == [], "a person's stored place differs from her movements"
        from waystation.figures.per_person import out_of_step

        assert out_of_step() == [], "a person's kept figures differ from her records"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Requests counted by a rate limit (the API's per token, the sync endpoints' per address, in the cache) do not
    carry over from one test to the next: every test client comes from the same address."""
    cache.clear()
    yield


def make_user(username: str, role: str, *, active: bool = True) -> User:
    """A user created through the accounts service, with the shared test password, signed in to the vault."""
    with (
        test_vault.persona_keys(),
        override_settings(PASSWORD_HASHERS=[FAST_HASHER, *django_settings.PASSWORD_HASHERS]),
    ):
        user, _password = user_create(actor=None, username=username, role=role, password=PASSWORD)
    test_vault.persona_ready(user, PASSWORD)
    totp_device(user)  # every persona has a confirmed authenticator
    if not active:
        admin = User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).first()
        admin = admin or make_user(f"admin-for-{username}", Role.ADMINISTRATOR)
        user_set_active(actor=admin, user=user, active=False)
    return user


@pytest.fixture
def coordinator(db: None) -> User:
    return make_user("coord-heron", Role.COORDINATOR)


@pytest.fixture
def administrator(db: None) -> User:
    return make_user("admin-owl", Role.ADMINISTRATOR)


@pytest.fixture
def analyst(db: None) -> User:
    return make_user("analyst-wren", Role.ANALYST)


@pytest.fixture
def auditor(db: None) -> User:
    return make_user("auditor-kite", Role.AUDITOR)


@pytest.fixture
def keeper_a(db: None) -> User:
    return make_user("keeper-alder", Role.KEEPER)


@pytest.fixture
def keeper_b(db: None) -> User:
    return make_user("keeper-birch", Role.KEEPER)


@pytest.fixture
def caseworker(coordinator: User, person_at_a: Person) -> User:
    """A caseworker assigned to ``person_at_a`` (and to nobody else)."""
    user = make_user("cw-finch", Role.CASEWORKER)
    care_services.assignment_set(actor=coordinator, person=person_at_a, worker=user)
    return user


@pytest.fixture
def caseworker_unassigned(db: None) -> User:
    return make_user("cw-robin", Role.CASEWORKER)


@pytest.fixture
def inactive_user(administrator: User) -> User:
    """A caseworker whose account an administrator deactivated."""
    return make_user("cw-gone", Role.CASEWORKER, active=False)


# --- the route -----------------------------------------------------------------------------------------------------


@pytest.fixture
def station_a(coordinator: User, keeper_a: User) -> Station:
    return network_services.station_create(
        actor=coordinator,
        code_name="ALDER",
        country=Country.CHINA,
        region="Yunnan",
        kind=StationKind.SAFE_HOUSE,
        capacity=2,
        keepers=[keeper_a],
    )


@pytest.fixture
def station_b(coordinator: User, keeper_b: User) -> Station:
    return network_services.station_create(
        actor=coordinator,
        code_name="BIRCH",
        country=Country.CHINA,
        region="Jilin",
        kind=StationKind.SAFE_HOUSE,
        capacity=6,
        keepers=[keeper_b],
    )


@pytest.fixture
def station_c(coordinator: User, station_a: Station, station_b: Station) -> Station:
    station = network_services.station_create(
        actor=coordinator,
        code_name="CEDAR",
        country=Country.LAOS,
        region="Luang Namtha",
        kind=StationKind.TRANSIT,
        capacity=4,
    )
    network_services.leg_set(actor=coordinator, from_station=station_b, to_station=station_a, usual_days=4)
    network_services.leg_set(actor=coordinator, from_station=station_a, to_station=station, usual_days=7)
    return station


@pytest.fixture
def partner(db: None) -> Partner:
    return Partner.objects.create(name="Harbour Legal Aid (fictional)", country=Country.THAILAND)


# --- persons -------------------------------------------------------------------------------------------------------


def register(actor: User, station: Station, **fields: Any) -> Person:
    """Register a clearly fictional arrival through the service."""
    values: dict[str, Any] = {
        "sex": "F",
        "birth_year": 1994,
        "origin_province": "north_hamgyong",
        "left_nk_month": dt.date(2019, 3, 1),
        "first_contact_month": dt.date(2024, 5, 1),
        "languages": ["ko"],
        "name_hangul": "가상인",
        "name_romanized": "Ga Sangin (fictional)",
    }
    values.update(fields)
    return person_register(actor=actor, station=station, **values)


@pytest.fixture
def registered() -> Callable[..., Person]:
    """``register`` for test modules (which cannot import this one)."""
    return register


@pytest.fixture
def person_at_a(keeper_a: User, station_a: Station, station_c: Station) -> Person:
    return register(keeper_a, station_a, name_hangul="가상 하나", name_romanized="Gasang Hana (fictional)")


@pytest.fixture
def person_at_b(keeper_b: User, station_b: Station, station_c: Station) -> Person:
    return register(keeper_b, station_b, name_hangul="가상 둘", name_romanized="Gasang Dul (fictional)")


@pytest.fixture
def person_heading_to_a(
    keeper_b: User, coordinator: User, station_a: Station, station_b: Station, station_c: Station
) -> Person:
    # station_c lays the legs, so B -> A has its usual duration and the movement an expected arrival
    person = register(keeper_b, station_b, name_hangul="가상 셋", name_romanized="Gasang Set (fictional)")
    network_services.movement_plan(actor=coordinator, person=person, to_station=station_a, depart_now=True)
    person.refresh_from_db()
    return person


@pytest.fixture
def referral_a(coordinator: User, person_at_a: Person, partner: Partner) -> Any:
    """person_at_a's referral to the partner, made after her consent to sharing with it."""
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.SHARING, given=True, partner=partner)
    return care_services.referral_make(
        actor=coordinator,
        person=person_at_a,
        partner=partner,
        area=NeedArea.DOCUMENTS_LEGAL,
        referred_on=timezone.localdate(),
    )


@pytest.fixture
def goal_a(coordinator: User, person_at_a: Person) -> Any:
    return care_services.goal_add(
        actor=coordinator, person=person_at_a, area=NeedArea.DOCUMENTS_LEGAL, description="Travel papers"
    )


@pytest.fixture
def task_a(coordinator: User, caseworker: User, person_at_a: Person) -> Any:
    return care_services.task_add(
        actor=coordinator,
        person=person_at_a,
        kind=TaskKind.CONTACT,
        due_on=timezone.localdate() + dt.timedelta(days=3),
        assigned_to=caseworker,
    )


# The smallest valid PNG: a 1x1 transparent pixel.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e5272a4f0000000049454e44ae426082"
)


@pytest.fixture
def photo_a(coordinator: User, person_at_a: Person) -> bytes:
    """person_at_a consents to photos and has one."""
    consent_record(actor=coordinator, person=person_at_a, scope=ConsentScope.PHOTOS, given=True)
    person_set_photo(actor=coordinator, person=person_at_a, data=TINY_PNG)
    return TINY_PNG


@pytest.fixture
def personas(
    keeper_a: User,
    caseworker: User,
    coordinator: User,
    analyst: User,
    auditor: User,
    administrator: User,
    inactive_user: User,
) -> dict[str, User]:
    """One persona a role (the keeper keeps station A, the caseworker is assigned to person_at_a)."""
    return {
        Role.KEEPER.value: keeper_a,
        Role.CASEWORKER.value: caseworker,
        Role.COORDINATOR.value: coordinator,
        Role.ANALYST.value: analyst,
        Role.AUDITOR.value: auditor,
        Role.ADMINISTRATOR.value: administrator,
        "inactive": inactive_user,
    }


@pytest.fixture
def world(
    personas: dict[str, User],
    keeper_b: User,
    caseworker_unassigned: User,
    station_a: Station,
    station_b: Station,
    station_c: Station,
    person_at_a: Person,
    person_at_b: Person,
    person_heading_to_a: Person,
    goal_a: Any,
    referral_a: Any,
    task_a: Any,
    photo_a: bytes,
    partner: Partner,
) -> SimpleNamespace:
    """The whole network at once, for tests that walk every page."""
    return SimpleNamespace(
        personas=personas,
        keeper_a=personas[Role.KEEPER],
        keeper_b=keeper_b,
        caseworker=personas[Role.CASEWORKER],
        caseworker_unassigned=caseworker_unassigned,
        coordinator=personas[Role.COORDINATOR],
        analyst=personas[Role.ANALYST],
        auditor=personas[Role.AUDITOR],
        administrator=personas[Role.ADMINISTRATOR],
        inactive_user=personas["inactive"],
        station_a=station_a,
        station_b=station_b,
        station_c=station_c,
        person_at_a=person_at_a,
        person_at_b=person_at_b,
        person_heading_to_a=person_heading_to_a,
        goal_a=goal_a,
        referral_a=referral_a,
        task_a=task_a,
        photo=photo_a,
        partner=partner,
        # A sample value for every URL argument: person_at_a's case, station A and their records.
        route_values={
            "code": person_at_a.case_code,
            "code_name": station_a.code_name,
            "goal_id": goal_a.pk,
            "referral_id": referral_a.pk,
            "task_id": task_a.pk,
            "movement_id": person_at_a.movements.get().pk,
            "user_id": caseworker_unassigned.pk,
            "assignment_id": person_at_a.assignments.get().pk,
            **_duplicate_samples(person_at_a, person_heading_to_a, personas[Role.COORDINATOR]),
            "conflict_id": 999999,  # the fixtures make no sync conflict: an id that does not exist
        },
    )


def _duplicate_samples(one: Person, other: Person, coordinator: User) -> dict[str, int]:
    """A pair to review and a merge already undone (rows only: no record is merged, nothing is audited)."""
    from waystation.linkage.models import Candidate, Merge

    first, second = sorted([one, other], key=lambda p: p.case_code)
    now = timezone.now()
    candidate = Candidate.objects.create(person_a=first, person_b=second, score=0.9, found_at=now)
    undone = Merge.objects.create(
        kept=first, absorbed=second, by=coordinator, at=now, undone_by=coordinator, undone_at=now
    )
    return {"candidate_id": candidate.pk, "merge_id": undone.pk}


# --- the URL configuration -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None  # "namespace:name", None for an unnamed pattern
    pattern: str  # the full pattern, e.g. "cases/<str:code>/"
    kwargs: tuple[str, ...]  # the names of its URL arguments

    @property
    def label(self) -> str:
        return self.name or f"(unnamed) {self.pattern}"


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "", args: tuple[str, ...] = ()) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        own_args = args + tuple(getattr(entry.pattern, "converters", {}))
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner, own_args)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield Route(name=name, pattern=prefix + str(entry.pattern), kwargs=own_args)


@pytest.fixture(scope="session")
def url_routes() -> list[Route]:
    """Every URL pattern of the project's pages, includes followed. Not the JSON API's: it answers bearer tokens
    only, never a session, and ``tests/api/test_api_routes.py`` walks each of its operations for every role."""
    return [route for route in _walk(get_resolver()) if not route.pattern.startswith("api/v1/")]
