from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from waystation.accounts.models import Role
from waystation.cases.access import Need, can
from waystation.network.access import can_see_stations
from waystation.sync.changes.access import can_resolve_conflicts, open_conflict_count


def _nav_items(request: HttpRequest) -> list[dict[str, object]]:
    user = request.user
    if not user.is_authenticated:
        return []
    items: list[dict[str, object]] = []
    if can(user, Need.VIEW):
        items.append({"url": reverse("cases:list"), "label": _("Cases")})
    if can(user, Need.VIEW) and user.role in (Role.KEEPER, Role.COORDINATOR):
        items.append({"url": reverse("cases:register"), "label": _("Register an arrival")})
    if can_see_stations(user):
        items.append({"url": reverse("network:stations"), "label": _("Stations")})
    if can_resolve_conflicts(user):
        waiting = open_conflict_count(user)
        label = _("Sync conflicts (%(n)s)") % {"n": waiting} if waiting else _("Sync conflicts")
        items.append({"url": reverse("sync_changes:list"), "label": label})
    if user.role == Role.AUDITOR:
        items.append({"url": reverse("audit:events"), "label": _("Audit trail")})
    if user.role == Role.ADMINISTRATOR:
        items.append({"url": reverse("accounts:users"), "label": _("Users")})
    items.append({"url": reverse("accounts:security"), "label": _("Sign-in and sessions")})
    return items


def site_without_user() -> dict[str, Any]:
    """What every page's frame needs that does not depend on the user (nor on the database)."""
    return {"QUICK_EXIT_URL": settings.QUICK_EXIT_URL, "LANGUAGES": settings.LANGUAGES}


def site(request: HttpRequest) -> dict[str, Any]:
    return site_without_user() | {"nav_items": _nav_items(request)}
