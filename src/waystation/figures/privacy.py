"""Differentially private counts for figures published again and again (monthly series).

Why: disclosure control (``disclosure.py``) hides small counts and holds small changes between releases, but a figure
published every month can still be compared with itself many times over. Differential privacy adds random noise of a
known size to every count, so that the releases, taken together, say little about whether any one person is in the
records. How much can be learnt is measured by the privacy loss, epsilon; every release spends a part, the ledger
(``PrivacySpend``) records each part, and a release is refused when it would take the calendar month (UTC) past its
budget (``settings.WAYSTATION_DP_BUDGET["epsilon_per_period"]``) or the calendar year past its cap
(``["epsilon_per_year"]``, default ``DEFAULT_BUDGET``).

What the budgets bound, and what they do not. Losses add up (basic composition): what can be learnt about one person
is bounded by the sum of the epsilons of every release that could count her, whatever the series. The monthly budget
bounds one month only; twelve months may spend twelve times as much, which is why there is also the yearly cap.
Nothing bounds all time by itself: the series below are what keeps one person's total finite, since each counts a
person only in the releases made in the 12 calendar months after her month (of first contact, of first arrival), so
with both series she is in at most 24 months of releases: at most 24 x the monthly budget, and at most the yearly
caps of the calendar years those months fall in (a run of 12 months falls in one or two). A correction of her month
moves her from one cell to another: a removal and an addition, twice the loss.

Why no series is a number also released exactly: a deterministic release is not differentially private, so a noisy
copy of an exact figure would protect nothing (the exact one already says it), and the mean of many noisy copies
would undo what disclosure control holds back in the exact one (a small change). So a series is never the number of
an indicator (``indicators.INDICATORS``, released exactly on the dashboard, by ``--json`` and in the appeal); the
guard ``check_not_released_exactly`` refuses a series named like an indicator at import. The monthly counts are finer
than any exact figure: the indicators give first contacts and arrivals per calendar year only (the guarantee covers
what the noisy months add to those; the yearly figures are protected by disclosure control). A name check cannot
prove a series is not an indicator under another name: whoever adds a series must check that (see
docs/figures-methodology.md).

A release (``dp_release_create``) goes:

1. OpenDP builds the measurement: Laplace noise on integer counts (OpenDP samples the discrete Laplace), with the
   smallest scale for which OpenDP's own privacy map gives at most the requested epsilon at the series' sensitivity.
   The loss charged to the ledger is what that map returns (``measurement.map(SENSITIVITY)``), not a formula of ours.
   The noise is never written by hand here.
2. Under a lock (PostgreSQL: a transaction-scoped advisory lock, in READ COMMITTED so that the sum read after it sees
   every spend committed before it; SQLite: the write transaction began IMMEDIATE and is the only writer; anything
   else is refused, see ``_lock_ledger``), the month's and the year's spends are summed. If the release would take
   either past its budget, ``BudgetExhausted`` is raised: no count is read, no noise is drawn, nothing is written.
3. The true counts are read with aggregate queries over consenting persons only (``cases.selectors.consenting``).
4. The noise is drawn by the measurement; then, as post-processing, each noisy count is clamped at 0, a count under
   the policy's threshold reads "fewer than 10", and the others are rounded like every other figure. Post-processing
   cannot weaken the guarantee: it only uses the noisy counts, never the true ones.
5. The audit event (``figures.dp_release``) and the ledger row, which is also the stored release (method, parameters,
   published values; no true count, no unrounded noisy count), are written in the same transaction.

Privacy unit: one person, added to or removed from the records. Every series below puts each person in at most one
of its cells, so adding or removing one person changes the vector of counts by at most 1 in total (L1 sensitivity 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from importlib.metadata import version
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from opendp.domains import atom_domain, vector_domain
from opendp.measurements import make_laplace
from opendp.metrics import l1_distance
from opendp.mod import Measurement, binary_search_param, enable_features

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.figures.disclosure import Policy, round_to
from waystation.figures.indicators import INDICATORS, _everyone
from waystation.figures.models import PrivacySpend

enable_features("contrib")  # make_laplace needs it: OpenDP components not yet through its formal vetting

DEFAULT_BUDGET = {"epsilon_per_period": 1.0, "epsilon_per_year": 6.0}
DEFAULT_EPSILON = Decimal("0.1")
EPSILON_PLACES = Decimal("0.000001")  # the ledger keeps epsilon to 6 decimals (PrivacySpend.epsilon)
MONTHS_SHOWN = 12

# Each person is in at most one cell of a series: adding or removing one person moves the counts by at most 1 in
# total (L1 distance). This is the d_in handed to OpenDP's privacy map.
SENSITIVITY = 1

# pg_advisory_xact_lock key for the ledger: "wsDPledg" folded into a signed 64-bit integer (the audit log has its own).
LEDGER_LOCK_KEY = int.from_bytes(b"wsDPledg", "big", signed=True)

# The space OpenDP's measurement works on: a vector of integer counts, neighbours measured by L1 distance.
COUNTS_SPACE = (vector_domain(atom_domain(T=int)), l1_distance(T=int))


class BudgetExhausted(Exception):  # noqa: N818 (named for what the user meets, not "...Error")
    """The month's budget or the year's cap cannot pay for the release asked for. Nothing was released.

    ``period`` is the month ("2026-11") or, when the yearly cap is what refuses, the year ("2026")."""

    def __init__(self, *, period: str, budget: Decimal, remaining: Decimal, requested: Decimal, renews_at: datetime):
        self.period = period
        self.budget = budget
        self.remaining = remaining
        self.requested = requested
        self.renews_at = renews_at
        yearly = len(period) == 4
        message = (
            _(
                "The yearly privacy budget for %(period)s cannot pay for this release: it needs epsilon "
                "%(requested)s and only %(remaining)s of %(budget)s is left this year. Nothing was released. The "
                "yearly budget renews on %(renews)s."
            )
            if yearly
            else _(
                "The privacy budget for %(period)s cannot pay for this release: it needs epsilon %(requested)s and "
                "only %(remaining)s of %(budget)s is left. Nothing was released. The budget renews on %(renews)s."
            )
        )
        super().__init__(
            message
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


def _arrivals_kr_per_month(now: datetime) -> dict[str, int]:
    """Persons whose first arrival at a station in South Korea (an arrived movement; the rule of
    ``indicators.arrivals_kr``) fell in each of the last full months, in UTC. One first arrival per person: each
    person is in at most one cell."""
    months = last_full_months(now)
    start, end = (datetime(m.year, m.month, 1, tzinfo=UTC) for m in (months[0], _next_month(months[-1])))
    rows = (
        _counted(_everyone())
        .annotate(first=F("figures__first_arrival_kr"))  # kept beside her (``per_person``), hers and her merged's
        .filter(first__gte=start, first__lt=end)
        .annotate(y=ExtractYear("first", tzinfo=UTC), m=ExtractMonth("first", tzinfo=UTC))
        .values("y", "m")
        .annotate(n=Count("id"))
        .order_by()
    )
    found = {f"{row['y']:04d}-{row['m']:02d}": row["n"] for row in rows}
    return {f"{m:%Y-%m}": found.get(f"{m:%Y-%m}", 0) for m in months}


def check_not_released_exactly(names: Iterable[str]) -> None:
    """Refuse a series named like an indicator: indicators are released exactly (dashboard, ``--json``, appeal), and
    a noisy copy of an exactly released number is not private (see the module's docstring)."""
    twins = sorted(set(names) & {indicator.name for indicator in INDICATORS})
    if twins:
        raise ImproperlyConfigured(
            f"Series {', '.join(twins)} would be released both exactly (an indicator) and with noise: the noise "
            "would protect nothing. A series must count something no indicator releases."
        )


SERIES: dict[str, Series] = {
    series.name: series
    for series in (
        Series(
            "first_contacts_per_month",
            gettext_lazy("First contacts per month"),
            gettext_lazy("People the network first met in each of the last 12 full calendar months."),
            _first_contacts_per_month,
            dimension="month",
        ),
        Series(
            "arrivals_kr_per_month",
            gettext_lazy("Arrivals in South Korea per month"),
            gettext_lazy(
                "People whose first arrival at a station in South Korea fell in each of the last 12 full calendar "
                "months."
            ),
            _arrivals_kr_per_month,
            dimension="month",
        ),
    )
}
check_not_released_exactly(SERIES)


# --- the budget -----------------------------------------------------------------------------------------------------


BUDGET_SHAPE = 'WAYSTATION_DP_BUDGET must be {"epsilon_per_period": <a number above 0>, "epsilon_per_year": <optional>}'


def _configured_epsilon(key: str, *, required: bool) -> Decimal:
    """One epsilon of ``settings.WAYSTATION_DP_BUDGET``; a bad setting stops with a clear message."""
    configured = getattr(settings, "WAYSTATION_DP_BUDGET", DEFAULT_BUDGET)
    try:
        raw = configured[key] if required else configured.get(key, DEFAULT_BUDGET[key])
        budget = Decimal(str(raw))
    except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        raise ImproperlyConfigured(BUDGET_SHAPE) from exc
    if not budget.is_finite() or budget <= 0:
        raise ImproperlyConfigured(f'WAYSTATION_DP_BUDGET["{key}"] must be a number above 0')
    return budget


def budget_per_period() -> Decimal:
    """The configured total epsilon per calendar month (UTC)."""
    return _configured_epsilon("epsilon_per_period", required=True)


def budget_per_year() -> Decimal:
    """The configured cap on the total epsilon per calendar year (UTC): the monthly budgets alone would let a year
    spend twelve times as much. Optional in the setting (default ``DEFAULT_BUDGET``)."""
    return _configured_epsilon("epsilon_per_year", required=False)


def period_of(moment: datetime) -> str:
    """The budget period a moment falls in: its calendar month in UTC, "2026-11"."""
    return f"{moment.astimezone(UTC):%Y-%m}"


def year_of(moment: datetime) -> str:
    """The calendar year (UTC) of a moment, "2026": the yearly cap's period."""
    return f"{moment.astimezone(UTC):%Y}"


def spent_in_year(year: str) -> Decimal:
    """The sum of the year's spends: those of its twelve months (periods "2026-01" to "2026-12")."""
    total = PrivacySpend.objects.filter(period__gte=f"{year}-01", period__lte=f"{year}-12").aggregate(t=Sum("epsilon"))
    return total["t"] or Decimal(0)


def year_renewal_of(moment: datetime) -> datetime:
    """When the yearly cap of ``moment``'s year renews: the next 1 January, 00:00 UTC."""
    return datetime(moment.astimezone(UTC).year + 1, 1, 1, tzinfo=UTC)


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
class YearLedger:
    year: str
    budget: Decimal
    spent: Decimal
    remaining: Decimal
    renews_at: datetime


@dataclass(frozen=True)
class Ledger:
    period: str
    budget: Decimal
    spent: Decimal
    remaining: Decimal  # of the month's budget; the year's cap may leave less (``year.remaining``)
    renews_at: datetime
    spends: list[PrivacySpend]  # newest first
    year: YearLedger


def privacy_ledger() -> Ledger:
    """The current month's ledger, for display: the budget, what was spent and what is left, each spend, and the
    same for the year's cap."""
    now = timezone.now()
    period = period_of(now)
    budget, year_budget = budget_per_period(), budget_per_year()
    spends = list(PrivacySpend.objects.filter(period=period).order_by("-id"))
    spent = sum((spend.epsilon for spend in spends), Decimal(0))
    year_spent = spent_in_year(year_of(now))
    year = YearLedger(
        year_of(now), year_budget, year_spent, max(year_budget - year_spent, Decimal(0)), year_renewal_of(now)
    )
    return Ledger(period, budget, spent, max(budget - spent, Decimal(0)), renewal_of(now), spends, year)


# --- a release ------------------------------------------------------------------------------------------------------


def _measurement(epsilon: Decimal) -> tuple[Measurement, float, Decimal]:
    """OpenDP's Laplace measurement for ``epsilon`` at our sensitivity, its scale, and the loss OpenDP's map says it
    has (rounded up to the ledger's 6 decimals). No noise is drawn here."""
    scale = binary_search_param(lambda s: make_laplace(*COUNTS_SPACE, scale=s), d_in=SENSITIVITY, d_out=float(epsilon))
    measurement = make_laplace(*COUNTS_SPACE, scale=scale)
    loss = Decimal(repr(measurement.map(SENSITIVITY))).quantize(EPSILON_PLACES, rounding=ROUND_CEILING)
    if loss > epsilon:  # binary_search_param promises map(d_in) <= d_out; refuse rather than overspend if not
        raise RuntimeError(f"OpenDP's privacy loss {loss} exceeds the epsilon asked for ({epsilon})")
    return measurement, scale, loss


# SQLite transaction modes that take the database's write lock at BEGIN (in WAL mode EXCLUSIVE acts as IMMEDIATE).
SQLITE_LOCKING_MODES = ("IMMEDIATE", "EXCLUSIVE")


def _lock_ledger() -> None:
    """Serialise spends so that two releases at once cannot both see the same remaining budget. Called first in the
    release's transaction; refuses (``ImproperlyConfigured``, nothing written) a database where the lock would not
    serialise them.

    PostgreSQL: a transaction-scoped advisory lock rather than ``select_for_update`` (the first spend of a period has
    no row to lock). It only works in READ COMMITTED, where each statement sees what was committed before it: under
    REPEATABLE READ or SERIALIZABLE the transaction's snapshot may predate the lock, so the sum read after it could
    miss a spend committed while waiting, and two releases could overspend.
    SQLite: no advisory locks; the transaction must take the database's only write lock when it begins
    (``"transaction_mode": "IMMEDIATE"`` in the database OPTIONS, as settings.py sets). A DEFERRED transaction
    would read the sum first and take the lock only at its first write, after another release may have spent.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            row = cursor.fetchone()
            isolation = row[0] if row else ""
            if isolation != "read committed":
                raise ImproperlyConfigured(
                    f"The privacy budget ledger needs PostgreSQL's READ COMMITTED isolation, not {isolation!r}: "
                    "remove isolation_level from the database OPTIONS. Nothing was released."
                )
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    elif connection.vendor == "sqlite":
        mode = getattr(connection, "transaction_mode", None)
        if mode not in SQLITE_LOCKING_MODES:
            raise ImproperlyConfigured(
                'The privacy budget ledger needs SQLite\'s "transaction_mode": "IMMEDIATE" in the database OPTIONS '
                f"(it is {mode or 'DEFERRED, the default'}). Nothing was released."
            )
    else:
        raise ImproperlyConfigured(
            f"The privacy budget ledger has no lock for {connection.vendor}. Nothing was released."
        )


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
    month's budget or the year's cap cannot pay, ``ImproperlyConfigured`` for a bad budget setting or a database
    whose ledger lock would not hold (``_lock_ledger``): in each case nothing is read, drawn or written.
    """
    if series not in SERIES:
        raise ValueError(_("Unknown series %(name)s. Known: %(known)s.") % {"name": series, "known": ", ".join(SERIES)})
    the_series = SERIES[series]
    requested = parse_epsilon(epsilon)
    policy = policy or Policy()
    budget, year_budget = budget_per_period(), budget_per_year()
    measurement, scale, loss = _measurement(requested)
    with transaction.atomic():
        _lock_ledger()
        now = timezone.now()
        period = period_of(now)
        # The year first: when both refuse, the year's renewal is the one that matters.
        year_spent = spent_in_year(year_of(now))
        if year_spent + loss > year_budget:
            raise BudgetExhausted(
                period=year_of(now),
                budget=year_budget,
                remaining=max(year_budget - year_spent, Decimal(0)),
                requested=loss,
                renews_at=year_renewal_of(now),
            )
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
    """What the analyst's dashboard shows of the noisy series: this month's budget, the year's cap and the latest
    release of each series (nothing is released or spent by looking). A bad budget setting is the administrator's to
    fix: the page says so (``budget_invalid``) instead of failing, and still shows the releases."""
    try:
        ledger: dict[str, Any] | None = _dashboard_ledger(privacy_ledger())
    except ImproperlyConfigured:
        ledger = None
    return {
        "ledger": ledger,
        "budget_invalid": ledger is None,
        "releases": [
            {**public_dp_release(spend), "released": spend.created_at} for spend in latest_dp_releases().values()
        ],
    }


def _dashboard_ledger(ledger: Ledger) -> dict[str, Any]:
    shown = public_ledger(ledger)  # epsilons as a person writes them
    return {**shown, "renews": ledger.renews_at, "year": {**shown["year"], "renews": ledger.year.renews_at}}


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
        "year": {
            "year": ledger.year.year,
            "budget": epsilon_text(ledger.year.budget),
            "spent": epsilon_text(ledger.year.spent),
            "remaining": epsilon_text(ledger.year.remaining),
            "renews_at": ledger.year.renews_at.isoformat(),
        },
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
