"""Clearly fictional, deterministic synthetic data: ``waystation synth`` and the demo call :func:`generate`.

The same seed on the same day gives the same data (every draw comes from one seeded ``random.Random``; dates are
placed relative to today, so that people are in transit now and some are overdue). Names are random combinations
of common name parts; every free text starts with ``[SYNTHETIC]``. The parts:

- ``synth_route``: stations with fictional code names along the route, legs, staff accounts, partner organisations;
- ``synth_cases``: households (a person and the children born in China), their exploitation history and journey;
- ``synth_care``: assessments, plan goals, services, referrals, tasks and notes;
- ``synth_names``: name parts and text templates.

Rows are inserted in batches (``executemany``, as a leaner ``bulk_create``), all in one transaction, with one audit
event for the whole run. They are encrypted as the app encrypts them (``vault.fields``): the run acts with a keyring
that holds the index key, each new person gets a data key, and when the run ends every key is wrapped for the staff
entitled to the case and for the recovery key (``vault.grants``). Each person's names are indexed (``vault.blind``)
from the plaintext before it is sealed. The staff accounts are made by ``accounts.services.user_create`` (key pair
included) with random passwords that nobody is told.

The index key comes from the caller (``index_key``), or, into an installation whose vault is not set up yet, from
setting it up here: the recovery shares are then in :attr:`Generated.vault`, for the caller to print.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone

from waystation.audit.services import audit_record
from waystation.cases.models import (
    Assignment,
    CarePlanGoal,
    CaseNote,
    Consent,
    ExploitationEpisode,
    FamilyLink,
    FollowUpTask,
    NeedsAssessment,
    Person,
    Referral,
    ServiceRecord,
)
from waystation.network.models import Leg, Movement, Station
from waystation.synth_cases import Rows, World, household
from waystation.synth_route import partners_ensure, route_ensure, set_capacities, staff_ensure
from waystation.vault import blind, setup
from waystation.vault.keyring import Keyring, acting
from waystation.vault.models import NameIndex

MIN_STATIONS, MAX_STATIONS = 4, 50
SQLITE_CACHE_KIB = -256 * 1024  # negative: in KiB, as SQLite's PRAGMA cache_size takes it (256 MiB at most)
# Insert order (persons before the rows that point at them) and the name of each in the summary.
MODELS: list[tuple[type[models.Model], str]] = [
    (Person, "persons"),
    (NameIndex, "name_digests"),
    (FamilyLink, "family_links"),
    (ExploitationEpisode, "episodes"),
    (Movement, "movements"),
    (Consent, "consents"),
    (Assignment, "assignments"),
    (NeedsAssessment, "assessments"),
    (CarePlanGoal, "goals"),
    (ServiceRecord, "services"),
    (Referral, "referrals"),
    (FollowUpTask, "tasks"),
    (CaseNote, "notes"),
]

Progress = Callable[[str], object]


class SynthError(ValueError):
    """The generator refused to run; the message says why and what to do."""


def check_arguments(*, persons: int, stations: int) -> None:
    if persons < 1:
        raise SynthError(f"The number of persons must be at least 1 (got {persons}).")
    if not MIN_STATIONS <= stations <= MAX_STATIONS:
        raise SynthError(f"The number of stations must be between {MIN_STATIONS} and {MAX_STATIONS} (got {stations}).")


@dataclass(frozen=True)
class Generated:
    """What a run made: the count of each kind of row; and ``vault`` when the run set the vault up (its recovery
    shares exist nowhere else: the caller prints them)."""

    counts: dict[str, int]
    vault: setup.Initialised | None = None


def generate(
    *,
    persons: int,
    seed: int,
    stations: int = 8,
    progress: Progress | None = None,
    append: bool = False,
    today: dt.date | None = None,
    index_key: bytes | None = None,
) -> Generated:
    """Generate ``persons`` fictional persons on a ``stations``-station route, encrypted and indexed.

    Refuses (``SynthError``) when persons exist already, unless ``append``. Into an installation whose vault is set
    up, ``index_key`` must be its index key (the run cannot open it); without a vault, the run sets it up.
    ``today`` (default: today) anchors the dates; with the same seed, stations, persons and today, the data (once
    decrypted) is the same.
    """
    check_arguments(persons=persons, stations=stations)
    today = today or timezone.localdate()
    with _large_sqlite_cache(), transaction.atomic():
        existing = Person.objects.count()
        if existing and not append:
            raise SynthError(
                f"The database already holds {existing} persons. Generate into an empty installation "
                "(set WAYSTATION_HOME to an empty folder)."
            )
        vault, key = _index_key(index_key)
        keyring = Keyring(None, None)
        keyring.adopt_index_key(key)
        with acting(None, keyring):  # on leaving: every new case's key wrapped for its holders and the recovery key
            # Appending draws from another stream (the count is part of the seed), so new ids never repeat old ones.
            rng = random.Random(f"waystation-synth/{seed}/{existing}")
            route = route_ensure(stations)
            staff = staff_ensure(route, persons)
            partners = partners_ensure()
            taken = set(Person.objects.values_list("case_code", flat=True)) if existing else set()
            anchor = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
            world = World(rng, anchor, route, staff, partners, taken)
            counts = _generate_rows(world, persons, progress, key)
            set_capacities(route, world.occupancy, rng)
            audit_record(
                actor=None,
                action="synth.generate",
                details={"persons": persons, "seed": seed, "stations": stations, "append": append},
            )
    summary = {
        "stations": len(route.stations),
        "legs": Leg.objects.filter(from_station__in=route.stations).count(),
        "users": len({*staff.users.values(), *staff.caseworkers, *staff.keeper_of.values()}),
        "partners": len(partners),
    }
    return Generated(counts=summary | {name: counts[name] for _model, name in MODELS}, vault=vault)


def _index_key(given: bytes | None) -> tuple[setup.Initialised | None, bytes]:
    """The index key to index names with: the one given, or a new vault's (set up now, when there is none)."""
    initialised = setup.is_initialised()
    if given is not None:
        if not initialised:
            raise SynthError("An index key was given, but this installation's vault is not set up.")
        return None, given
    if initialised:
        raise SynthError(
            "This installation's vault is set up already: new names must be indexed with its index key, which "
            "only a signed-in user's password or the recovery shares open, and synth has neither. Generate into an "
            "empty installation instead (set WAYSTATION_HOME to an empty folder)."
        )
    vault = setup.initialise(actor=None)
    return vault, vault.index_key


@contextlib.contextmanager
def _large_sqlite_cache() -> Iterator[None]:
    """SQLite's default page cache (2 MB) makes inserts into the random-keyed indexes wait on the disk once the
    data outgrows it: twice the time at 20,000 persons. A larger cache for the run, then the old size again."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "sqlite":
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (old,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(old)}")


def _batch_size(persons: int) -> int:
    """Persons per batch: small enough to report progress every 10%, large enough to insert efficiently."""
    return min(2000, max(50, persons // 10))


def _generate_rows(world: World, persons: int, progress: Progress | None, index_key: bytes) -> Counter[str]:
    counts: Counter[str] = Counter()
    done = index = 0
    reported = 0
    batch = _batch_size(persons)
    while done < persons:
        rows = Rows()
        end = min(persons, done + batch)
        while done < end:
            done += household(world, rows, index, end - done)
            index += 1
        _index_names(rows, index_key)
        _insert(rows, counts)
        tenth = done * 10 // persons
        if progress is not None and tenth > reported:
            reported = tenth
            progress(f"{done}/{persons} persons ({done * 100 // persons}%)")
    return counts


def _index_names(rows: Rows, index_key: bytes) -> None:
    """The name digests of the batch's persons, and the digests of their name keys that duplicate detection compares
    (``vault.blind.rows``), from their names while these are still plaintext (inserting a person seals them)."""
    for person in rows.by_model.get(Person, []):
        assert isinstance(person, Person)  # noqa: S101 - rows are kept by their model
        names = blind.name_values(
            name_hangul=person.name_hangul,
            name_romanized=person.name_romanized,
            name_chinese=person.name_chinese,
            aliases=person.aliases,
        )
        for row in blind.rows(person.id, index_key, names):
            rows.add(row)


def _insert(rows: Rows, counts: Counter[str]) -> None:
    now = timezone.now()
    for model, name in MODELS:
        objs = rows.by_model.get(model, [])
        if objs:
            _insert_rows(model, objs, now)
            counts[name] += len(objs)


def _insert_rows(model: type[models.Model], objs: list[models.Model], now: dt.datetime) -> None:
    """``bulk_create`` without its per-row SQL compilation (most of the insert time): each value is prepared by
    its field as ``bulk_create`` does (``pre_save``, then ``get_db_prep_save``), except that a time column filled
    automatically keeps a time the generator set. SQLite takes one ``executemany``; a server, multi-row inserts
    (one round trip for many rows)."""
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    fields = [f for f in fields if not getattr(f, "generated", False)]
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the proxy's per-access lookup costs seconds here
    plan = [(f, f.attname, getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)) for f in fields]
    params = [
        [
            f.get_db_prep_save((getattr(obj, attname) or now) if auto_time else f.pre_save(obj, True), db)
            for f, attname, auto_time in plan
        ]
        for obj in objs
    ]
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # names from the models, values all as parameters
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    row = f"({', '.join(['%s'] * len(fields))})"
    with db.cursor() as cursor:
        if db.vendor == "sqlite":
            cursor.executemany(head + row, params)
            return
        per_statement = max(1, min(1000, (db.features.max_query_params or 65535) // len(fields)))
        for i in range(0, len(params), per_statement):
            chunk = params[i : i + per_statement]
            cursor.execute(head + ", ".join([row] * len(chunk)), [value for values in chunk for value in values])


def coded_digest() -> str:
    """A digest of the coded (non-identifying) data: equal digests mean the same persons, episodes and journeys."""
    digest = hashlib.sha256()
    codes = dict(Station.objects.values_list("pk", "code_name"))
    person_fields = ("case_code", "sex", "birth_year", "origin_province", "left_nk_month", "first_contact_month")
    for row in Person.objects.order_by("case_code").values_list(*person_fields, "languages", "status"):
        digest.update(repr(row).encode())
    episode_fields = ("exploitation_type", "start_month", "end_month", "province_in_china", "was_sold")
    for row in ExploitationEpisode.objects.order_by("person__case_code", "id").values_list(
        "person__case_code", *episode_fields, "perpetrator_roles", "control_methods"
    ):
        digest.update(repr(row).encode())
    movement_fields = ("status", "planned_at", "departed_at", "expected_arrival", "arrived_at", "ended_at")
    for code, origin, destination, *rest in Movement.objects.order_by("person__case_code", "id").values_list(
        "person__case_code", "from_station_id", "to_station_id", *movement_fields
    ):
        digest.update(repr((code, codes.get(origin), codes[destination], *rest)).encode())
    return digest.hexdigest()
