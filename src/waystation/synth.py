"""Clearly fictional, deterministic synthetic data: ``waystation synth`` and the demo call :func:`generate`.

The same seed on the same day gives the same data (every draw comes from one seeded ``random.Random``; dates are
placed relative to today, so that people are in transit now and some are overdue). Names are random combinations
of common name parts; every free text starts with ``[SYNTHETIC]``. The parts:

- ``synth_route``: stations with fictional code names along the route, legs, staff accounts, partner organisations;
- ``synth_cases``: households (a person and the children born in China), their exploitation history and journey;
- ``synth_care``: assessments, plan goals, services, referrals, tasks and notes;
- ``synth_names``: name parts and text templates.

Rows are inserted in batches (``lib.bulk``, shared with the spreadsheet import: ``executemany``, as a leaner
``bulk_create``), all in one transaction, with one audit
event for the whole run. They are encrypted as the app encrypts them (``vault.fields``): the run acts with a keyring
that holds the index key, each new person gets a data key, and when the run ends every key is wrapped for the staff
entitled to the case and for the recovery key (``vault.grants``). Each person's names are indexed (``vault.blind``)
from the plaintext before it is sealed. The staff accounts are made by ``accounts.services.user_create`` (key pair
included) with random passwords that nobody is told.

The index key comes from the caller (``index_key``), or, into an installation whose vault is not set up yet, from
setting it up here: the recovery shares are then in :attr:`Generated.vault`, for the caller to print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models, transaction
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
from waystation.lib import bulk
from waystation.lib.bulk import Rows
from waystation.network.models import Leg, Movement, Station
from waystation.synth_cases import World, household
from waystation.synth_route import partners_ensure, route_ensure, set_capacities, staff_ensure
from waystation.vault import setup
from waystation.vault.keyring import Keyring, acting
from waystation.vault.models import NameIndex

MIN_STATIONS, MAX_STATIONS = 4, 50
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
    with bulk.large_sqlite_cache(), transaction.atomic():
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
        bulk.index_names(rows, index_key)
        bulk.insert(rows, MODELS, counts)
        tenth = done * 10 // persons
        if progress is not None and tenth > reported:
            reported = tenth
            progress(f"{done}/{persons} persons ({done * 100 // persons}%)")
    return counts


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
