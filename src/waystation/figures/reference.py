"""Public reference series the figures are set beside: arrivals in South Korea reported by the Ministry of
Unification (``data/nk_defector_arrivals_by_year_sex.csv``, sources in ``data/README.md``)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

# The indicators' sex codes (``cases.choices.Sex``) and the columns of MOU's series.
SEX_COLUMNS = {"F": "female", "M": "male"}

SOURCE = "Ministry of Unification (Republic of Korea), arrivals of North Korean defectors by year and sex"


@cache
def national_arrivals() -> Mapping[int, Mapping[str, int]]:
    """``{year: {"female": n, "male": n, "total": n}}`` for every single year MOU reports (its cumulative buckets,
    "through 1998" and "1999-2001", and the running total are left out). Read once, read-only."""
    text = resources.files("waystation.figures").joinpath("data/nk_defector_arrivals_by_year_sex.csv").read_text()
    series: dict[int, Mapping[str, int]] = {}
    for row in csv.DictReader(text.splitlines()):
        if not row["period"].isdigit():
            continue
        female, male, total = int(row["female"]), int(row["male"]), int(row["total"])
        if female + male != total:
            raise ValueError(f"reference data: {row['period']} does not add up ({female} + {male} != {total})")
        series[int(row["period"])] = MappingProxyType({"female": female, "male": male, "total": total})
    return MappingProxyType(series)


def national_count(codes: Mapping[str, str]) -> int | None:
    """The national arrivals of the year (and sex) of a cell of ``arrivals_kr``, or None when MOU has no such
    figure (a year it has not reported, or a sex it does not count, such as "unknown")."""
    year = codes.get("arrival_year")
    if year is None or not year.isdigit():
        return None
    row = national_arrivals().get(int(year))
    if row is None:
        return None
    sex = codes.get("sex")
    if sex is None:
        return row["total"]
    column = SEX_COLUMNS.get(sex)
    return row[column] if column else None
