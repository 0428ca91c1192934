"""Who may see and resolve sync conflicts: the coordinators (the role that sees every case). Anyone else: 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.sync.changes.models import Conflict


def can_resolve_conflicts(user: User) -> bool:
    return user.is_active and user.role == Role.COORDINATOR


def require_conflicts_access(user: User) -> None:
    if not can_resolve_conflicts(user):
        raise PermissionDenied


def conflict_for_user(user: User, conflict_id: int) -> Conflict:
    require_conflicts_access(user)
    conflict = Conflict.objects.filter(pk=conflict_id).first()
    if conflict is None:
        raise Http404
    return conflict
