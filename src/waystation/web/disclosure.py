"""A deliberately small, safe view of numbers for the analyst's dashboard until the figures work lands.

Counts from 1 to 9 are never shown, shown counts are rounded to 5, and no total is shown beside a suppressed
cell, so no hidden count can be recovered by subtraction.
"""

from __future__ import annotations

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from waystation.cases.choices import ENDED_STATUSES, ConsentScope, Sex
from waystation.cases.models import Person
from waystation.cases.selectors import consenting

THRESHOLD = 10
ROUND_TO = 5


def shown(n: int) -> str | None:
    if 0 < n < THRESHOLD:
        return None
    return str(ROUND_TO * round(n / ROUND_TO))


def suppressed_counts() -> list[dict[str, object]]:
    """People in care now, by sex, among those who consented to anonymous statistics."""
    in_care = consenting(Person.objects.exclude(status__in=ENDED_STATUSES), ConsentScope.STATISTICS)
    rows = dict(in_care.values_list("sex").annotate(n=Count("id")))
    cells: list[dict[str, object]] = [
        {"label": label, "value": shown(rows.get(code, 0))} for code, label in Sex.choices
    ]
    if any(c["value"] is None for c in cells):
        return cells
    return [*cells, {"label": _("All"), "value": shown(sum(rows.values()))}]
