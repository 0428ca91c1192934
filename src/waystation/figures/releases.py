"""Releases: an indicator computed, passed through disclosure control, stored and audited in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.figures import disclosure
from waystation.figures.disclosure import Cell, Key, Policy, PreviousCell
from waystation.figures.indicators import BY_NAME, INDICATORS, Indicator, label
from waystation.figures.models import Release

# The dashboard makes a fresh release when the latest one is older than this.
DASHBOARD_MAX_AGE = timedelta(hours=24)


def release_create(*, indicator: Indicator, actor: User | None, policy: Policy | None = None) -> Release:
    """Compute ``indicator`` now, protect it against its previous release, store it and write the audit event."""
    policy = policy or Policy()
    computed = indicator.compute()
    with transaction.atomic():
        previous = Release.objects.filter(indicator=indicator.name).order_by("-id").first()
        cells = disclosure.protect(computed.table, policy, previous=_previous_cells(previous))
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
        left_out = disclosure.protect(disclosure.Table(counts={(): computed.left_out}), policy)[()]
        event = audit_record(
            actor=actor,
            action="figures.release",
            details={"indicator": indicator.name, **policy.as_dict()},
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
            audit_event=event,
        )


def release_all(*, actor: User | None, policy: Policy | None = None) -> list[Release]:
    return [release_create(indicator=indicator, actor=actor, policy=policy) for indicator in INDICATORS]


def current_releases(*, actor: User | None) -> list[Release]:
    """The latest release of every indicator, releasing afresh those with none or only an old one."""
    now = timezone.now()
    latest = {r.indicator: r for r in Release.objects.order_by("indicator", "id")}
    releases = []
    for indicator in INDICATORS:
        release = latest.get(indicator.name)
        if release is None or now - release.created_at > DASHBOARD_MAX_AGE:
            release = release_create(indicator=indicator, actor=actor)
        releases.append(release)
    return releases


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
    threshold: int
    released_at: Any


def dashboard_figures(*, actor: User | None) -> list[DashboardFigure]:
    figures = []
    for release in current_releases(actor=actor):
        indicator = BY_NAME[release.indicator]
        cells = public_cells(release)
        total = next((c for c in cells if not c.codes), None)
        figures.append(
            DashboardFigure(
                name=release.indicator,
                title=str(indicator.title),
                definition=str(indicator.definition),
                value=total.value if total else None,
                fewer_than_threshold=total is not None and total.value is None and len(cells) == 1,
                share_percent=release.share_percent,
                per_person=release.ratio,
                cells=[c for c in cells if c.codes],
                left_out=release.left_out,
                threshold=release.policy["threshold"],
                released_at=release.created_at,
            )
        )
    return figures


def public_release(release: Release) -> dict[str, Any]:
    """What ``waystation figures --json`` prints for one release: no raw count, no record."""
    indicator = BY_NAME.get(release.indicator)
    cells = public_cells(release)
    total = next((c for c in cells if not c.codes), None)
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
        "share_percent": release.share_percent,
        "per_person": float(release.ratio) if release.ratio is not None else None,
        "left_out_for_lack_of_consent": release.left_out,
        "left_out_status": "suppressed" if release.left_out is None else "shown",
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
