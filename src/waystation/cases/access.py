"""Who may see and do what with a person's case. The one place where case access is decided.

``case_for_user`` answers 404 for a case the user may not know exists and 403 for one they may see but may not
change in the way asked. No view queries the case tables without going through here.

A record merged into another (``linkage``: the same woman recorded twice) is read-only: it keeps its history as it
was, and anything new is recorded on the record kept. ``case_for_user`` refuses every change to it
(:class:`MergedRecord`, naming the kept record when the user may see it), except shredding, which must stay possible
for every record that holds a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.http import Http404
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.cases.models import Assignment, Person
from waystation.cases.models.person import normalise_case_code
from waystation.lib.errors import ServiceError
from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, StationStatus
from waystation.network.selectors import GONE_STATUSES


class Need(StrEnum):
    VIEW = "view"  # the case exists, coded fields, name, place on the route
    VIEW_FULL = "view_full"  # history, notes, narrative, contacts, care records
    NEEDS = "needs"  # record a needs assessment
    CARE = "care"  # services, notes, plan, referrals, tasks, consent, family, identity
    HISTORY = "history"  # exploitation history
    STATUS = "status"  # change status, close the case
    MOVE = "move"  # plan and record movements
    ASSIGN = "assign"  # assign caseworkers
    END_ASSIGNMENT = "end_assignment"  # end a caseworker's assignment (takes access away: allowed on merged records)
    SHRED = "shred"  # destroy the case's keys (coordinators only)


ROLE_NEEDS: dict[str, frozenset[Need]] = {
    Role.KEEPER: frozenset({Need.VIEW, Need.NEEDS, Need.MOVE}),
    Role.CASEWORKER: frozenset({Need.VIEW, Need.VIEW_FULL, Need.NEEDS, Need.CARE, Need.HISTORY, Need.STATUS}),
    Role.COORDINATOR: frozenset(Need),
}

# The sensitive person fields each role may have revealed. Keepers get what they need to recognise someone.
PERSON_FIELDS_FOR_ROLE: dict[str, tuple[str, ...]] = {
    Role.KEEPER: ("name_hangul", "name_romanized"),
    Role.CASEWORKER: (
        "name_hangul",
        "name_romanized",
        "name_chinese",
        "aliases",
        "date_of_birth",
        "contacts",
        "narrative",
    ),
}
PERSON_FIELDS_FOR_ROLE[Role.COORDINATOR] = PERSON_FIELDS_FOR_ROLE[Role.CASEWORKER]

# What may still be done with a record merged into another: read it, take access away from it, and shred it.
MERGED_RECORD_NEEDS = frozenset({Need.VIEW, Need.VIEW_FULL, Need.END_ASSIGNMENT, Need.SHRED})


class MergedRecord(ServiceError):
    """A change asked of a record merged into another: refused, with where to record it instead."""

    def __init__(self, person: Person, kept_code: str | None) -> None:
        if kept_code:
            message = _(
                "Case %(code)s was merged into case %(kept)s and is read-only: record anything new on case %(kept)s."
            ) % {"code": person.case_code, "kept": kept_code}
        else:
            message = _("Case %(code)s was merged into another record and is read-only.") % {"code": person.case_code}
        super().__init__(message)
        self.case_code = person.case_code


def can(user: User, need: Need) -> bool:
    return user.is_active and need in ROLE_NEEDS.get(user.role, frozenset())


def works_with_cases(user: User) -> bool:
    return can(user, Need.VIEW)


def sees_no_records(user: User) -> bool:
    """Whether this user is shown no record at all: inactive, or signed in under duress (a duress sign-in shows an
    empty caseload, and empty queues of everything about cases: duplicates, sync conflicts; ``accounts.duress``)."""
    return not user.is_active or user.under_duress


def sees_every_person(user: User) -> bool:
    """Whether ``visible_persons`` is every person for this user (a coordinator not under duress): a caller may
    then skip that query and ask of the persons table alone."""
    return user.role == Role.COORDINATOR and not sees_no_records(user)


def visible_persons(user: User) -> QuerySet[Person]:
    """Every person this user may know exists (``place_id``: her current station, kept by the database)."""
    # The photo stays in the database until revealed; pages only need to know whether there is one.
    has_photo = Case(When(photo__isnull=False, then=Value(True)), default=Value(False), output_field=BooleanField())
    persons = Person.objects.defer("photo").annotate(has_photo=has_photo)
    if sees_no_records(user):
        return persons.none()
    if sees_every_person(user):
        return persons
    if user.role == Role.CASEWORKER:
        # IN, not a join made DISTINCT: the list's first page then walks the persons in its order and stops at 50
        # (a join had every assigned person of hers found, made distinct and sorted first: 47 ms at 100,000).
        assigned = Assignment.objects.filter(worker=user, ended_at__isnull=True).values("person_id")
        return persons.filter(id__in=assigned)
    if user.role == Role.KEEPER:
        stations = keeper_station_ids(user)
        heading_here = Movement.objects.filter(to_station__in=stations, status__in=OPEN_MOVEMENT_STATUSES)
        here_now = Q(place_id__in=stations) & ~Q(status__in=GONE_STATUSES)
        return persons.filter(here_now | Q(id__in=heading_here.values("person_id")))
    return persons.none()


def keeper_station_ids(user: User) -> list[int]:
    """The stations whose people a keeper sees. Not a compromised or closed one: its keeper may be under pressure."""
    usable = user.kept_stations.filter(status__in=[StationStatus.ACTIVE, StationStatus.SUSPENDED])
    return list(usable.values_list("id", flat=True))


def case_for_user(
    user: User, case_code: str, need: Need = Need.VIEW, *, annotate: Mapping[str, Any] | None = None
) -> Person:
    """The case ``case_code`` if ``user`` may see it and meet ``need`` on it (404, 403, or ``MergedRecord``
    otherwise), read with her place and the ``annotate`` expressions a page wants in the same query."""
    persons = visible_persons(user).select_related("place").annotate(**(annotate or {}))
    person = persons.filter(case_code=normalise_case_code(case_code)).first()
    if person is None:
        raise Http404
    if not can(user, need):
        raise PermissionDenied
    if not may_change(person, need):
        raise MergedRecord(person, kept_case_code(user, person))
    return person


def may_change(person: Person, need: Need) -> bool:
    """Whether ``need`` may be met on this record at all: not a change to a record merged into another."""
    return person.merged_into_id is None or need in MERGED_RECORD_NEEDS


def kept_case_code(user: User, person: Person) -> str | None:
    """The case code of the record ``person`` was merged into, when ``user`` may see it."""
    if person.merged_into_id is None:
        return None
    kept = visible_persons(user).filter(pk=person.merged_into_id).values_list("case_code", flat=True)
    return kept.first()


def person_fields_for(user: User) -> tuple[str, ...]:
    return PERSON_FIELDS_FOR_ROLE.get(user.role, ())
