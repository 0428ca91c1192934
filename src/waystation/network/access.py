"""Who may see and manage stations. Coordinators manage the route; keepers see their own stations."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.network.models import Station


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
