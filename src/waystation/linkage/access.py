"""Who may review duplicates: the coordinators, who see every case of the organisation (DESIGN.md: "merges
duplicates"). A list of who may be one person is itself sensitive, so nobody else may see even the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from waystation.accounts.models import Role, User
from waystation.cases.access import visible_persons
from waystation.linkage.models import Candidate, Merge

T = TypeVar("T", bound=Model)


def can_review(user: User | None) -> bool:
    return user is not None and user.is_active and user.role == Role.COORDINATOR


def candidate_for_user(user: User, candidate_id: int) -> Candidate:
    """A pair this coordinator may review: 403 for anyone else, 404 when there is no such pair or one of its records
    is not among those the user sees (none, under duress: the queue looks empty, as the case list does)."""
    return _one(user, reviewable, candidate_id)


def merge_for_user(user: User, merge_id: int) -> Merge:
    """A merge this coordinator may undo: 403 and 404 as for a pair."""
    return _one(user, merges_for, merge_id)


def _one(user: User, rows: Callable[[User], QuerySet[T]], pk: int) -> T:
    if not can_review(user):
        raise PermissionDenied
    found = rows(user).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def reviewable(user: User) -> QuerySet[Candidate]:
    """Every stored pair whose two records this user sees."""
    visible = visible_persons(user).values("pk")
    return Candidate.objects.filter(person_a__in=visible, person_b__in=visible)


def merges_for(user: User) -> QuerySet[Merge]:
    """Every merge between two records this user sees."""
    visible = visible_persons(user).values("pk")
    return Merge.objects.filter(kept__in=visible, absorbed__in=visible)
