"""The registry of indicators: what each counts, among whom, and by what it may be broken down.

Every indicator is computed in the database with one aggregate query (``values(...).annotate(Count)``: counts per
combination of a few codes, never a record), grouped by each person's latest decision on anonymous statistics: only
persons whose latest decision is consent given are counted (the rule of ``cases.selectors.consenting``), and the
same query gives those left out for lack of it. Margins, bands and the like are sums of those grouped counts.
What makes this fast at 100,000 persons (bench/figures.py): one pass over the persons per indicator, read from the
``person_figures`` index, which holds each person's current decision (``Person.statistics_consent``, kept by the
database's triggers: no lookup of her consents); what her records say (episodes, services, first arrival in South
Korea) read from one narrow row beside her, also kept by triggers (``figures.per_person``). An indicator without a
breakdown is one row of conditional counts.

To add an indicator: write a function that counts with ``_count`` and returns its ``Computed``, add an ``Indicator``
to ``INDICATORS``, and compute the same numbers with pandas in ``bench/figures.py`` (``pandas_figures``):
tests/figures/test_bench_figures.py fails until both sides agree, so that the benchmark keeps comparing like with like.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractYear
from django.db.models.lookups import LessThan, LessThanOrEqual
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from waystation.cases import htcds
from waystation.cases.choices import ENDED_STATUSES, CaseStatus, Province, ServiceKind, Sex
from waystation.cases.models import ExploitationEpisode, Person, ServiceRecord
from waystation.figures import reference
from waystation.figures.disclosure import Key, Table
from waystation.network.models import Country, Movement, MovementStatus, Station

UNKNOWN = "unknown"

# Where a person is in the network's care and out of danger: sheltered at a station, moving with the network, in a
# third country's processing, or arrived. Not: only contacted, detained, missing, repatriated, deceased, closed.
SAFE_STATUSES = (
    CaseStatus.SHELTERED,
    CaseStatus.IN_TRANSIT,
    CaseStatus.THIRD_COUNTRY,
    CaseStatus.ARRIVED_KR,
    CaseStatus.RESETTLED,
)

# Types of exploitation as the appeal names them, each a group of the HTCDS-aligned codes.
ET = htcds.ExploitationType
EXPLOITATION_GROUPS: dict[str, tuple[str, ...]] = {
    "forced_marriage": (ET.FORCED_MARRIAGE,),
    "prostitution": (ET.PROSTITUTION, ET.VENUE_BASED_PROSTITUTION, ET.PRIVATE_SEXUAL_SERVICES),
    "cybersex": (ET.REMOTE_INTERACTIVE_SERVICES, ET.PORNOGRAPHY),
    "forced_labour": (ET.FORCED_LABOUR, ET.SERVITUDE, ET.CHILD_LABOUR),
}

# Route outcomes from the case status.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "arrived_kr": (CaseStatus.ARRIVED_KR, CaseStatus.RESETTLED),
    "in_transit": (CaseStatus.SHELTERED, CaseStatus.IN_TRANSIT, CaseStatus.THIRD_COUNTRY),
    "detained": (CaseStatus.DETAINED,),
    "repatriated": (CaseStatus.REPATRIATED,),
    "missing": (CaseStatus.MISSING,),
}
OTHER = "other"

# Months between leaving North Korea and first contact, as (code, lowest month, highest month).
MONTH_BANDS = (("0-6", 0, 6), ("7-12", 7, 12), ("13-36", 13, 36), ("37-120", 37, 120), ("121+", 121, 100_000))

LABELS: dict[str, Mapping[str, str | Promise]] = {
    "sex": dict(Sex.choices),
    "origin_province": dict(Province.choices),
    "first_contact_year": {UNKNOWN: _("Unknown")},
    "group": {"yes": _("Yes"), "no": _("No")},
    "times_sold": {"never": _("Never"), "once": _("Once"), "twice": _("Twice"), "three_plus": _("Three times or more")},
    "exploitation": {
        "forced_marriage": _("Forced marriage"),
        "prostitution": _("Prostitution, in a brothel or elsewhere"),
        "cybersex": _("Cybersex (webcam, pornography)"),
        "forced_labour": _("Forced labour"),
    },
    "outcome": {
        "arrived_kr": _("Arrived in South Korea"),
        "in_transit": _("In transit"),
        "detained": _("Detained"),
        "repatriated": _("Repatriated"),
        "missing": _("Missing"),
        OTHER: _("Other (contacted, deceased, closed)"),
    },
    "months_to_contact": {  # the bands' labels are made by ``label``, in the language active when it is called
        **{code: code for code, _low, _high in MONTH_BANDS[:-1]},
        "121+": _("More than 10 years"),
        UNKNOWN: _("Unknown"),
    },
    "service": dict(ServiceKind.choices),
    "arrival_year": {},
}


def label(dimension: str, code: str) -> str:
    """The translated label of a code, in the language active now."""
    if dimension == "months_to_contact":
        for band, low, high in MONTH_BANDS[:-1]:
            if code == band:
                return _("%(low)s to %(high)s months") % {"low": low, "high": high}
    return str(LABELS.get(dimension, {}).get(code, code))


@dataclass(frozen=True)
class Computed:
    table: Table
    left_out: int  # persons in the population who are not counted for lack of consent to statistics
    share: tuple[str, str] | None = None  # (dimension, code) of the numerator when the indicator is a share
    ratio: tuple[int, int] | None = None  # (numerator, denominator) of a mean, e.g. services per person


@dataclass(frozen=True)
class Indicator:
    name: str
    title: str | Promise
    definition: str | Promise
    compute: Callable[[], Computed]
    breakdowns: Sequence[tuple[str, ...]] = field(default_factory=tuple)
    # A public series set beside the indicator's cells: the reference figure for a cell's codes, or None.
    reference: Callable[[Mapping[str, str]], int | None] | None = None
    reference_source: str = ""


# --- one woman, counted once -----------------------------------------------------------------------------------------
#
# A woman recorded twice and merged by a coordinator (``linkage``) is counted once, as the record she was merged
# into (``Person.merged_into``): that record's coded fields and consent, and the records (episodes, services,
# movements) of both. The merged record itself is in no population.


def _persons() -> QuerySet[Person]:
    """Every person record that stands for a woman (not merged into another record): each population's start."""
    return Person.objects.filter(merged_into__isnull=True)


def _merges_exist() -> bool:
    """Counted from the ``person_merged`` index, which holds the merged records only."""
    return bool(Person.objects.filter(merged_into__isnull=False).aggregate(n=Count("pk"))["n"])


def _hers(records: QuerySet[Any], outer: str = "pk") -> QuerySet[Any]:
    """``records`` of the person ``outer`` refers to, and of the records merged into hers. While no merge exists
    (most releases), the person's own: the plain lookup on the records' person index, no join."""
    if _merges_exist():
        return records.filter(Q(person=OuterRef(outer)) | Q(person__merged_into=OuterRef(outer)))
    return records.filter(person=OuterRef(outer))


def _everyone() -> QuerySet[Person]:
    return _persons()


# --- counting in one pass --------------------------------------------------------------------------------------------
#
# Each indicator reads its population once: one aggregate query grouped by the person's latest decision on
# statistics (and by the indicator's own dimensions), so that the same rows give those counted (consent given) and
# those left out (withdrawn, refused or never asked). One pass instead of three (the population, those consenting,
# the breakdown); the decision is a column of the persons' index, not a lookup of each one's consents.


def _statistics_decision() -> F:
    """A person's latest decision on anonymous statistics without a partner (True, False, or None if never asked),
    as a value to group by: kept on the person row by the database (``Person.statistics_consent``), the column
    ``cases.selectors.consenting`` filters on, so that there is one rule (consent given = True) and no lookup."""
    return F("statistics_consent")


@dataclass(frozen=True)
class _Counts:
    counted: list[dict[str, Any]]  # per combination of the groups among those counted: its values, "n", aggregates
    left_out: int  # persons of the population not counted for lack of consent


def _count(
    persons: QuerySet[Person],
    by: Mapping[str, Any] | None = None,
    aggregates: Mapping[str, Any] | None = None,
) -> _Counts:
    """``persons`` counted by the ``by`` expressions (``n``) and by the ``aggregates``, in one query, among those
    whose latest decision is consent given; and how many of ``persons`` are left out for lack of it."""
    by, aggregates = by or {}, aggregates or {}
    if not by:
        return _count_all(persons, aggregates)
    groups = {"g_consent": _statistics_decision()} | {f"g_{name}": e for name, e in by.items()}  # no field's name
    values = {"n": Count("pk")} | {f"a_{name}": e for name, e in aggregates.items()}
    rows = persons.annotate(**groups).values(*groups).annotate(**values).order_by()
    counted, left_out = [], 0
    for row in rows:
        if row["g_consent"] is not True:
            left_out += row["n"]
            continue
        counted.append(
            {name: row[f"g_{name}"] for name in by}
            | {"n": row["n"]}
            | {name: row[f"a_{name}"] or 0 for name in aggregates}
        )
    return _Counts(counted, left_out)


def _count_all(persons: QuerySet[Person], aggregates: Mapping[str, Aggregate]) -> _Counts:
    """``_count`` without a breakdown: one row of conditional aggregates, no grouping. Each aggregate counts only
    those counted (its filter is ANDed after the decision: SQLite then does not run a subquery in it for those
    left out). At 100,000 persons a third faster than grouping by the decision: no sort of every person."""
    counted = Q(statistics_consent=True)
    values: dict[str, Aggregate] = {"n": Count("pk", filter=counted), "left_out": Count("pk", filter=~counted)}
    for name, aggregate in aggregates.items():
        condition = counted if aggregate.filter is None else counted & aggregate.filter
        values[f"a_{name}"] = aggregate.copy()
        values[f"a_{name}"].filter = condition
    row = persons.aggregate(**values)
    totals = {"n": row["n"]} | {name: row[f"a_{name}"] or 0 for name in aggregates}
    return _Counts([totals] if row["n"] else [], int(row["left_out"]))


def _total(rows: Sequence[Mapping[str, Any]], name: str = "n") -> int:
    return sum(int(row[name]) for row in rows)


def _sqlite_year(sql: str) -> str:
    """The year of an ISO date or UTC time as SQLite stores it (``2024-05-01``, ``2024-05-01 10:00:00``): its first
    four characters. ``substr`` rather than ``strftime``, which parses the whole date (a third slower over 100,000
    persons)."""
    return f"CAST(substr({sql}, 1, 4) AS INTEGER)"


def _sqlite_month(sql: str) -> str:
    """The month (1-12) of an ISO date or time as SQLite stores it: characters 6 and 7."""
    return f"CAST(substr({sql}, 6, 2) AS INTEGER)"


class _Year(ExtractYear):
    """The year of a date or time. On SQLite, Django computes it in a Python function called for every row; the
    stored text (ISO dates, UTC times) gives it natively, without leaving the database engine. The same year as
    ``ExtractYear`` in UTC, the installation's time zone (any other: Django's own way)."""

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        if self.get_tzname() not in (None, "UTC"):
            sql, params = super().as_sql(compiler, connection, **extra_context)
            return sql, list(params)
        sql, params = compiler.compile(self.lhs)
        return _sqlite_year(sql), list(params)


class _MonthNumber(Func):
    """Months since the year 0 of a date: a year times 12 plus its month (1-12), so that the difference of two is
    the months between them. Natively on SQLite (see ``_Year``)."""

    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"CAST(EXTRACT(YEAR FROM {sql}) * 12 + EXTRACT(MONTH FROM {sql}) AS integer)",
            [*params, *params],
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({_sqlite_year(sql)} * 12 + {_sqlite_month(sql)})", [*params, *params]


def _year_text(years: Sequence[int]) -> list[str]:
    """Every year from the first to the last (a year with nobody is a cell of 0), and ``unknown``."""
    if not years:
        return [UNKNOWN]
    return [str(y) for y in range(min(years), max(years) + 1)] + [UNKNOWN]


DIMENSIONS: dict[str, object] = {
    "sex": F("sex"),
    "origin_province": F("origin_province"),
    "first_contact_year": _Year("first_contact_month"),
}


# --- the persons' own columns, read once a release --------------------------------------------------------------------
#
# Five indicators need nothing but the person's own coded columns (sex, status, province, year of first contact):
# in care now, ever, the share of women, women safe now, route outcomes. A release reads those columns once, grouped
# by all of them and by the decision on statistics (a few thousand rows at 100,000 persons), and each of the five
# counts its population from the rows: at 100,000 persons one scan instead of five, less than half their time.
# Each population is then a test of a row (``_Row``).

_Row = Mapping[str, Any]
_ROW_COLUMNS: dict[str, Any] = {**DIMENSIONS, "status": F("status")}
_shared: ContextVar[dict[str, list[dict[str, Any]]] | None] = ContextVar("figures_shared_rows", default=None)


@contextmanager
def one_pass() -> Iterator[None]:
    """Within it (a release computing every indicator from one snapshot), each shared reading (the persons' own
    columns, their episodes) is made once; outside, each indicator makes its own."""
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def _once(name: str, read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    cache = _shared.get()
    if cache is None:
        return read()
    if name not in cache:
        cache[name] = read()
    return cache[name]


def _grouped(groups: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every person not merged, grouped by ``groups`` and the decision on statistics (``consent``): ``n`` each."""
    annotations = {"g_consent": _statistics_decision()} | {f"g_{name}": e for name, e in groups.items()}
    return [
        {"consent": row["g_consent"], "n": row["n"]} | {name: row[f"g_{name}"] for name in groups}
        for row in _persons().annotate(**annotations).values(*annotations).annotate(n=Count("pk")).order_by()
    ]


def _person_rows() -> list[dict[str, Any]]:
    """The persons by ``_ROW_COLUMNS``."""
    return _once("persons", lambda: _grouped(_ROW_COLUMNS))


def _count_rows(
    keep: Callable[[_Row], bool],
    dims: Sequence[str] = (),
    rows: Callable[[], list[dict[str, Any]]] = _person_rows,
) -> _Counts:
    """``_count`` of the population ``keep`` tells (those counted by ``dims``), from shared ``rows``."""
    counted: dict[tuple[Any, ...], int] = {}
    left_out = 0
    for row in rows():
        if not keep(row):
            continue
        if row["consent"] is not True:
            left_out += row["n"]
            continue
        key = tuple(row[dim] for dim in dims)
        counted[key] = counted.get(key, 0) + row["n"]
    return _Counts([dict(zip(dims, key, strict=True)) | {"n": n} for key, n in counted.items()], left_out)


def _anyone(row: _Row) -> bool:
    return True


def _is_in_care(row: _Row) -> bool:
    return row["status"] not in ENDED_STATUSES


def _is_woman(row: _Row) -> bool:
    return bool(row["sex"] == Sex.FEMALE)


def _is_woman_safe(row: _Row) -> bool:
    return _is_woman(row) and row["status"] in SAFE_STATUSES


def _person_table(counted: Sequence[Mapping[str, Any]], breakdowns: Sequence[tuple[str, ...]]) -> Table:
    """Those counted, by each breakdown, from one grouping by every dimension of the breakdowns (each breakdown's
    counts are sums of its rows), protected together as one table."""
    codes = [
        {dim: UNKNOWN if row[dim] is None else str(row[dim]) for dim in DIMENSIONS if dim in row} for row in counted
    ]
    years = [int(row["first_contact_year"]) for row in counted if row.get("first_contact_year") is not None]
    levels = {
        "sex": list(Sex.values),
        "origin_province": list(Province.values),
        "first_contact_year": _year_text(years),
    }
    tables = [Table.from_counts({}, {(): _total(counted)})]
    for dims in breakdowns:
        counts: dict[tuple[str, ...], int] = {}
        for row, row_codes in zip(counted, codes, strict=True):
            cell = tuple(row_codes[dim] for dim in dims)
            counts[cell] = counts.get(cell, 0) + int(row["n"])
        tables.append(Table.from_counts({dim: levels[dim] for dim in dims}, counts))
    return Table.union(tables)


def _count_indicator(keep: Callable[[_Row], bool], breakdowns: Sequence[tuple[str, ...]]) -> Callable[[], Computed]:
    dims = sorted({dim for breakdown in breakdowns for dim in breakdown})

    def compute() -> Computed:
        counts = _count_rows(keep, dims)
        return Computed(_person_table(counts.counted, breakdowns), counts.left_out)

    return compute


def _share(yes: int, everyone: int, left_out: int) -> Computed:
    table = Table.from_counts({"group": ["yes", "no"]}, {("yes",): yes, ("no",): everyone - yes})
    return Computed(table, left_out, share=("group", "yes"))


def _share_of_rows(
    keep: Callable[[_Row], bool],
    yes: Callable[[_Row], bool],
    rows: Callable[[], list[dict[str, Any]]] = _person_rows,
) -> Callable[[], Computed]:
    """The share of a population that ``yes`` tells, both tests of shared ``rows``."""

    def compute() -> Computed:
        everyone = _count_rows(keep, rows=rows)
        among = _count_rows(lambda row: keep(row) and yes(row), rows=rows)
        return _share(_total(among.counted), _total(everyone.counted), everyone.left_out)

    return compute


def _banded(counted: Sequence[Mapping[str, Any]], value: str, band: Callable[[Any], str]) -> dict[tuple[str, ...], int]:
    """Those counted, by the band of each row's ``value`` (the rows group by the value itself: few distinct ones)."""
    counts: dict[tuple[str, ...], int] = {}
    for row in counted:
        code = (band(row[value]),)
        counts[code] = counts.get(code, 0) + int(row["n"])
    return counts


def _sold_band(times: int | None) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(times or 0, "three_plus")


def _per_person(records: QuerySet[Any], value: Any) -> Subquery:
    """``value`` (an aggregate) over the person's own ``records``, as one number a person: a subquery that
    aggregates without GROUP BY. Grouped by a constant, which Django leaves out of the SQL: grouped by the person
    (the usual ``values("person")``), SQLite sorts each person's rows first, a fifth slower at 100,000 persons.
    Without records, the aggregate of none: 0 for a count, NULL for a maximum or a minimum."""
    mine = _hers(records).order_by().annotate(one=Value(1)).values("one")
    return Subquery(mine.annotate(value=value).values("value"), output_field=IntegerField())


# --- what each person's records say, kept beside her (``figures.per_person``) -----------------------------------------
#
# Her episodes, services and first arrival in South Korea, each packed in one number, are kept by the database in
# ``PersonFigures`` (one row a person, hers and her merged records' together), so that a release reads them with
# one join instead of three lookups of her records a person. The expressions below are their definition, over her
# records: ``expected_per_person`` computes them so, and ``per_person.out_of_step`` compares what the triggers
# kept with it (after every test that used the database).

_EPISODES_UNIT = 2 << len(EXPLOITATION_GROUPS)  # sold sits above the groups' bits, which sit above "any"
_SERVICE_KINDS = list(ServiceKind.values)
_SERVICES_UNIT = 1 << len(_SERVICE_KINDS)  # the record count sits above the kinds' bits


def _episodes_packed() -> Aggregate | Coalesce:
    """Of a person's episodes: 0 without any, else how many began with a sale, then a bit a group of
    ``EXPLOITATION_GROUPS`` she lived, then 1 ("any"). Each aggregate is NULL only when she has no episode at all,
    so the whole sum is NULL exactly then: one COALESCE."""
    bits = [
        Max(Case(When(exploitation_type__in=codes, then=Value(1 << i)), default=Value(0)))
        for i, codes in enumerate(EXPLOITATION_GROUPS.values())
    ]
    sold = Sum(Case(When(was_sold=True, then=Value(1)), default=Value(0)))
    packed = sold * _EPISODES_UNIT + reduce(operator.add, bits) * 2 + Value(1)
    return Coalesce(packed, 0, output_field=IntegerField())


def _services_packed() -> Any:
    """Of a person's services: the kinds she received as bits (each kind a power of two, summed once: SUM
    DISTINCT), and how many records she has above them."""
    power = Case(
        *[When(kind=kind, then=Value(1 << i)) for i, kind in enumerate(_SERVICE_KINDS)],
        default=Value(0),
        output_field=IntegerField(),
    )
    return Coalesce(Sum(power, distinct=True), 0) + Count("id") * _SERVICES_UNIT


def expected_per_person() -> dict[Any, tuple[int, int, Any]]:
    """Every person's (episodes, services, first arrival in South Korea), computed from her records and her
    merged records' (what ``PersonFigures`` must hold)."""
    rows = Person.objects.annotate(
        e=_per_person(ExploitationEpisode.objects.all(), _episodes_packed()),
        s=_per_person(ServiceRecord.objects.all(), _services_packed()),
        a=_first_arrival(_arrivals_kr()),
    ).values_list("pk", "e", "s", "a")
    return {pk: (int(e or 0), int(s or 0), a) for pk, e, s, a in rows}


def _episode_rows() -> list[dict[str, Any]]:
    """The persons by what their episodes (hers and her merged records') say, read from her ``PersonFigures``
    row (``_episodes_packed``), shared by times sold, the types of exploitation and the share
    of women trafficked: ``sold`` (how many episodes began with a sale), ``kinds`` (bit ``i`` set when she has an
    episode of the ``i``-th of ``EXPLOITATION_GROUPS``), ``any`` (at least one episode, of any type). The three
    travel in one number a person (sold, then kinds, then any, in bits), so that the persons group by few values.
    The same scan gives the months from leaving North Korea to first contact, already banded (``band``: a few
    values, so the rows stay few), and the year of her first arrival in South Korea (``arrival_year``, None before
    it): two scans of the persons and their sorts fewer a release (at 100,000 persons, a few thousand rows)."""

    def read() -> list[dict[str, Any]]:
        rows = _grouped(
            {
                "sex": F("sex"),
                "episodes": F("figures__episodes"),
                "band": _months_to_contact_band(),
                "arrival_year": _Year("figures__first_arrival_kr"),
            }
        )
        unit = _EPISODES_UNIT
        for row in rows:
            value = int(row.pop("episodes") or 0)
            row |= {"sold": value // unit, "kinds": (value % unit) // 2, "any": value % 2}
        return rows

    return _once("episodes", read)


def _has_an_episode(row: _Row) -> bool:
    return bool(row["any"])


def times_sold() -> Computed:
    counts = _count_rows(_anyone, ("sold",), rows=_episode_rows)
    table = Table.from_counts({"times_sold": list(LABELS["times_sold"])}, _banded(counts.counted, "sold", _sold_band))
    return Computed(table, counts.left_out)


def _with_kind(counted: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> dict[str, int]:
    """Persons counted with records of each group, from rows grouped by their ``kinds`` (``_episode_rows``)."""
    return {
        group: sum(int(row["n"]) for row in counted if (row["kinds"] or 0) & (1 << i)) for i, group in enumerate(groups)
    }


def exploitation_types() -> Computed:
    """Persons with at least one episode of each type. A person may have several types, so the cells do not add up
    to a total: each is protected on its own (no constraints), and the total is persons with any of them."""
    counts = _count_rows(_anyone, ("kinds",), rows=_episode_rows)
    cells: dict[Key, int] = {
        (("exploitation", group),): n for group, n in _with_kind(counts.counted, list(EXPLOITATION_GROUPS)).items()
    }
    anyone = sum(int(row["n"]) for row in counts.counted if row["kinds"])
    return Computed(Table(counts={**cells, (): anyone}), counts.left_out)


class _MonthsBand(Func):
    """The band (``MONTH_BANDS``) of a number of months, ``unknown`` when it is missing or below 0: a ``Case`` of
    one ``When`` a band, each comparing the months again. On SQLite the months are computed once, in a subquery of
    their own that the bands' comparisons read: written into each ``When``, the two months' arithmetic (four
    ``substr`` each) ran six times a person, half of the months' grouping at 100,000 persons."""

    output_field = CharField()

    def __init__(self, months: Any) -> None:
        case = Case(
            When(LessThan(months, 0), then=Value(UNKNOWN)),
            *[When(LessThanOrEqual(months, high), then=Value(code)) for code, _low, high in MONTH_BANDS],
            default=Value(UNKNOWN),
        )
        super().__init__(case, months)  # both resolved with the query: the Case for other databases, the months here

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return sql, list(params)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, list[Any]]:
        months, months_params = compiler.compile(self.source_expressions[1])
        bands = " ".join("WHEN d <= %s THEN %s" for _band in MONTH_BANDS)
        band_params = [value for code, _low, high in MONTH_BANDS for value in (high, code)]
        # the months as Django compiled them (their values as parameters), the bands all parameters
        sql = f"(SELECT CASE WHEN d < 0 THEN %s {bands} ELSE %s END FROM (SELECT {months} AS d))"  # noqa: S608
        return sql, [UNKNOWN, *band_params, UNKNOWN, *months_params]


def _months_to_contact_band() -> _MonthsBand:
    """The band (``MONTH_BANDS``) of the months between leaving North Korea and first contact, in the database:
    ``unknown`` when either month is missing or contact came before leaving (a mistake in the record)."""
    months = ExpressionWrapper(
        _MonthNumber("first_contact_month") - _MonthNumber("left_nk_month"), output_field=IntegerField()
    )
    return _MonthsBand(months)


def months_to_contact() -> Computed:
    counts = _count_rows(_anyone, ("band",), rows=_episode_rows)
    levels = {"months_to_contact": list(LABELS["months_to_contact"])}
    return Computed(Table.from_counts(levels, _banded(counts.counted, "band", str)), counts.left_out)


def route_outcomes() -> Computed:
    """Everyone by where their journey stands (a few fixed outcomes, each a set of statuses, the rest "other"),
    from the shared rows."""
    counts = _count_rows(_anyone, ("status",))
    by_status = {row["status"]: int(row["n"]) for row in counts.counted}
    cells: dict[tuple[str, ...], int] = {
        (code,): sum(by_status.get(status, 0) for status in statuses) for code, statuses in OUTCOMES.items()
    }
    cells[(OTHER,)] = _total(counts.counted) - sum(cells.values())
    return Computed(Table.from_counts({"outcome": list(LABELS["outcome"])}, cells), counts.left_out)


def services_per_person() -> Computed:
    """Persons who received each kind of service (a person may receive several: no total constraint), and the
    mean number of service records per person counted. Her ``PersonFigures`` row gives both, packed in one number
    (``_services_packed``); the persons then group by few distinct numbers."""
    kinds, unit = _SERVICE_KINDS, _SERVICES_UNIT
    counts = _count(_everyone(), by={"services": F("figures__services")})
    cells: dict[Key, int] = {
        (("service", kind),): sum(int(row["n"]) for row in counts.counted if int(row["services"] or 0) & (1 << i))
        for i, kind in enumerate(kinds)
    }
    persons = _total(counts.counted)
    records = sum(int(row["n"]) * (int(row["services"] or 0) // unit) for row in counts.counted)
    return Computed(Table(counts={**cells, (): persons}), counts.left_out, ratio=(records, persons))


def _first_arrival(arrivals: QuerySet[Movement]) -> Subquery:
    """The earliest of a person's ``arrivals`` (hers and her merged records'), as a subquery's one value."""
    first = _hers(arrivals).order_by().annotate(one=Value(1)).values("one").annotate(first=Min("arrived_at"))
    return Subquery(first.values("first"))


def _arrivals_kr() -> QuerySet[Movement]:
    """Arrivals at a station in South Korea: a person's first of them (``expected_per_person``) is kept beside her
    (``PersonFigures.first_arrival_kr``), where the release and privacy's monthly count read it."""
    stations = Station.objects.filter(country=Country.SOUTH_KOREA)
    return Movement.objects.filter(to_station__in=stations, status=MovementStatus.ARRIVED)


def _has_arrived_kr(row: _Row) -> bool:
    return row["arrival_year"] is not None


def arrivals_kr() -> Computed:
    """Persons counted by the year they first arrived at a station in South Korea (an arrived movement), and by
    sex and year, from the shared rows. Persons not (yet) arrived are not in the table; those left out for lack of
    consent are counted among the arrived only."""
    counts = _count_rows(_has_arrived_kr, ("arrival_year", "sex"), rows=_episode_rows)
    by_sex_year: dict[tuple[str, ...], int] = {
        (str(row["sex"]), str(row["arrival_year"])): row["n"] for row in counts.counted
    }
    found = sorted(int(year) for _sex, year in by_sex_year)
    years = [str(y) for y in range(found[0], found[-1] + 1)] if found else []  # a year with no arrival shows 0
    # The table of sex by year with all its margins (per year, per sex, the total), protected together.
    return Computed(Table.from_counts({"sex": list(Sex.values), "arrival_year": years}, by_sex_year), counts.left_out)


IN_CARE_BREAKDOWNS = (("sex",), ("first_contact_year",), ("origin_province",))

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "persons_in_care_now",
        _("People in care now"),
        _("People the network is caring for today: every case not repatriated, deceased or closed."),
        _count_indicator(_is_in_care, IN_CARE_BREAKDOWNS),
        IN_CARE_BREAKDOWNS,
    ),
    Indicator(
        "persons_ever",
        _("People ever in care"),
        _("Everyone the network has ever registered."),
        _count_indicator(_anyone, (*IN_CARE_BREAKDOWNS, ("sex", "first_contact_year"))),
        (*IN_CARE_BREAKDOWNS, ("sex", "first_contact_year")),
    ),
    Indicator(
        "share_women",
        _("Share of women"),
        _("Of everyone ever in care, the share who are women."),
        _share_of_rows(_anyone, _is_woman),
    ),
    Indicator(
        "share_women_trafficked",
        _("Share of women who were trafficked"),
        _("Of the women ever in care, the share with at least one recorded episode of exploitation."),
        _share_of_rows(_is_woman, _has_an_episode, rows=_episode_rows),
    ),
    Indicator(
        "times_sold",
        _("Times sold"),
        _("Everyone ever in care, by how many times they were sold (each sale starts an episode of exploitation)."),
        times_sold,
        (("times_sold",),),
    ),
    Indicator(
        "exploitation_types",
        _("Types of exploitation"),
        _("People ever in care with at least one episode of each type; one person may have lived several."),
        exploitation_types,
        (("exploitation",),),
    ),
    Indicator(
        "months_to_contact",
        _("Months from leaving North Korea to first contact"),
        _("Everyone ever in care, by the months between leaving North Korea and first meeting the network."),
        months_to_contact,
        (("months_to_contact",),),
    ),
    Indicator(
        "route_outcomes",
        _("Route outcomes"),
        _("Everyone ever in care, by where their journey stands now."),
        route_outcomes,
        (("outcome",),),
    ),
    Indicator(
        "arrivals_kr",
        _("Arrivals in South Korea"),
        _(
            "People ever in care by the year they reached South Korea with the network (their first arrival at a "
            "station there), beside all arrivals of North Koreans that year reported by the Ministry of Unification."
        ),
        arrivals_kr,
        (("sex",), ("arrival_year",), ("sex", "arrival_year")),
        reference=reference.national_count,
        reference_source=reference.SOURCE,
    ),
    Indicator(
        "women_safe_now",
        _("Women safe in the network now"),
        _("Women sheltered at a station, moving with the network, in a third country's processing, or arrived."),
        _count_indicator(_is_woman_safe, ()),
    ),
    Indicator(
        "services_per_person",
        _("Services per person"),
        _("People ever in care who received each kind of service, and the mean number of services per person."),
        services_per_person,
        (("service",),),
    ),
)

BY_NAME = {indicator.name: indicator for indicator in INDICATORS}
