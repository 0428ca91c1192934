"""The months from leaving North Korea to first contact, banded in the database (``indicators._MonthsBand``:
on SQLite the months are computed once a person, in a subquery the bands read), at every band's edges, on both
databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.figures.indicators import MONTH_BANDS, UNKNOWN, _months_to_contact_band
from waystation.network.models import Station

CONTACT = dt.date(2024, 5, 1)
# each band's first and last month (the last band's end, 100,000 months, is no date), and contact before leaving
EDGES = sorted({edge for _code, low, high in MONTH_BANDS for edge in (low, high) if edge < 1000} | {-1, -13, 600})


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def _band(months: int | None) -> str:
    if months is None or months < 0:
        return UNKNOWN
    return next(code for code, low, high in MONTH_BANDS if low <= months <= high)


def test_every_band_edge_and_a_missing_month_fall_in_the_right_band(
    coordinator: User, station_a: Station, registered: Callable[..., Person]
) -> None:
    expected: dict[Any, str] = {}
    for months in [*EDGES, None]:
        person = registered(coordinator, station_a)
        left = None if months is None else _months_before(CONTACT, months)
        Person.objects.filter(pk=person.pk).update(left_nk_month=left, first_contact_month=CONTACT)
        expected[person.pk] = _band(months)
    no_contact = registered(coordinator, station_a)
    Person.objects.filter(pk=no_contact.pk).update(first_contact_month=None)
    expected[no_contact.pk] = UNKNOWN

    found = dict(
        Person.objects.filter(pk__in=expected).annotate(band=_months_to_contact_band()).values_list("pk", "band")
    )

    assert found == expected
    assert {"0-6", "7-12", "13-36", "37-120", "121+", UNKNOWN} <= set(found.values())
