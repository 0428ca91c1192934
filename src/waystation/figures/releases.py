"""Releases: an indicator computed, passed through disclosure control, stored and audited in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.figures import disclosure
from waystation.figures.disclosure import Cell, Key, Policy, PreviousCell
from waystation.figures.indicators import BY_NAME, INDICATORS, Computed, Indicator, label, one_pass
from waystation.figures.models import Release

# The dashboard makes a fresh release when the latest one is older than this.
DASHBOARD_MAX_AGE = timedelta(hours=24)


# Numbers that two indicators count alike, over the same persons: a hidden number in one must not be worked out from
# the other. Each link says the first cell is the sum of the others, as (indicator, key) pairs; ``release_batch``
# protects the indicators released together as one system of sums, these links included, and checks that the
# linked counts really agree (a link that stops being true after an indicator changes is a bug, and stops the release).
Link = tuple[tuple[str, Key], tuple[tuple[str, Key], ...]]
EVERYONE_TOTALS = ("share_women", "times_sold", "months_to_contact", "route_outcomes", "services_per_person")
LINKS: tuple[Link, ...] = (
    *((("persons_ever", ()), ((name, ()),)) for name in EVERYONE_TOTALS),
    (("persons_ever", (("sex", "F"),)), (("share_women", (("group", "yes"),)),)),
    (("share_women", (("group", "no"),)), (("persons_ever", (("sex", "M"),)), ("persons_ever", (("sex", "U"),)))),
    (("persons_ever", (("sex", "F"),)), (("share_women_trafficked", ()),)),
)


def release_create(*, indicator: Indicator, actor: User | None, policy: Policy | None = None) -> Release:
    """Compute ``indicator`` now, protect it against its previous release, store it and write the audit event."""
    return release_batch(indicators=[indicator], actor=actor, policy=policy)[0]


def release_all(*, actor: User | None, policy: Policy | None = None) -> list[Release]:
    """Every indicator, protected together (``LINKS``), each stored and audited as its own release."""
    return release_batch(indicators=INDICATORS, actor=actor, policy=policy)


def release_batch(
    *, indicators: Sequence[Indicator], actor: User | None, policy: Policy | None = None
) -> list[Release]:
    """Compute ``indicators`` now and protect them as one table: each indicator's own sums, the links between those
    released together, and each cell's previous release (differencing); then store and audit each release."""
    policy = policy or Policy()
    check_policy(policy)
    computed = _compute_in_one_snapshot(indicators)
    with transaction.atomic():
        previous = {name: Release.objects.filter(indicator=name).order_by("-id").first() for name in computed}
        joint = _joint_table({name: c.table for name, c in computed.items()})
        before: dict[Key, PreviousCell] = {}
        for name, release in previous.items():
            before |= {_scoped(name, key): cell for key, cell in (_previous_cells(release) or {}).items()}
            if release is not None:
                basis = release.left_out_raw if release.left_out_basis is None else release.left_out_basis
                before[_left_out_key(name)] = PreviousCell(release.left_out, basis)
        for name, c in computed.items():  # each indicator's "left out for lack of consent": a count of its own
            joint.counts[_left_out_key(name)] = c.left_out
        protected = disclosure.protect(joint, policy, previous=before)
        return [
            _store(
                indicator,
                computed[indicator.name],
                {
                    key: replace(protected[_scoped(indicator.name, key)], key=key)
                    for key in computed[indicator.name].table.counts
                },
                protected[_left_out_key(indicator.name)],
                previous[indicator.name],
                policy,
                actor,
            )
            for indicator in indicators
        ]


def _store(
    indicator: Indicator,
    computed: Computed,
    cells: dict[Key, Cell],
    left_out: Cell,
    previous: Release | None,
    policy: Policy,
    actor: User | None,
) -> Release:
    share = None
    if computed.share is not None:
        share = disclosure.share(cells[(computed.share,)], cells[()], policy)
    ratio = None
    if computed.ratio is not None:
        records, persons = computed.ratio
        if cells[()].status == disclosure.HELD and previous is not None:
            ratio = previous.ratio  # the persons counted barely moved: so does nothing derived from them
        elif cells[()].status == disclosure.SHOWN and persons >= policy.min_denominator:
            ratio = round(Decimal(records) / Decimal(persons), 1)
    event = audit_record(
        actor=actor, action="figures.release", details={"indicator": indicator.name, **policy.as_dict()}
    )
    return Release.objects.create(
        indicator=indicator.name,
        policy=policy.as_dict(),
        breakdowns=[list(dims) for dims in indicator.breakdowns],
        cells=[_stored(cell) for cell in sorted(cells.values(), key=lambda c: len(c.key))],
        share_percent=share,
        ratio=ratio,
        left_out=left_out.value,
        left_out_raw=computed.left_out,
        left_out_basis=left_out.basis,
        audit_event=event,
    )


class PolicyTooWeak(ValueError):
    """A release may be stricter than the default policy, never weaker: every release lands on the dashboard and in
    reports, and later releases hold its values."""


# The least protection any stored release gets (``waystation figures --threshold ...`` may only raise it).
FLOOR = Policy()


def check_policy(policy: Policy) -> None:
    weaker = [
        f"{name} {getattr(policy, name)} (at least {getattr(FLOOR, name)})"
        for name in ("threshold", "rounding_base", "min_denominator")
        if getattr(policy, name) < getattr(FLOOR, name)
    ]
    if weaker:
        raise PolicyTooWeak("A release may only be stricter than the default policy: " + ", ".join(weaker) + ".")


class FiguresInconsistent(Exception):  # noqa: N818 - a state of the data, reported to the user
    """Two figures that count the same persons disagree: an indicator's definition drifted from its link. The
    message names the figures, never a count."""


def _compute_in_one_snapshot(indicators: Sequence[Indicator]) -> dict[str, Computed]:
    """Every indicator computed from the same state of the records, so that linked figures agree even while people
    are being registered: one read-only REPEATABLE READ transaction on PostgreSQL (the writes that follow run in a
    transaction of their own, at READ COMMITTED, as the audit trail's lock needs); on SQLite one transaction, which
    Waystation opens IMMEDIATE, so writers wait. Inside a caller's transaction (the tests), that one."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        try:
            with one_pass():  # the persons' own columns read once for the indicators that need no more
                return {indicator.name: indicator.compute() for indicator in indicators}
        except disclosure.OutsideTable as exc:  # the message names codes, never a count or a record
            raise FiguresInconsistent(f"the records hold a code the figures do not know ({exc})") from exc


def _left_out_key(indicator: str) -> Key:
    return (("@indicator", indicator), ("@left_out", "yes"))


def _scoped(indicator: str, key: Key) -> Key:
    """A cell's key in the joint table: its indicator first, so that indicators' cells never collide."""
    return (("@indicator", indicator), *key)


def _joint_table(tables: Mapping[str, disclosure.Table]) -> disclosure.Table:
    """One table of every cell of ``tables`` (keys scoped by indicator) with each table's own sums and the links
    between the indicators present. A link whose counts disagree is a bug in an indicator's definition: refused."""
    joint = disclosure.Table(counts={})
    for name, table in tables.items():
        joint.counts |= {_scoped(name, key): n for key, n in table.counts.items()}
        joint.constraints += [
            disclosure.Constraint(_scoped(name, c.total), tuple(_scoped(name, part) for part in c.parts))
            for c in table.constraints
        ]
    for (total_name, total_key), parts in LINKS:
        members = [(total_name, total_key), *parts]
        if not all(name in tables for name, _key in members):
            continue  # released alone (a test's single release): nothing to link it to
        missing = [f"{name}{dict(key)}" for name, key in members if key not in tables[name].counts]
        if missing:
            raise FiguresInconsistent(f"linked figures are missing from their indicators: {', '.join(missing)}")
        total = tables[total_name].counts[total_key]
        summed = sum(tables[name].counts[key] for name, key in parts)
        if total != summed:
            named = ", ".join(f"{name}{dict(key)}" for name, key in parts)
            raise FiguresInconsistent(f"linked figures disagree: {total_name}{dict(total_key)} and {named}")
        joint.constraints.append(
            disclosure.Constraint(_scoped(total_name, total_key), tuple(_scoped(name, key) for name, key in parts))
        )
    return joint


def current_releases(*, actor: User | None) -> list[Release]:
    """The latest release of every indicator; when any is missing or a day old, every indicator afresh (together,
    so that the links between them are protected)."""
    now = timezone.now()
    last_ids = Release.objects.order_by().values("indicator").annotate(last=Max("id")).values("last")
    latest = {r.indicator: r for r in Release.objects.filter(id__in=last_ids)}  # not every release ever made
    stale = [i for i in INDICATORS if i.name not in latest or now - latest[i.name].created_at > DASHBOARD_MAX_AGE]
    if stale:
        return release_all(actor=actor)
    return [latest[indicator.name] for indicator in INDICATORS]


@dataclass(frozen=True)
class PublicCell:
    """A released cell as it may be shown: labels, the shown value or None, and what was done to it."""

    labels: list[str]
    codes: dict[str, str]
    value: int | None
    status: str  # "shown" (rounded), "suppressed" or "held" (the previous release's value, or still hidden)
    reference: int | None = None  # the public series set beside this cell (national arrivals), when there is one


def public_cells(release: Release) -> list[PublicCell]:
    """The cells of ``release`` without raw counts, the total first.

    Why a cell was suppressed (under the threshold, or hidden to protect another) is not told: knowing which hidden
    cells are the small ones would narrow them down. Nor is whether a shown count was changed by rounding (that
    would tell whether it is a multiple of the base): every shown count is rounded.
    """
    indicator = BY_NAME.get(release.indicator)
    reference = indicator.reference if indicator else None
    cells = []
    for stored in release.cells:
        codes: dict[str, str] = stored["key"]
        cells.append(
            PublicCell(
                labels=[label(dim, code) for dim, code in codes.items()],
                codes=codes,
                value=stored["value"],
                # Hidden is hidden: a cell held hidden is not told apart from one suppressed now (that would tell
                # that it is no longer under the threshold).
                status=disclosure.SUPPRESSED if stored["value"] is None else stored["status"],
                reference=reference(codes) if reference else None,
            )
        )
    return cells


@dataclass(frozen=True)
class DashboardFigure:
    name: str
    title: str
    definition: str
    value: int | None
    fewer_than_threshold: bool  # the total is hidden and is the only number of the indicator: it is under the threshold
    share_percent: int | None
    per_person: Decimal | None
    cells: list[PublicCell]
    left_out: int | None
    left_out_fewer_than_threshold: bool  # hidden for being under the threshold now (not merely held hidden)
    threshold: int
    rounding_base: int
    released_at: Any


def fewer_than_threshold(release: Release) -> tuple[bool, bool]:
    """Whether "fewer than <threshold>" is true of the release's headline number and of its "left out" count.

    Only a number hidden because it is under the threshold now reads so. A single-number indicator held hidden
    (it was under the threshold and has barely moved) may be above it by now: it reads "not published", like a
    cell hidden to protect another; so does any hidden number of an indicator with a breakdown, where saying which
    hidden cells are the small ones would narrow them down.
    """
    threshold = release.policy["threshold"]
    total = next((c for c in release.cells if not c["key"]), None)
    headline = (
        len(release.cells) == 1
        and total is not None
        and total["value"] is None
        and total["reason"] == disclosure.PRIMARY
    )
    left_out = release.left_out is None and 0 < release.left_out_raw < threshold
    return headline, left_out


def dashboard_figures(*, actor: User | None, releases: Sequence[Release] | None = None) -> list[DashboardFigure]:
    """The figures of ``releases`` (by default the current ones) as the dashboard and reports show them."""
    figures = []
    for release in current_releases(actor=actor) if releases is None else releases:
        indicator = BY_NAME[release.indicator]
        cells = public_cells(release)
        total = next((c for c in cells if not c.codes), None)
        fewer, left_out_fewer = fewer_than_threshold(release)
        figures.append(
            DashboardFigure(
                name=release.indicator,
                title=str(indicator.title),
                definition=str(indicator.definition),
                value=total.value if total else None,
                fewer_than_threshold=fewer,
                share_percent=release.share_percent,
                per_person=release.ratio,
                cells=[c for c in cells if c.codes],
                left_out=release.left_out,
                left_out_fewer_than_threshold=left_out_fewer,
                threshold=release.policy["threshold"],
                rounding_base=release.policy["rounding_base"],
                released_at=release.created_at,
            )
        )
    return figures


def public_release(release: Release) -> dict[str, Any]:
    """What ``waystation figures --json`` prints for one release: no raw count, no record."""
    indicator = BY_NAME.get(release.indicator)
    cells = public_cells(release)
    total = next((c for c in cells if not c.codes), None)
    fewer, left_out_fewer = fewer_than_threshold(release)
    return {
        "indicator": release.indicator,
        "title": str(indicator.title) if indicator else release.indicator,
        "definition": str(indicator.definition) if indicator else "",
        "release_id": release.pk,
        "released_at": release.created_at.isoformat(),
        "audit_event": release.audit_event_id,
        "policy": release.policy,
        "note": "shown counts are rounded to the policy's rounding base; suppressed and held cells are not shown",
        "value": total.value if total else None,
        "value_status": total.status if total else None,
        "value_fewer_than_threshold": fewer,
        "share_percent": release.share_percent,
        "per_person": float(release.ratio) if release.ratio is not None else None,
        "left_out_for_lack_of_consent": release.left_out,
        "left_out_status": "suppressed" if release.left_out is None else "shown",
        "left_out_fewer_than_threshold": left_out_fewer,
        "breakdowns": release.breakdowns,
        "reference_source": indicator.reference_source if indicator else "",
        "cells": [
            {"key": cell.codes, "labels": cell.labels, "value": cell.value, "status": cell.status}
            | ({"reference": cell.reference} if indicator and indicator.reference else {})
            for cell in cells
            if cell.codes
        ],
    }


def _stored(cell: Cell) -> dict[str, Any]:
    return {
        "key": dict(cell.key),
        "value": cell.value,
        "status": cell.status,
        "reason": cell.reason,
        "raw": cell.raw,
        "basis": cell.basis,
    }


def _previous_cells(release: Release | None) -> dict[Key, PreviousCell] | None:
    if release is None:
        return None
    return {_key(stored["key"]): PreviousCell(stored["value"], stored["basis"]) for stored in release.cells}


def _key(codes: dict[str, str]) -> Key:
    return tuple(sorted(codes.items()))
