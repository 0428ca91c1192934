"""Who may see and manage stations. Coordinators manage the route; keepers see their own stations."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, MovementStatus, Station


def visible_stations(user: User) -> QuerySet[Station]:
    if not user.is_active:
        return Station.objects.none()
    if user.role in (Role.COORDINATOR, Role.CASEWORKER):
        return Station.objects.all()
    if user.role == Role.KEEPER:
        return user.kept_stations.all()
    return Station.objects.none()


def can_see_stations(user: User) -> bool:
    return user.is_active and user.role in (Role.COORDINATOR, Role.CASEWORKER, Role.KEEPER)


def can_manage_stations(user: User) -> bool:
    return user.is_active and user.role == Role.COORDINATOR


def station_for_user(user: User, code_name: str, *, manage: bool = False) -> Station:
    station = visible_stations(user).filter(code_name=code_name).first()
    if station is None:
        raise Http404
    if manage and not can_manage_stations(user):
        raise PermissionDenied
    return station


# What a keeper may record about a movement: its departure from their station, its arrival at their station,
# and a failure or interception on either end. Coordinators record anything.
MOVEMENT_ACTIONS = ("depart", "arrived", "failed", "intercepted")


def movement_actions_for(user: User, movement: Movement, *, for_display: bool = True) -> list[str]:
    """The actions ``user`` may record on ``movement``; for display, only those its current status allows."""
    if not user.is_active or (for_display and movement.status not in OPEN_MOVEMENT_STATUSES):
        return []
    if user.role == Role.COORDINATOR:
        allowed = list(MOVEMENT_ACTIONS)
    elif user.role == Role.KEEPER:
        from waystation.cases.access import keeper_station_ids

        mine = set(keeper_station_ids(user))
        leaving, arriving = movement.from_station_id in mine, movement.to_station_id in mine
        allowed = [
            action
            for action, ok in (
                ("depart", leaving),
                ("arrived", arriving),
                ("failed", leaving or arriving),
                ("intercepted", leaving or arriving),
            )
            if ok
        ]
    else:
        return []
    if for_display and movement.status == MovementStatus.UNDER_WAY:
        allowed = [a for a in allowed if a != "depart"]
    return allowed


def check_movement_action(user: User, movement: Movement, action: str) -> None:
    """403 unless the role and stations allow it; whether the movement's state allows it is the service's to say."""
    if action not in movement_actions_for(user, movement, for_display=False):
        raise PermissionDenied
