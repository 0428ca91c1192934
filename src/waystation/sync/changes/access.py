"""Who may see and resolve sync conflicts: the coordinators (the role that sees every case). Anyone else: 403.

A coordinator sees the conflicts of the records they see, by the rule of the case list and of the duplicates queue
(``cases.access.visible_persons``): under duress, none, and the list looks empty (a conflict shows a case
code and two values of a field, the same as a record would); station records' conflicts likewise only to one who sees
records.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.cases.access import sees_every_person, sees_no_records, visible_persons
from waystation.cases.models import Person
from waystation.sync.changes.models import Conflict


def can_resolve_conflicts(user: User) -> bool:
    return user.is_active and user.role == Role.COORDINATOR


def require_conflicts_access(user: User) -> None:
    if not can_resolve_conflicts(user):
        raise PermissionDenied


def conflicts_for(user: User) -> QuerySet[Conflict]:
    """Every conflict, open or settled, on a record this coordinator sees (none under duress)."""
    require_conflicts_access(user)
    if sees_no_records(user):
        return Conflict.objects.none()
    # Asked as EXISTS per conflict, not IN over the case list's query: this runs on every page a coordinator opens
    # (the navigation's count); the list's query took 25 ms to build and, at 100,000 persons, made SQLite list
    # every person id. One who sees every person needs only that the case exists.
    persons = Person.objects.all() if sees_every_person(user) else visible_persons(user)
    seen = Exists(persons.filter(pk=OuterRef("case_id")))
    return Conflict.objects.filter(seen | Q(case_id__isnull=True))


def open_conflict_count(user: User) -> int:
    """For the navigation: how many conflicts wait for this coordinator (0 under duress)."""
    return conflicts_for(user).filter(resolved_at__isnull=True).count()


def conflict_for_user(user: User, conflict_id: int) -> Conflict:
    conflict = conflicts_for(user).filter(pk=conflict_id).first()
    if conflict is None:
        raise Http404
    return conflict
