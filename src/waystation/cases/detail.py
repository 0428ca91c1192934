"""What the case page shows, for whom: one reveal (one audit event) for all the sensitive values on the page."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from waystation.accounts.models import User
from waystation.cases.access import (
    Need,
    can,
    case_for_user,
    may_change,
    person_fields_for,
    sees_every_person,
    visible_persons,
)
from waystation.cases.choices import ConsentScope, NeedArea, inverse_relation
from waystation.cases.forms import photo_form_html
from waystation.cases.models import FamilyLink, Person
from waystation.cases.services import times_sold
from waystation.network.access import movement_actions_for
from waystation.network.models import OPEN_MOVEMENT_STATUSES
from waystation.network.selectors import open_movement
from waystation.vault.models import ShredRecord
from waystation.vault.reveal import reveal_onto


def _current_consents(person: Person) -> list[Any]:
    """Her latest consent of each scope (and partner), with its ``label``."""
    latest: dict[tuple[str, int | None], Any] = {}
    for c in person.consents.select_related("partner").order_by("recorded_at", "id"):
        latest[(c.scope, c.partner_id)] = c
    labels = dict(ConsentScope.choices)
    for c in latest.values():
        c.label = labels[c.scope]
    return list(latest.values())


def _with_staff(*records: tuple[list[Any], str]) -> None:
    """Set each record's staff member (``field``, a foreign key to ``User``) with one query for all of them, and
    only their usernames, which is all the page shows of them: joining the whole user row to each kind of record
    made the page's queries slower to build and to read, and carried password hashes it never needed."""
    ids = {getattr(record, f"{field}_id") for rows, field in records for record in rows} - {None}
    staff = User.objects.only("username").in_bulk(ids) if ids else {}
    for rows, field in records:
        for record in rows:
            setattr(record, field, staff.get(getattr(record, f"{field}_id")))


# What the family section shows of each relative (the code, and the sex that words the relation): their sealed
# fields stay in the database.
FAMILY_COLUMNS = (
    "relation",
    "stateless",
    *(f"{side}__{f}" for side in ("person", "relative") for f in ("case_code", "sex")),
)


def _family(visible_persons: QuerySet[Person], person: Person, *, everyone: bool) -> list[dict[str, Any]]:
    """Each relative the user may know of (``visible_persons``: the user's; ``everyone``: the user sees every
    person, ``cases.access.sees_every_person``), with what they are to this person (a link stores what its
    ``person`` is to its ``relative``). Relatives outside the user's cases are counted, never named."""
    links = (
        FamilyLink.objects.filter(Q(person=person) | Q(relative=person))
        .select_related("person", "relative")
        .only(*FAMILY_COLUMNS)
    )
    links_out, links_in = [], []
    for link in links:  # one query for both sides
        if link.person_id == person.pk:
            links_out.append(link)
        if link.relative_id == person.pk:
            links_in.append(link)
    relatives = [link.relative_id for link in links_out] + [link.person_id for link in links_in]
    if everyone:  # no query: a user who sees every person sees every relative
        visible = set(relatives)
    else:
        visible = set(visible_persons.filter(pk__in=relatives).values_list("pk", flat=True)) if relatives else set()
    rows: list[dict[str, Any]] = []
    hidden = 0
    for link in links_out:
        if link.relative_id not in visible:
            hidden += 1
            continue
        inverse = inverse_relation(link.relation, other_sex=link.relative.sex)
        rows.append({"relative": link.relative, "relation": inverse.label, "stateless": link.stateless})
    for link in links_in:
        if link.person_id not in visible:
            hidden += 1
            continue
        rows.append({"relative": link.person, "relation": link.get_relation_display(), "stateless": link.stateless})
    if hidden:
        rows.append({"hidden": hidden})
    return rows


# What the page asks of her besides her row, read with it (``case_for_user(annotate=...)``): one query instead of
# three. Most cases were never shredded and absorbed no other record.
PAGE_ANNOTATIONS = {
    "shredded_at": Subquery(ShredRecord.objects.filter(person_id=OuterRef("pk")).values("shredded_at")[:1]),
    "absorbed_records": Exists(Person.objects.filter(merged_into=OuterRef("pk"))),
}


def case_for_page(user: User, case_code: str) -> Person:
    """The case ``case_code`` as the case page reads it (``case_for_user``, with ``PAGE_ANNOTATIONS``)."""
    return case_for_user(user, case_code, Need.VIEW, annotate=PAGE_ANNOTATIONS)


def _merges(visible: QuerySet[Person], person: Person) -> dict[str, Any]:
    """The record this one was merged into, and the records merged into this one (``linkage``), those the user
    sees (``visible``): both histories stay reachable."""
    absorbed = person.absorbed_records  # type: ignore[attr-defined]
    return {
        "merged_into": visible.filter(pk=person.merged_into_id).first() if person.merged_into_id else None,
        "merged_records": list(visible.filter(merged_into=person).order_by("case_code")) if absorbed else [],
    }


def case_page_context(user: User, case_code: str) -> dict[str, Any]:
    """The page's context for the case ``case_code`` (``case_for_page``: 404, 403 or ``MergedRecord`` when the
    user may not open it)."""
    person = case_for_page(user, case_code)
    full = can(user, Need.VIEW_FULL)
    visible = visible_persons(user)  # built once: the family and the merges ask it
    if full:
        movements = list(person.movements.select_related("from_station", "to_station").order_by("planned_at", "id"))
        # her open movement (at most one: ``one_open_movement``), as ``open_movement`` would read it
        current = min((m for m in movements if m.status in OPEN_MOVEMENT_STATUSES), key=lambda m: m.pk, default=None)
    else:  # minimum fields: where the person is and where they go next, not the stations they came through
        current = open_movement(person.pk)
        movements = [current] if current else []
    reveal_items: list[tuple[models.Model, list[str]]] = [(person, list(person_fields_for(user)))]
    context: dict[str, Any] = {
        "person": person,
        "full": full,
        "movements": movements,
        "open_movement": current,
        "movement_actions": movement_actions_for(user, current) if current and may_change(person, Need.MOVE) else [],
        "here": person.place,  # kept by the database; read with her (``case_for_user``)
        # a record merged into another is read-only (``cases.access``): its page offers no change
        "can": {need.value: can(user, need) and may_change(person, need) for need in Need},
        "now": timezone.now(),
        "shredded_at": person.shredded_at,  # type: ignore[attr-defined]
        **_merges(visible, person),
    }
    if full:
        episodes = list(person.episodes.all())
        assessments = list(person.assessments.all()[:5])
        goals = list(person.goals.all())
        services = list(person.services.select_related("partner")[:100])
        referrals = list(person.referrals.select_related("partner"))
        tasks = list(person.tasks.all())
        notes = list(person.notes.all()[:100])
        consents = _current_consents(person)
        assignments = list(person.assignments.filter(ended_at__isnull=True))
        _with_staff(
            (services, "provider"),
            (tasks, "assigned_to"),
            (notes, "author"),
            (consents, "recorded_by"),
            (assignments, "worker"),
        )
        reveal_items += [(m, ["note"]) for m in movements]
        reveal_items += [(e, ["note"]) for e in episodes]
        reveal_items += [(a, ["note"]) for a in assessments]
        reveal_items += [(g, ["description"]) for g in goals]
        reveal_items += [(s, ["note"]) for s in services]
        reveal_items += [(r, ["note"]) for r in referrals]
        reveal_items += [(t, ["detail"]) for t in tasks]
        reveal_items += [(n, ["text"]) for n in notes]
        context.update(
            episodes=episodes,
            times_sold=times_sold(person, episodes),
            assessments=assessments,
            goals=goals,
            services=services,
            referrals=referrals,
            tasks=tasks,
            notes=notes,
            consents=consents,
            family=_family(visible, person, everyone=sees_every_person(user)),
            photo_form=photo_form_html,  # called by the template, only where the form is shown
            assignments=assignments,
        )
    else:  # the latest needs assessment, its levels only (its note is not a minimum field)
        context["assessments"] = list(person.assessments.all()[:1])
    reveal_onto(user=user, items=reveal_items, purpose="case_page", case_id=person.id)
    for assessment in context["assessments"]:
        assessment.levels = [(label, getattr(assessment, f"get_{code}_display")()) for code, label in NeedArea.choices]
        if not full:
            assessment.revealed = {}
    return context
