"""Writes to the route: stations, legs and movements. One transaction each, audited inside it."""

from __future__ import annotations

import datetime as dt
import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.cases.choices import ENDED_STATUSES, CaseStatus
from waystation.cases.models import Person
from waystation.cases.services import person_status_apply, status_on_arrival
from waystation.lib.choices import check_choice
from waystation.lib.errors import ServiceError
from waystation.network.models import (
    CODE_NAME_MESSAGE,
    CODE_NAME_PATTERN,
    MAX_CAPACITY,
    OPEN_MOVEMENT_STATUSES,
    RESERVED_CODE_NAME_MESSAGE,
    RESERVED_CODE_NAMES,
    Country,
    Leg,
    Movement,
    MovementStatus,
    Station,
    StationKind,
    StationStatus,
)
from waystation.network.selectors import current_station_id, open_movement
from waystation.vault import grants
from waystation.vault.keyring import acting

# Where the person is is not known: they cannot be sent anywhere until it is.
UNACCOUNTED_STATUSES = (CaseStatus.DETAINED, CaseStatus.MISSING)


def _usual_arrival(origin: Station, destination: Station, departed: dt.datetime) -> dt.datetime | None:
    leg = Leg.objects.filter(from_station=origin, to_station=destination).first()
    return departed + dt.timedelta(days=leg.usual_days) if leg else None


def _check_case_open(person: Person) -> None:
    if person.status in ENDED_STATUSES:
        raise ServiceError(_("This case is no longer open."))


def _check_can_leave(person: Person) -> None:
    _check_case_open(person)
    if person.status in UNACCOUNTED_STATUSES:
        raise ServiceError(_("This person is detained or missing: record where they are first."))


def _check_expected_arrival(expected_arrival: dt.datetime | None, now: dt.datetime) -> None:
    if expected_arrival is not None and expected_arrival < now:
        raise ServiceError(_("The expected arrival is in the past."), field="expected_arrival")


def _arrival_for_departure(
    given: dt.datetime | None, already: dt.datetime | None, origin: Station, destination: Station, now: dt.datetime
) -> dt.datetime:
    """The expected arrival of a movement leaving now: the one given, else the one set when it was planned, else the
    usual duration of the leg. One is required, so that every movement under way can become overdue."""
    expected = given or already or _usual_arrival(origin, destination, now)
    if expected is None:
        raise ServiceError(
            _("Give an expected arrival: there is no usual duration for this leg."), field="expected_arrival"
        )
    return expected


def movement_plan(
    *,
    actor: User,
    person: Person,
    to_station: Station,
    depart_now: bool = False,
    expected_arrival: dt.datetime | None = None,
    note: str = "",
) -> Movement:
    """Plan (or start at once) a person's passage from where they are now to the next station."""
    _check_can_leave(person)
    here_id = current_station_id(person.pk)
    if here_id is None:
        raise ServiceError(_("This person has no current station to leave from."))
    if to_station.pk == here_id:
        raise ServiceError(_("The person is already at this station."), field="to_station")
    if to_station.status != StationStatus.ACTIVE:
        raise ServiceError(_("This station is not active: nobody can be sent there."), field="to_station")
    already_open = _("This person already has a movement planned or under way.")
    if open_movement(person.pk) is not None:
        raise ServiceError(already_open, field="to_station")
    now = timezone.now()
    _check_expected_arrival(expected_arrival, now)
    here = Station.objects.get(pk=here_id)
    if depart_now:
        expected_arrival = _arrival_for_departure(expected_arrival, None, here, to_station, now)
    try:
        with transaction.atomic(), acting(actor) as keyring:
            movement = Movement.objects.create(
                person=person,
                from_station=here,
                to_station=to_station,
                status=MovementStatus.UNDER_WAY if depart_now else MovementStatus.PLANNED,
                planned_at=now,
                departed_at=now if depart_now else None,
                expected_arrival=expected_arrival,
                recorded_by=actor,
                note=note.strip(),
            )
            if depart_now:
                person_status_apply(actor=actor, person=person, status=CaseStatus.IN_TRANSIT)
            grants.sync(keyring, [person.id])
            audit_record(
                actor=actor,
                action="movement.plan",
                target=movement,
                case_id=person.id,
                details={"from": here.pk, "to": to_station.pk, "status": movement.status},
            )
    except IntegrityError as exc:  # another movement was recorded for this person at the same moment
        if open_movement(person.pk) is None:
            raise
        raise ServiceError(already_open, field="to_station") from exc
    return movement


def _require_open(movement: Movement) -> None:
    if movement.status not in OPEN_MOVEMENT_STATUSES:
        raise ServiceError(_("This movement is already over."))


def movement_depart(*, actor: User, movement: Movement, expected_arrival: dt.datetime | None = None) -> Movement:
    _require_open(movement)
    if movement.status == MovementStatus.UNDER_WAY:
        raise ServiceError(_("This movement is already under way."))
    _check_can_leave(movement.person)
    if movement.to_station.status != StationStatus.ACTIVE:
        raise ServiceError(_("The destination is no longer active: end this movement and plan another one."))
    now = timezone.now()
    _check_expected_arrival(expected_arrival, now)
    assert movement.from_station is not None  # noqa: S101 - only intake movements have no origin, and they arrive
    expected = _arrival_for_departure(
        expected_arrival, movement.expected_arrival, movement.from_station, movement.to_station, now
    )
    with transaction.atomic(), acting(actor) as keyring:
        movement.status = MovementStatus.UNDER_WAY
        movement.departed_at = now
        movement.expected_arrival = expected
        movement.save(update_fields=["status", "departed_at", "expected_arrival"])
        person_status_apply(actor=actor, person=movement.person, status=CaseStatus.IN_TRANSIT)
        grants.sync(keyring, [movement.person_id])
        audit_record(actor=actor, action="movement.depart", target=movement, case_id=movement.person_id)
    return movement


def movement_arrive(*, actor: User, movement: Movement) -> Movement:
    """The person reached the destination. A closed case is not reopened by an arrival: that is refused."""
    _require_open(movement)
    _check_case_open(movement.person)
    with transaction.atomic(), acting(actor) as keyring:
        movement.status = MovementStatus.ARRIVED
        movement.arrived_at = timezone.now()
        if movement.departed_at is None:
            movement.departed_at = movement.arrived_at
        movement.save(update_fields=["status", "arrived_at", "departed_at"])
        person_status_apply(actor=actor, person=movement.person, status=status_on_arrival(movement.to_station))
        grants.sync(keyring, [movement.person_id])
        audit_record(
            actor=actor,
            action="movement.arrive",
            target=movement,
            case_id=movement.person_id,
            details={"station": movement.to_station_id},
        )
    return movement


def movement_end(*, actor: User, movement: Movement, outcome: str) -> Movement:
    """A movement that did not arrive: failed (turned back, called off) or intercepted."""
    if outcome not in (MovementStatus.FAILED, MovementStatus.INTERCEPTED):
        raise ServiceError(_("Unknown outcome."), field="outcome")
    _require_open(movement)
    _check_case_open(movement.person)
    person = movement.person
    with transaction.atomic(), acting(actor) as keyring:
        movement.status = outcome
        movement.ended_at = timezone.now()
        movement.save(update_fields=["status", "ended_at"])
        if outcome == MovementStatus.INTERCEPTED:
            person_status_apply(actor=actor, person=person, status=CaseStatus.DETAINED)
        elif person.status == CaseStatus.IN_TRANSIT and movement.from_station is not None:
            person_status_apply(actor=actor, person=person, status=status_on_arrival(movement.from_station))
        grants.sync(keyring, [movement.person_id])
        audit_record(
            actor=actor,
            action="movement.end",
            target=movement,
            case_id=movement.person_id,
            details={"outcome": outcome},
        )
    return movement


STATION_FIELDS = ("code_name", "country", "region", "kind", "capacity")


def _check_keepers(keepers: list[User]) -> None:
    if any(k.role != Role.KEEPER for k in keepers):
        raise ServiceError(_("Only station keepers can keep a station."), field="keepers")


def _check_code_name(code_name: str, *, station: Station | None = None) -> str:
    code = code_name.strip()
    if not code:
        raise ServiceError(_("Give the station a code name."), field="code_name")
    if not re.match(CODE_NAME_PATTERN, code):
        raise ServiceError(str(CODE_NAME_MESSAGE), field="code_name")
    if code.lower() in RESERVED_CODE_NAMES:
        raise ServiceError(str(RESERVED_CODE_NAME_MESSAGE), field="code_name")
    others = Station.objects.exclude(pk=station.pk) if station is not None else Station.objects.all()
    if others.filter(code_name__iexact=code).exists():
        raise ServiceError(_("A station with this code name exists already."), field="code_name")
    return code


def _check_station_fields(*, country: str, region: str, kind: str, capacity: int) -> None:
    check_choice(country, Country, field="country")
    check_choice(kind, StationKind, field="kind")
    if not region.strip():
        raise ServiceError(_("Give the region (coarse, never an address)."), field="region")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
        raise ServiceError(_("Capacity must be between 0 and %(max)s.") % {"max": MAX_CAPACITY}, field="capacity")


def station_create(
    *,
    actor: User,
    code_name: str,
    country: str,
    region: str,
    kind: str,
    capacity: int = 0,
    keepers: list[User] | None = None,
) -> Station:
    code = _check_code_name(code_name)
    _check_station_fields(country=country, region=region, kind=kind, capacity=capacity)
    _check_keepers(keepers or [])
    with transaction.atomic(), acting(actor):
        station = Station.objects.create(
            code_name=code, country=country, region=region.strip(), kind=kind, capacity=capacity
        )
        station.keepers.set(keepers or [])
        audit_record(actor=actor, action="station.create", target=station)
    return station


def station_update(
    *,
    actor: User,
    station: Station,
    keepers: list[User],
    code_name: str,
    country: str,
    region: str,
    kind: str,
    capacity: int,
) -> Station:
    """Change a station's editable fields and keepers. Its status changes only through ``station_set_status``."""
    values = {
        "code_name": _check_code_name(code_name, station=station),
        "country": country,
        "region": region.strip(),
        "kind": kind,
        "capacity": capacity,
    }
    _check_station_fields(country=country, region=region, kind=kind, capacity=capacity)
    _check_keepers(keepers)
    changed = sorted(name for name, value in values.items() if getattr(station, name) != value)
    keepers_changed = set(station.keepers.values_list("pk", flat=True)) != {k.pk for k in keepers}
    with transaction.atomic(), acting(actor) as keyring:
        if changed:
            for name in changed:
                setattr(station, name, values[name])
            station.save(update_fields=changed)
        station.keepers.set(keepers)
        if keepers_changed:
            grants.sync_station(keyring, station.pk)
        audit_record(
            actor=actor,
            action="station.update",
            target=station,
            details={"fields": [*changed, "keepers"] if keepers_changed else changed},
        )
    return station


def station_set_status(*, actor: User, station: Station, status: str) -> Station:
    """Suspend, reopen, close or mark compromised. Marking compromised is one action; the page then shows who
    is there and who is heading there."""
    if status not in StationStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    if status == station.status:
        raise ServiceError(_("The station already has this status."), field="status")
    with transaction.atomic(), acting(actor) as keyring:
        old = station.status
        station.status = status
        station.status_changed_at = timezone.now()
        station.save(update_fields=["status", "status_changed_at"])
        grants.sync_station(keyring, station.pk)
        audit_record(actor=actor, action="station.status", target=station, details={"from": old, "to": status})
    return station


def leg_set(*, actor: User, from_station: Station, to_station: Station, usual_days: int) -> Leg:
    if from_station.pk == to_station.pk:
        raise ServiceError(_("A leg joins two different stations."), field="to_station")
    if not 0 < usual_days <= 365:
        raise ServiceError(_("The usual duration must be between 1 and 365 days."), field="usual_days")
    with transaction.atomic(), acting(actor):
        leg, _created = Leg.objects.update_or_create(
            from_station=from_station, to_station=to_station, defaults={"usual_days": usual_days}
        )
        audit_record(actor=actor, action="leg.set", target=leg, details={"days": usual_days})
    return leg
