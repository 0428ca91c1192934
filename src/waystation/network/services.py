"""Writes to the route: stations, legs and movements. One transaction each, audited inside it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.cases.choices import ENDED_STATUSES, CaseStatus
from waystation.cases.models import Person
from waystation.cases.services import status_on_arrival
from waystation.lib.errors import ServiceError
from waystation.network.models import (
    OPEN_MOVEMENT_STATUSES,
    Leg,
    Movement,
    MovementStatus,
    Station,
    StationStatus,
)
from waystation.network.selectors import current_station_id, open_movement


def _usual_arrival(origin: Station, destination: Station, departed: dt.datetime) -> dt.datetime | None:
    leg = Leg.objects.filter(from_station=origin, to_station=destination).first()
    return departed + dt.timedelta(days=leg.usual_days) if leg else None


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
    if person.status in ENDED_STATUSES:
        raise ServiceError(_("This case is no longer open."))
    here_id = current_station_id(person.pk)
    if here_id is None:
        raise ServiceError(_("This person has no current station to leave from."))
    if to_station.pk == here_id:
        raise ServiceError(_("The person is already at this station."), field="to_station")
    if to_station.status != StationStatus.ACTIVE:
        raise ServiceError(_("This station is not active: nobody can be sent there."), field="to_station")
    if open_movement(person.pk) is not None:
        raise ServiceError(_("This person already has a movement planned or under way."), field="to_station")
    now = timezone.now()
    if expected_arrival is not None and expected_arrival < now:
        raise ServiceError(_("The expected arrival is in the past."), field="expected_arrival")
    here = Station.objects.get(pk=here_id)
    with transaction.atomic():
        movement = Movement.objects.create(
            person=person,
            from_station=here,
            to_station=to_station,
            status=MovementStatus.UNDER_WAY if depart_now else MovementStatus.PLANNED,
            planned_at=now,
            departed_at=now if depart_now else None,
            expected_arrival=expected_arrival or (_usual_arrival(here, to_station, now) if depart_now else None),
            recorded_by=actor,
            note=note.strip(),
        )
        if depart_now:
            _set_person_status(actor, person, CaseStatus.IN_TRANSIT)
        audit_record(
            actor=actor,
            action="movement.plan",
            target=movement,
            case_id=person.id,
            details={"from": here.pk, "to": to_station.pk, "status": movement.status},
        )
    return movement


def _set_person_status(actor: User, person: Person, status: str) -> None:
    if person.status != status:
        old, person.status = person.status, status
        person.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor, action="person.status", target=person, case_id=person.id, details={"from": old, "to": status}
        )


def _require_open(movement: Movement) -> None:
    if movement.status not in OPEN_MOVEMENT_STATUSES:
        raise ServiceError(_("This movement is already over."))


def movement_depart(*, actor: User, movement: Movement, expected_arrival: dt.datetime | None = None) -> Movement:
    _require_open(movement)
    if movement.status == MovementStatus.UNDER_WAY:
        raise ServiceError(_("This movement is already under way."))
    now = timezone.now()
    if expected_arrival is not None and expected_arrival < now:
        raise ServiceError(_("The expected arrival is in the past."), field="expected_arrival")
    with transaction.atomic():
        movement.status = MovementStatus.UNDER_WAY
        movement.departed_at = now
        assert movement.from_station is not None  # noqa: S101 - only intake movements have no origin
        movement.expected_arrival = expected_arrival or _usual_arrival(movement.from_station, movement.to_station, now)
        movement.save(update_fields=["status", "departed_at", "expected_arrival"])
        _set_person_status(actor, movement.person, CaseStatus.IN_TRANSIT)
        audit_record(actor=actor, action="movement.depart", target=movement, case_id=movement.person_id)
    return movement


def movement_arrive(*, actor: User, movement: Movement) -> Movement:
    _require_open(movement)
    with transaction.atomic():
        movement.status = MovementStatus.ARRIVED
        movement.arrived_at = timezone.now()
        if movement.departed_at is None:
            movement.departed_at = movement.arrived_at
        movement.save(update_fields=["status", "arrived_at", "departed_at"])
        _set_person_status(actor, movement.person, status_on_arrival(movement.to_station))
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
    with transaction.atomic():
        movement.status = outcome
        movement.ended_at = timezone.now()
        movement.save(update_fields=["status", "ended_at"])
        if outcome == MovementStatus.INTERCEPTED:
            _set_person_status(actor, movement.person, CaseStatus.DETAINED)
        elif movement.person.status == CaseStatus.IN_TRANSIT and movement.from_station is not None:
            _set_person_status(actor, movement.person, status_on_arrival(movement.from_station))
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


def station_create(*, actor: User, keepers: list[User] | None = None, **fields: Any) -> Station:
    code = str(fields.get("code_name", "")).strip()
    if not code:
        raise ServiceError(_("Give the station a code name."), field="code_name")
    if Station.objects.filter(code_name=code).exists():
        raise ServiceError(_("A station with this code name exists already."), field="code_name")
    _check_keepers(keepers or [])
    with transaction.atomic():
        station = Station.objects.create(**{**fields, "code_name": code})
        station.keepers.set(keepers or [])
        audit_record(actor=actor, action="station.create", target=station)
    return station


def station_update(*, actor: User, station: Station, keepers: list[User], **fields: Any) -> Station:
    if "code_name" in fields and Station.objects.filter(code_name=fields["code_name"]).exclude(pk=station.pk).exists():
        raise ServiceError(_("A station with this code name exists already."), field="code_name")
    _check_keepers(keepers)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(station, name, value)
        station.save()
        station.keepers.set(keepers)
        audit_record(actor=actor, action="station.update", target=station, details={"fields": sorted(fields)})
    return station


def station_set_status(*, actor: User, station: Station, status: str) -> Station:
    """Suspend, reopen, close or mark compromised. Marking compromised is one action; the page then shows who
    is there and who is heading there."""
    if status not in StationStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    if status == station.status:
        raise ServiceError(_("The station already has this status."), field="status")
    with transaction.atomic():
        old = station.status
        station.status = status
        station.status_changed_at = timezone.now()
        station.save(update_fields=["status", "status_changed_at"])
        audit_record(actor=actor, action="station.status", target=station, details={"from": old, "to": status})
    return station


def leg_set(*, actor: User, from_station: Station, to_station: Station, usual_days: int) -> Leg:
    if from_station.pk == to_station.pk:
        raise ServiceError(_("A leg joins two different stations."), field="to_station")
    if not 0 < usual_days <= 365:
        raise ServiceError(_("The usual duration must be between 1 and 365 days."), field="usual_days")
    with transaction.atomic():
        leg, _created = Leg.objects.update_or_create(
            from_station=from_station, to_station=to_station, defaults={"usual_days": usual_days}
        )
        audit_record(actor=actor, action="leg.set", target=leg, details={"days": usual_days})
    return leg
