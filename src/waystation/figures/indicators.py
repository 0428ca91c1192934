"""The registry of indicators: what each counts, among whom, and by what it may be broken down.

Every indicator is computed in the database with one or a few aggregate queries (``values(...).annotate(Count)`` or
``aggregate``), never by loading records. Only persons whose latest decision on anonymous statistics is consent
given are counted (``cases.selectors.consenting``); ``compute`` also counts those left out for lack of it.

To add an indicator: write a function returning its ``Table`` and add an ``Indicator`` to ``INDICATORS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from waystation.cases import htcds
from waystation.cases.choices import ENDED_STATUSES, CaseStatus, ConsentScope, Province, ServiceKind, Sex
from waystation.cases.models import ExploitationEpisode, Person
from waystation.cases.selectors import consenting
from waystation.figures import reference
from waystation.figures.disclosure import Key, Table
from waystation.network.models import Country, Movement, MovementStatus

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


def _everyone() -> QuerySet[Person]:
    return Person.objects.all()


def _in_care() -> QuerySet[Person]:
    return Person.objects.exclude(status__in=ENDED_STATUSES)


def _counted(population: QuerySet[Person]) -> tuple[QuerySet[Person], int]:
    counted = consenting(population, ConsentScope.STATISTICS)
    return counted, population.count() - counted.count()


def _year_levels(persons: QuerySet[Person]) -> list[str]:
    span = persons.aggregate(low=Min("first_contact_month"), high=Max("first_contact_month"))
    if span["low"] is None:
        return [UNKNOWN]
    return [str(y) for y in range(span["low"].year, span["high"].year + 1)] + [UNKNOWN]


DIMENSIONS: dict[str, Callable[[QuerySet[Person]], tuple[object, list[str]]]] = {
    "sex": lambda persons: (F("sex"), list(Sex.values)),
    "origin_province": lambda persons: (F("origin_province"), list(Province.values)),
    "first_contact_year": lambda persons: (
        Coalesce(Cast(ExtractYear("first_contact_month"), CharField()), Value(UNKNOWN)),
        _year_levels(persons),
    ),
}


def _person_table(persons: QuerySet[Person], breakdowns: Sequence[tuple[str, ...]]) -> Table:
    """Persons counted by each breakdown (one GROUP BY query each), protected together as one table."""
    tables = [Table.from_counts({}, {(): persons.count()})]
    for dims in breakdowns:
        exprs = {f"d_{dim}": DIMENSIONS[dim](persons) for dim in dims}
        rows = persons.annotate(**{k: e for k, (e, _levels) in exprs.items()}).values(*exprs).annotate(n=Count("id"))
        counts = {tuple(str(row[k]) for k in exprs): row["n"] for row in rows.order_by()}
        levels = {dim: exprs[f"d_{dim}"][1] for dim in dims}
        tables.append(Table.from_counts(levels, counts))
    return Table.union(tables)


def _count_indicator(
    population: Callable[[], QuerySet[Person]], breakdowns: Sequence[tuple[str, ...]]
) -> Callable[[], Computed]:
    def compute() -> Computed:
        counted, left_out = _counted(population())
        return Computed(_person_table(counted, breakdowns), left_out)

    return compute


def _share_indicator(population: Callable[[], QuerySet[Person]], numerator: Q) -> Callable[[], Computed]:
    def compute() -> Computed:
        counted, left_out = _counted(population())
        totals = counted.aggregate(yes=Count("id", filter=numerator, distinct=True), all=Count("id", distinct=True))
        counts: dict[tuple[str, ...], int] = {("yes",): totals["yes"], ("no",): totals["all"] - totals["yes"]}
        return Computed(Table.from_counts({"group": ["yes", "no"]}, counts), left_out, share=("group", "yes"))

    return compute


def _women() -> QuerySet[Person]:
    return Person.objects.filter(sex=Sex.FEMALE)


def _women_safe() -> QuerySet[Person]:
    return Person.objects.filter(sex=Sex.FEMALE, status__in=SAFE_STATUSES)


def times_sold() -> Computed:
    counted, left_out = _counted(_everyone())
    sales = (
        ExploitationEpisode.objects.filter(person=OuterRef("pk"), was_sold=True)
        .order_by()
        .values("person")
        .annotate(n=Count("id"))
        .values("n")
    )
    sold = counted.annotate(sold=Coalesce(Subquery(sales, output_field=IntegerField()), Value(0)))
    band = Case(
        When(sold=0, then=Value("never")),
        When(sold=1, then=Value("once")),
        When(sold=2, then=Value("twice")),
        default=Value("three_plus"),
        output_field=CharField(),
    )
    rows = sold.annotate(band=band).values("band").annotate(n=Count("id")).order_by()
    counts: dict[tuple[str, ...], int] = {(row["band"],): row["n"] for row in rows}
    return Computed(Table.from_counts({"times_sold": list(LABELS["times_sold"])}, counts), left_out)


def exploitation_types() -> Computed:
    """Persons with at least one episode of each type. A person may have several types, so the cells do not add up
    to a total: each is protected on its own (no constraints), and the total is persons with any of them."""
    counted, left_out = _counted(_everyone())
    aggregates = {
        group: Count("id", filter=Q(episodes__exploitation_type__in=codes), distinct=True)
        for group, codes in EXPLOITATION_GROUPS.items()
    }
    every_code = [code for codes in EXPLOITATION_GROUPS.values() for code in codes]
    aggregates["any"] = Count("id", filter=Q(episodes__exploitation_type__in=every_code), distinct=True)
    totals = counted.aggregate(**aggregates)
    counts: dict[Key, int] = {(("exploitation", group),): totals[group] for group in EXPLOITATION_GROUPS}
    return Computed(Table(counts={**counts, (): totals["any"]}), left_out)


def months_to_contact() -> Computed:
    counted, left_out = _counted(_everyone())
    months = (ExtractYear("first_contact_month") - ExtractYear("left_nk_month")) * 12 + (
        ExtractMonth("first_contact_month") - ExtractMonth("left_nk_month")
    )
    band = Case(
        *[When(months__gte=lo, months__lte=hi, then=Value(code)) for code, lo, hi in MONTH_BANDS],
        default=Value(UNKNOWN),
        output_field=CharField(),
    )
    rows = (
        counted.annotate(months=Cast(months, IntegerField())).annotate(band=band).values("band").annotate(n=Count("id"))
    )
    counts: dict[tuple[str, ...], int] = {(row["band"],): row["n"] for row in rows.order_by()}
    return Computed(Table.from_counts({"months_to_contact": list(LABELS["months_to_contact"])}, counts), left_out)


def route_outcomes() -> Computed:
    counted, left_out = _counted(_everyone())
    outcome = Case(
        *[When(status__in=statuses, then=Value(code)) for code, statuses in OUTCOMES.items()],
        default=Value(OTHER),
        output_field=CharField(),
    )
    rows = counted.annotate(outcome=outcome).values("outcome").annotate(n=Count("id")).order_by()
    counts: dict[tuple[str, ...], int] = {(row["outcome"],): row["n"] for row in rows}
    return Computed(Table.from_counts({"outcome": list(LABELS["outcome"])}, counts), left_out)


def services_per_person() -> Computed:
    """Persons who received each kind of service (a person may receive several: no total constraint), and the
    mean number of service records per person counted."""
    counted, left_out = _counted(_everyone())
    aggregates = {kind: Count("id", filter=Q(services__kind=kind), distinct=True) for kind in ServiceKind.values}
    totals = counted.aggregate(
        **aggregates, persons=Count("id", distinct=True), records=Count("services", distinct=True)
    )
    counts: dict[Key, int] = {(("service", kind),): totals[kind] for kind in ServiceKind.values}
    return Computed(
        Table(counts={**counts, (): totals["persons"]}), left_out, ratio=(totals["records"], totals["persons"])
    )


def arrivals_kr() -> Computed:
    """Persons counted by the year they first arrived at a station in South Korea (an arrived movement), and by
    sex and year: one aggregate query with the arrival year as a subquery. Persons not (yet) arrived are not in
    the table; those left out for lack of consent are counted among the arrived only."""
    first_arrival = (
        Movement.objects.filter(
            person=OuterRef("pk"), status=MovementStatus.ARRIVED, to_station__country=Country.SOUTH_KOREA
        )
        .order_by()
        .values("person")
        .annotate(first=Min("arrived_at"))
        .values("first")
    )
    arrived = Person.objects.annotate(arrived_kr=Subquery(first_arrival)).filter(arrived_kr__isnull=False)
    counted, left_out = _counted(arrived)
    rows = (
        counted.annotate(year=Cast(ExtractYear("arrived_kr"), CharField()))
        .values("year", "sex")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_sex_year: dict[tuple[str, ...], int] = {(str(row["sex"]), str(row["year"])): row["n"] for row in rows}
    found = sorted(int(year) for _sex, year in by_sex_year)
    years = [str(y) for y in range(found[0], found[-1] + 1)] if found else []  # a year with no arrival shows 0
    # The table of sex by year with all its margins (per year, per sex, the total), protected together.
    return Computed(Table.from_counts({"sex": list(Sex.values), "arrival_year": years}, by_sex_year), left_out)


IN_CARE_BREAKDOWNS = (("sex",), ("first_contact_year",), ("origin_province",))

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "persons_in_care_now",
        _("People in care now"),
        _("People the network is caring for today: every case not repatriated, deceased or closed."),
        _count_indicator(_in_care, IN_CARE_BREAKDOWNS),
        IN_CARE_BREAKDOWNS,
    ),
    Indicator(
        "persons_ever",
        _("People ever in care"),
        _("Everyone the network has ever registered."),
        _count_indicator(_everyone, (*IN_CARE_BREAKDOWNS, ("sex", "first_contact_year"))),
        (*IN_CARE_BREAKDOWNS, ("sex", "first_contact_year")),
    ),
    Indicator(
        "share_women",
        _("Share of women"),
        _("Of everyone ever in care, the share who are women."),
        _share_indicator(_everyone, Q(sex=Sex.FEMALE)),
    ),
    Indicator(
        "share_women_trafficked",
        _("Share of women who were trafficked"),
        _("Of the women ever in care, the share with at least one recorded episode of exploitation."),
        _share_indicator(_women, Q(episodes__isnull=False)),
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
        _count_indicator(_women_safe, ()),
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
