"""Arrivals in South Korea per year, beside the Ministry of Unification's national series shipped with the package."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.selectors import consenting
from waystation.figures.indicators import BY_NAME
from waystation.figures.reference import national_arrivals, national_count
from waystation.figures.releases import release_create
from waystation.network.models import Country, MovementStatus

pytestmark = pytest.mark.django_db

SHARED_SERIES = Path(__file__).resolve().parents[3] / "shared" / "data" / "nk_defectors"


@pytest.fixture
def population(synthetic: Callable[[int, int], SimpleNamespace]) -> SimpleNamespace:
    return synthetic(600, 45)


def first_arrival_years() -> Counter[tuple[str, str]]:
    """Counted the slow, obvious way: each consenting person's movements, the earliest arrival in South Korea."""
    years: Counter[tuple[str, str]] = Counter()
    for person in consenting(Person.objects.all(), ConsentScope.STATISTICS).prefetch_related("movements__to_station"):
        arrivals = [
            m.arrived_at
            for m in person.movements.all()
            if m.status == MovementStatus.ARRIVED and m.to_station.country == Country.SOUTH_KOREA
        ]
        if arrivals:
            years[(person.sex, str(min(arrivals).year))] += 1
    return years


def test_arrivals_per_year_and_sex_match_the_movements(population: SimpleNamespace) -> None:
    expected = first_arrival_years()
    assert sum(expected.values()) >= 20, "the synthetic population should have people who arrived"
    release = release_create(indicator=BY_NAME["arrivals_kr"], actor=None)
    raw = {tuple(sorted(cell["key"].items())): cell["raw"] for cell in release.cells}
    assert raw[()] == sum(expected.values())
    for (sex, year), n in expected.items():
        assert raw[(("arrival_year", year), ("sex", sex))] == n
        by_year = sum(m for (_s, y), m in expected.items() if y == year)
        assert raw[(("arrival_year", year),)] == by_year


def test_the_release_sets_each_year_beside_the_national_series(population: SimpleNamespace) -> None:
    out = io.StringIO()
    call_command("figures", "--json", stdout=out)
    item = next(r for r in json.loads(out.getvalue())["releases"] if r["indicator"] == "arrivals_kr")
    assert "Ministry of Unification" in item["reference_source"]
    years = [cell for cell in item["cells"] if set(cell["key"]) == {"arrival_year"}]
    assert years, "arrivals are broken down by year"
    for cell in years:
        year = int(cell["key"]["arrival_year"])
        assert cell["reference"] == (national_arrivals()[year]["total"] if year in national_arrivals() else None)
        assert cell["value"] is None or cell["value"] % 5 == 0  # the network's own count passed disclosure control
    women = [cell for cell in item["cells"] if cell["key"].get("sex") == "F" and "arrival_year" in cell["key"]]
    for cell in women:
        year = int(cell["key"]["arrival_year"])
        assert cell["reference"] == (national_arrivals()[year]["female"] if year in national_arrivals() else None)


def test_the_shipped_series_is_the_reference_data_and_adds_up() -> None:
    series = national_arrivals()
    assert series[2018] == {"female": 969, "male": 168, "total": 1137}  # the appeal's "969 women in 2018"
    assert national_count({"arrival_year": "2018", "sex": "F"}) == 969
    assert national_count({"arrival_year": "2018", "sex": "U"}) is None  # MOU does not count an unknown sex
    assert national_count({"arrival_year": "1990"}) is None  # inside MOU's "through 1998" bucket: no single year
    shipped = Path(__file__).resolve().parents[2] / "src/waystation/figures/data/nk_defector_arrivals_by_year_sex.csv"
    rows = list(csv.DictReader(shipped.read_text().splitlines()))
    cumulative = next(r for r in rows if r["period"].startswith("cumulative"))
    # Every row, the cumulative buckets included, sums to MOU's running total.
    assert sum(int(r["total"]) for r in rows if r is not cumulative) == int(cumulative["total"])
    if SHARED_SERIES.exists():  # the package ships the project's reference file unchanged
        assert shipped.read_bytes() == (SHARED_SERIES / shipped.name).read_bytes()


def test_the_printed_release_names_the_national_figures_and_their_source(population: SimpleNamespace) -> None:
    out = io.StringIO()
    call_command("figures", stdout=out)
    text = out.getvalue()
    section = text[text.index("(arrivals_kr)") :].split("\n\n")[0]
    assert "National figures: Ministry of Unification" in section
    years = [y for y in national_arrivals() if f"arrival_year={y} " in section]
    assert years, "the printed release has years the ministry reports"
    for year in years:
        line = next(line for line in section.splitlines() if f"arrival_year={year} " in line and "sex=" not in line)
        assert f"(nationally: {national_arrivals()[year]['total']:,})" in line
