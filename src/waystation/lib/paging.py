"""A pager that counts only as far as it needs to.

Counting every row a list selects costs as much as the selection itself: at 100,000 persons a keeper's list (whose
rows were then chosen by each person's latest arrival, worked out a person) spent 0.8 s on PostgreSQL counting rows
nobody pages through, for a first page that took 10 ms. ``LookAheadPaginator`` counts at most ``AHEAD`` pages past
the page asked for: a list that selects more says "more than N" (``more``), the pages up to there can be opened,
and from the last of them the count looks further again, so that every row can still be reached.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

AHEAD = 20  # pages counted past the one asked for


def page_number(asked: Any) -> int:
    """The page asked for as a number, 1 for anything that is not a page number (0, negative, not a number)."""
    try:
        number = min(int(asked), 10**9)  # a page past any list, still a number the database takes in a LIMIT
    except (TypeError, ValueError):
        return 1
    return max(1, number)


class LookAheadPaginator(Paginator):
    def __init__(self, object_list: QuerySet[Any], per_page: int, *, asked: Any) -> None:
        super().__init__(object_list, per_page)
        self.rows = object_list
        self.asked = page_number(asked)  # give this to ``get_page``: "-3" is page 1 here, not the last page
        self.limit = (self.asked + AHEAD - 1) * per_page

    @cached_property
    def count(self) -> int:
        """The rows, counted no further than ``limit`` + 1: their ids only, in no order (a count needs neither the
        columns nor the annotations a page shows, and an order would sort every row first)."""
        return int(self.rows.order_by().values("pk")[: self.limit + 1].count())

    @property
    def more(self) -> bool:
        """Whether the list selects more rows than were counted: the page then says "more than"."""
        return self.count > self.limit

    @property
    def counted_pages(self) -> int:
        """The pages counted in full (what "page 3 of more than 22" names)."""
        return self.limit // self.per_page
