"""Differentially private counts for figures published again and again (a public dashboard, monthly series).

Why: disclosure control (``disclosure.py``) hides small counts and holds small changes between releases, but a figure
published every week can still be compared with itself many times over. Differential privacy adds random noise of a
known size to every count, so that no release, nor all of a month's releases together, can tell whether any one
person is in the records. How much can be learnt is measured by the privacy loss, epsilon; each calendar month (UTC)
has a total budget of it (``settings.WAYSTATION_DP_BUDGET["epsilon_per_period"]``), every release spends a part, the
ledger (``PrivacySpend``) records each part, and a release that would overspend is refused.

A release (``dp_release_create``) goes:

1. OpenDP builds the measurement: Laplace noise on integer counts (OpenDP samples the discrete Laplace), with the
   smallest scale for which OpenDP's own privacy map gives at most the requested epsilon at the series' sensitivity.
   The loss charged to the ledger is what that map returns (``measurement.map(SENSITIVITY)``), not a formula of ours.
   The noise is never written by hand here.
2. Under a lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write transaction is exclusive, see
   ``transaction_mode`` IMMEDIATE in the settings), the period's spends are summed. If the release would take the sum
   past the budget, ``BudgetExhausted`` is raised: no count is read, no noise is drawn, nothing is written.
3. The true counts are read with aggregate queries over consenting persons only (``cases.selectors.consenting``).
4. The noise is drawn by the measurement; then, as post-processing, each noisy count is clamped at 0, a count under
   the policy's threshold reads "fewer than 10", and the others are rounded like every other figure. Post-processing
   cannot weaken the guarantee: it only uses the noisy counts, never the true ones.
5. The audit event (``figures.dp_release``) and the ledger row, which is also the stored release (method, parameters,
   published values; no true count, no unrounded noisy count), are written in the same transaction.

Privacy unit: one person, added to or removed from the records. Every series below puts each person in at most one
of its cells, so adding or removing one person changes the vector of counts by at most 1 in total (L1 sensitivity 1).
A change to one person's record (say, her status) is a removal and an addition: twice the loss. Losses of different
months add up: the budget is per month, not for all time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from importlib.metadata import version
from io import TextIOBase
from typing import Any

import opendp.prelude as dp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.figures.disclosure import Policy, round_to
from waystation.figures.indicators import BY_NAME, _everyone, _in_care, _women_safe
from waystation.figures.models import PrivacySpend

dp.enable_features("contrib")  # make_laplace needs it: OpenDP components not yet through its formal vetting

DEFAULT_BUDGET = {"epsilon_per_period": 1.0}
DEFAULT_EPSILON = Decimal("0.1")
EPSILON_PLACES = Decimal("0.000001")  # the ledger keeps epsilon to 6 decimals (PrivacySpend.epsilon)
MONTHS_SHOWN = 12

# Each person is in at most one cell of a series: adding or removing one person moves the counts by at most 1 in
# total (L1 distance). This is the d_in handed to OpenDP's privacy map.
SENSITIVITY = 1

# pg_advisory_xact_lock key for the ledger: "wsDPledg" folded into a signed 64-bit integer (the audit log has its own).
LEDGER_LOCK_KEY = int.from_bytes(b"wsDPledg", "big", signed=True)

# The space OpenDP's measurement works on: a vector of integer counts, neighbours measured by L1 distance.
COUNTS_SPACE = (dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int))


class BudgetExhausted(Exception):  # noqa: N818 (named for what the user meets, not "...Error")
    """The period's privacy budget cannot pay for the release asked for. Nothing was released."""

    def __init__(self, *, period: str, budget: Decimal, remaining: Decimal, requested: Decimal, renews_at: datetime):
        self.period = period
        self.budget = budget
        self.remaining = remaining
        self.requested = requested
        self.renews_at = renews_at
        super().__init__(
            _(
                "The privacy budget for %(period)s cannot pay for this release: it needs epsilon %(requested)s and "
                "only %(remaining)s of %(budget)s is left. Nothing was released. The budget renews on %(renews)s."
            )
            % {
                "period": period,
                "requested": epsilon_text(requested),
                "remaining": epsilon_text(remaining),
                "budget": epsilon_text(budget),
                "renews": f"{renews_at:%Y-%m-%d %H:%M} UTC",
            }
        )


# --- the series -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """A count, or a row of counts, released with noise. ``counts(now)`` maps each cell's code to its true count
    ("" for a series that is a single number) and is computed with aggregate queries over consenting persons."""

    name: str
    title: str | Promise
    definition: str | Promise
    counts: Callable[[datetime], dict[str, int]]
    dimension: str = ""  # the name of the cells' dimension ("month"); "" for a single number


def _counted(persons: QuerySet[Person]) -> QuerySet[Person]:
    return consenting(persons, ConsentScope.STATISTICS)


def _single(population: Callable[[], QuerySet[Person]]) -> Callable[[datetime], dict[str, int]]:
    def counts(now: datetime) -> dict[str, int]:
        return {"": _counted(population()).count()}

    return counts


def last_full_months(now: datetime, n: int = MONTHS_SHOWN) -> list[date]:
    """The first days of the ``n`` calendar months before the month of ``now``, oldest first (the current month is
    not complete and is left out)."""
    year, month = now.year, now.month
    months = []
    for _i in range(n):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(date(year, month, 1))
    return months[::-1]


def _first_contacts_per_month(now: datetime) -> dict[str, int]:
    months = last_full_months(now)
    start, end = months[0], _next_month(months[-1])
    rows = (
        _counted(_everyone())
        .filter(first_contact_month__gte=start, first_contact_month__lt=end)
        .annotate(y=ExtractYear("first_contact_month"), m=ExtractMonth("first_contact_month"))
        .values("y", "m")
        .annotate(n=Count("id"))
        .order_by()
    )
    found = {f"{row['y']:04d}-{row['m']:02d}": row["n"] for row in rows}
    return {f"{m:%Y-%m}": found.get(f"{m:%Y-%m}", 0) for m in months}


SERIES: dict[str, Series] = {
    series.name: series
    for series in (
        Series(
            "persons_in_care_now",
            BY_NAME["persons_in_care_now"].title,
            BY_NAME["persons_in_care_now"].definition,
            _single(_in_care),
        ),
        Series(
            "first_contacts_per_month",
            gettext_lazy("First contacts per month"),
            gettext_lazy("People the network first met in each of the last 12 full calendar months."),
            _first_contacts_per_month,
            dimension="month",
        ),
        Series(
            "women_safe_now",
            BY_NAME["women_safe_now"].title,
            BY_NAME["women_safe_now"].definition,
            _single(_women_safe),
        ),
    )
}


# --- the budget -----------------------------------------------------------------------------------------------------


def budget_per_period() -> Decimal:
    """The configured total epsilon per calendar month; a bad setting stops with a clear message."""
    configured = getattr(settings, "WAYSTATION_DP_BUDGET", DEFAULT_BUDGET)
    try:
        budget = Decimal(str(configured["epsilon_per_period"]))
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ImproperlyConfigured('WAYSTATION_DP_BUDGET must be {"epsilon_per_period": <a number above 0>}') from exc
    if not budget.is_finite() or budget <= 0:
        raise ImproperlyConfigured('WAYSTATION_DP_BUDGET["epsilon_per_period"] must be a number above 0')
    return budget


def period_of(moment: datetime) -> str:
    """The budget period a moment falls in: its calendar month in UTC, "2026-11"."""
    return f"{moment.astimezone(UTC):%Y-%m}"


def renewal_of(moment: datetime) -> datetime:
    """When the period of ``moment`` ends and a fresh budget begins: the next month's first day, 00:00 UTC."""
    first = _next_month(moment.astimezone(UTC).date().replace(day=1))
    return datetime(first.year, first.month, 1, tzinfo=UTC)


def parse_epsilon(value: str | Decimal | float) -> Decimal:
    """The epsilon a user asked for, as a Decimal above 0 with at most 6 decimals; ValueError (translated) if not."""
    try:
        epsilon = Decimal(str(value).strip())
    except InvalidOperation:
        epsilon = Decimal("NaN")
    if not epsilon.is_finite() or epsilon <= 0 or epsilon != epsilon.quantize(EPSILON_PLACES) or epsilon >= 10**6:
        raise ValueError(
            _("Epsilon must be a number above 0 with at most 6 decimals, such as 0.1 (got %(value)s).")
            % {"value": str(value)[:20]}
        )
    return epsilon


def epsilon_text(epsilon: Decimal) -> str:
    """0.100000 -> "0.1": epsilon as a person would write it."""
    return format(epsilon.normalize(), "f")


@dataclass(frozen=True)
class Ledger:
    period: str
    budget: Decimal
    spent: Decimal
    remaining: Decimal
    renews_at: datetime
    spends: list[PrivacySpend]  # newest first


def privacy_ledger() -> Ledger:
    """The current period's ledger, for display: the budget, what was spent and what is left, and each spend."""
    now = timezone.now()
    period = period_of(now)
    budget = budget_per_period()
    spends = list(PrivacySpend.objects.filter(period=period).order_by("-id"))
    spent = sum((spend.epsilon for spend in spends), Decimal(0))
    return Ledger(period, budget, spent, max(budget - spent, Decimal(0)), renewal_of(now), spends)


# --- a release ------------------------------------------------------------------------------------------------------


def _measurement(epsilon: Decimal) -> tuple[dp.Measurement, float, Decimal]:
    """OpenDP's Laplace measurement for ``epsilon`` at our sensitivity, its scale, and the loss OpenDP's map says it
    has (rounded up to the ledger's 6 decimals). No noise is drawn here."""
    scale = dp.binary_search_param(
        lambda s: dp.m.make_laplace(*COUNTS_SPACE, scale=s), d_in=SENSITIVITY, d_out=float(epsilon)
    )
    measurement = dp.m.make_laplace(*COUNTS_SPACE, scale=scale)
    loss = Decimal(repr(measurement.map(SENSITIVITY))).quantize(EPSILON_PLACES, rounding=ROUND_CEILING)
    if loss > epsilon:  # binary_search_param promises map(d_in) <= d_out; refuse rather than overspend if not
        raise RuntimeError(f"OpenDP's privacy loss {loss} exceeds the epsilon asked for ({epsilon})")
    return measurement, scale, loss


def _lock_ledger() -> None:
    """Serialise spends so that two releases at once cannot both see the same remaining budget. An advisory lock
    rather than ``select_for_update``: the first spend of a period has no row to lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    # SQLite: the surrounding transaction began IMMEDIATE and holds the database's only write lock.


def _published(noisy: int, policy: Policy) -> int | None:
    """Post-processing of one noisy count: clamped at 0; under the threshold it reads "fewer than" (None);
    otherwise rounded to the policy's base, like every other figure."""
    clamped = max(noisy, 0)
    return None if clamped < policy.threshold else round_to(clamped, policy.rounding_base)


def dp_release_create(
    *, series: str, epsilon: str | Decimal | float = DEFAULT_EPSILON, actor: User | None, policy: Policy | None = None
) -> PrivacySpend:
    """Release ``series`` with differential privacy, spending ``epsilon`` of this period's budget.

    Raises ``ValueError`` (translated message) for an unknown series or a bad epsilon, ``BudgetExhausted`` when the
    budget cannot pay: in each case nothing is read, drawn or written.
    """
    if series not in SERIES:
        raise ValueError(_("Unknown series %(name)s. Known: %(known)s.") % {"name": series, "known": ", ".join(SERIES)})
    the_series = SERIES[series]
    requested = parse_epsilon(epsilon)
    policy = policy or Policy()
    budget = budget_per_period()
    measurement, scale, loss = _measurement(requested)
    with transaction.atomic():
        _lock_ledger()
        now = timezone.now()
        period = period_of(now)
        spent = PrivacySpend.objects.filter(period=period).aggregate(total=Sum("epsilon"))["total"] or Decimal(0)
        if spent + loss > budget:
            raise BudgetExhausted(
                period=period,
                budget=budget,
                remaining=max(budget - spent, Decimal(0)),
                requested=loss,
                renews_at=renewal_of(now),
            )
        true_counts = the_series.counts(now)
        codes = list(true_counts)
        noisy = measurement([true_counts[code] for code in codes])  # the only place noise is drawn
        cells = [
            {"key": {the_series.dimension: code} if the_series.dimension else {}, "value": _published(n, policy)}
            for code, n in zip(codes, noisy, strict=True)
        ]
        method = {
            "mechanism": "laplace",
            "library": f"opendp {version('opendp')}",
            "privacy_unit": "one person added or removed",
            "sensitivity": SENSITIVITY,
            "scale": scale,
            "epsilon_requested": epsilon_text(requested),
            "epsilon_opendp": measurement.map(SENSITIVITY),
            "post_processing": {"clamp_at": 0, **policy.as_dict()},
        }
        event = audit_record(
            actor=actor,
            action="figures.dp_release",
            details={
                "series": series,
                "period": period,
                "method": "laplace",
                "epsilon": epsilon_text(loss),
                "scale": repr(scale),
                "sensitivity": SENSITIVITY,
                "threshold": policy.threshold,
                "rounding_base": policy.rounding_base,
            },
        )
        return PrivacySpend.objects.create(
            period=period,
            series=series,
            epsilon=loss,
            created_at=now,
            method=method,
            cells=cells,
            audit_event=event,
        )


def _next_month(first: date) -> date:
    return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)


def latest_dp_releases() -> dict[str, PrivacySpend]:
    """The latest differentially private release of each series that has one, by series name (for the dashboard,
    which shows them without spending more budget)."""
    latest = {name: PrivacySpend.objects.filter(series=name).order_by("-id").first() for name in SERIES}
    return {name: spend for name, spend in latest.items() if spend is not None}


def dashboard_dp() -> dict[str, Any]:
    """What the analyst's dashboard shows of the noisy series: this month's budget and the latest release of each
    series (nothing is released or spent by looking)."""
    ledger = privacy_ledger()
    return {
        "ledger": {**public_ledger(ledger), "renews": ledger.renews_at},  # epsilons as a person writes them
        "releases": [
            {**public_dp_release(spend), "released": spend.created_at} for spend in latest_dp_releases().values()
        ],
    }


# --- what may be shown ----------------------------------------------------------------------------------------------

SHOWN = "shown"
FEWER_THAN = "fewer_than_threshold"


def public_dp_release(spend: PrivacySpend) -> dict[str, Any]:
    """A differentially private release as the CLI (``--json``) and the dashboard show it: published values only."""
    series = SERIES.get(spend.series)
    threshold = spend.method["post_processing"]["threshold"]
    cells = [
        {
            "key": cell["key"],
            "value": cell["value"],
            "status": SHOWN if cell["value"] is not None else FEWER_THAN,
        }
        for cell in spend.cells
    ]
    single = len(cells) == 1 and not cells[0]["key"]
    return {
        "series": spend.series,
        "title": str(series.title) if series else spend.series,
        "definition": str(series.definition) if series else "",
        "release_id": spend.pk,
        "released_at": spend.created_at.isoformat(),
        "period": spend.period,
        "audit_event": spend.audit_event_id,
        "method": {
            "mechanism": spend.method["mechanism"],
            "scale": spend.method["scale"],
            "sensitivity": spend.method["sensitivity"],
            "epsilon": epsilon_text(spend.epsilon),
            "threshold": threshold,
            "rounding_base": spend.method["post_processing"]["rounding_base"],
        },
        "note": (
            "differentially private: random noise of the given scale was added to each count, then counts were "
            f"clamped at 0, those under {threshold} withheld and the rest rounded"
        ),
        "value": cells[0]["value"] if single else None,
        "value_status": cells[0]["status"] if single else None,
        "cells": [] if single else cells,
    }


def public_ledger(ledger: Ledger) -> dict[str, Any]:
    return {
        "period": ledger.period,
        "budget": epsilon_text(ledger.budget),
        "spent": epsilon_text(ledger.spent),
        "remaining": epsilon_text(ledger.remaining),
        "renews_at": ledger.renews_at.isoformat(),
        "spends": [
            {
                "release_id": spend.pk,
                "series": spend.series,
                "epsilon": epsilon_text(spend.epsilon),
                "released_at": spend.created_at.isoformat(),
                "audit_event": spend.audit_event_id,
            }
            for spend in ledger.spends
        ],
    }


# --- command line (wired by ``waystation figures dp`` and ``waystation figures budget``) -----------------------------


def dp_command(options: Mapping[str, Any], *, actor: User | None, stdout: TextIOBase) -> None:
    """``waystation figures dp``: one differentially private release, printed. Bad input and an exhausted budget
    end in ``CommandError`` with the reason, having changed nothing."""
    try:
        spend = dp_release_create(series=options["series"], epsilon=options["epsilon"], actor=actor)
    except (ValueError, BudgetExhausted) as exc:
        raise CommandError(str(exc)) from exc
    item = public_dp_release(spend)
    if options.get("json"):
        stdout.write(json.dumps(item, ensure_ascii=False, indent=2) + "\n")
        return
    threshold = item["method"]["threshold"]
    lines = [f"{item['title']} ({item['series']})", f"  {item['definition']}"]
    lines.append(
        "  "
        + _(
            "Differential privacy: random noise of scale %(scale)s added to each count, epsilon %(epsilon)s spent. "
            "Counts under %(threshold)s are withheld; the others are rounded to %(base)s."
        )
        % {
            "scale": f"{item['method']['scale']:g}",
            "epsilon": item["method"]["epsilon"],
            "threshold": threshold,
            "base": item["method"]["rounding_base"],
        }
    )
    if item["cells"]:
        for cell in item["cells"]:
            name = ", ".join(cell["key"].values())
            lines.append(f"    {name:<12} {_shown(cell['value'], threshold):>16}")
    else:
        lines.append("  " + _("Total: %(value)s") % {"value": _shown(item["value"], threshold)})
    lines.append("  " + _budget_line(privacy_ledger()))
    stdout.write("\n".join(lines) + "\n")


def budget_command(options: Mapping[str, Any], *, stdout: TextIOBase) -> None:
    """``waystation figures budget``: this month's privacy budget, what was spent, what is left, and each spend."""
    ledger = privacy_ledger()
    if options.get("json"):
        stdout.write(json.dumps(public_ledger(ledger), ensure_ascii=False, indent=2) + "\n")
        return
    lines = [_budget_line(ledger)]
    for spend in ledger.spends:
        lines.append(
            f"  {spend.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC  {spend.series:<26} "
            + _("epsilon %(epsilon)s") % {"epsilon": epsilon_text(spend.epsilon)}
            + f"  #{spend.pk}"
        )
    if not ledger.spends:
        lines.append("  " + _("Nothing spent yet this month."))
    stdout.write("\n".join(lines) + "\n")


def _budget_line(ledger: Ledger) -> str:
    return _(
        "Privacy budget for %(period)s: %(spent)s of %(budget)s spent, %(remaining)s left; it renews on %(renews)s."
    ) % {
        "period": ledger.period,
        "spent": epsilon_text(ledger.spent),
        "budget": epsilon_text(ledger.budget),
        "remaining": epsilon_text(ledger.remaining),
        "renews": f"{ledger.renews_at:%Y-%m-%d %H:%M} UTC",
    }


def _shown(value: int | None, threshold: int) -> str:
    return _("fewer than %(n)s") % {"n": threshold} if value is None else str(value)
