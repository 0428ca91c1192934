"""Movements and stations over the API: ``network.access`` and ``network.services``, as the pages use them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from waystation.api.auth import Token, caller_of
from waystation.api.schemas import ERRORS, Code, Id, MovementAction, MovementIn, MovementOut, StationOut
from waystation.api.tokens import Scope
from waystation.cases.access import Need, can, case_for_user
from waystation.lib.errors import ServiceError
from waystation.network import services
from waystation.network.access import can_see_stations, check_movement_action, visible_stations
from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, MovementStatus, Station, StationStatus

router = Router(tags=["movements"])
stations_router = Router(tags=["stations"])


def _movement_out(movement: Movement) -> dict[str, Any]:
    return {
        "id": movement.pk,
        "from_station": movement.from_station.code_name if movement.from_station else None,
        "to_station": movement.to_station.code_name,
        "status": movement.status,
        "planned_at": movement.planned_at,
        "departed_at": movement.departed_at,
        "expected_arrival": movement.expected_arrival,
        "arrived_at": movement.arrived_at,
        "ended_at": movement.ended_at,
    }


@router.get(
    "/{code}/movements",
    response={200: list[MovementOut], **ERRORS},
    auth=Token(Scope.CASES_READ),
    url_name="case_movements",
)
def movement_list(request: HttpRequest, code: Code) -> list[dict[str, Any]]:
    """A person's movements along the route, oldest first, as the case page shows them: for a role without full
    access (a keeper), only the movement planned or under way, not the stations she came through."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.VIEW)
    movements = person.movements.select_related("from_station", "to_station").order_by("planned_at", "id")
    if not can(user, Need.VIEW_FULL):
        movements = movements.filter(status__in=OPEN_MOVEMENT_STATUSES)
    return [_movement_out(m) for m in movements]


@router.post(
    "/{code}/movements",
    response={201: MovementOut, **ERRORS},
    auth=Token(Scope.MOVEMENTS_WRITE),
    url_name="case_movements",
)
def movement_plan(request: HttpRequest, code: Code, move: MovementIn) -> Status[Any]:
    """Plan (or, with ``depart_now``, start) the person's next movement: as the movement form does."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.MOVE)
    to_station = Station.objects.filter(status=StationStatus.ACTIVE, code_name=move.to_station).first()
    if to_station is None:
        raise ServiceError(_("Unknown station. Choose one from the list."), field="to_station")
    movement = services.movement_plan(
        actor=user,
        person=person,
        to_station=to_station,
        depart_now=move.depart_now,
        expected_arrival=move.expected_arrival,
        note=move.note,
    )
    return Status(201, _movement_out(movement))


@router.post(
    "/{code}/movements/{movement_id}",
    response={200: MovementOut, **ERRORS},
    auth=Token(Scope.MOVEMENTS_WRITE),
    url_name="case_movement",
)
def movement_update(request: HttpRequest, code: Code, movement_id: Id, change: MovementAction) -> dict[str, Any]:
    """Record that a movement departed, arrived, failed or was intercepted: the same checks as the case page."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.MOVE)
    movement = person.movements.select_related("person", "from_station", "to_station").filter(pk=movement_id).first()
    if movement is None:
        raise Http404
    action = change.action
    check_movement_action(user, movement, action)
    if action == "depart":
        services.movement_depart(actor=user, movement=movement, expected_arrival=change.expected_arrival)
    elif action == MovementStatus.ARRIVED:
        services.movement_arrive(actor=user, movement=movement)
    else:
        services.movement_end(actor=user, movement=movement, outcome=action)
    movement.refresh_from_db()
    return _movement_out(movement)


@stations_router.get(
    "/", response={200: list[StationOut], **ERRORS}, auth=Token(Scope.STATIONS_READ), url_name="station_list"
)
def station_list(request: HttpRequest) -> list[Station]:
    """The stations the caller may see (a keeper: their own), by code name; never an address."""
    user = caller_of(request).user
    if not can_see_stations(user):
        raise PermissionDenied
    return list(visible_stations(user).order_by("code_name"))
