"""The case list counts only a few pages ahead (``lib.paging``): a list that selects more says "more than", and
every case can still be reached page by page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from waystation.accounts.models import User
from waystation.network.models import Station

NEXT = re.compile(r'href="\?([^"]*page=\d+)">Next</a>')
CODE = re.compile(r'href="/cases/([A-Z0-9]{4}-[A-Z0-9]{4})/"')


@pytest.fixture
def seven(keeper_a: User, station_a: Station, registered: Any) -> list[str]:
    return [registered(keeper_a, station_a, name_romanized=f"Gasang {i} (fictional)").case_code for i in range(7)]


def test_a_long_list_says_more_than_and_every_case_is_reached(
    seven: list[str], coordinator: User, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("waystation.cases.views.PAGE_SIZE", 2)
    monkeypatch.setattr("waystation.lib.paging.AHEAD", 2)  # counted: this page and the next
    client = client_for(coordinator)
    first = client.get("/cases/").content.decode()
    assert "More than 4 cases" in first and "Page 1 of more than 2" in first
    assert "7 cases" not in first

    seen, page, texts = set(CODE.findall(first)), first, [first]
    while (found := NEXT.search(page)) is not None:
        page = client.get(f"/cases/?{found.group(1).replace('&amp;', '&')}").content.decode()
        seen |= set(CODE.findall(page))
        texts.append(page)
    assert seen == set(seven)
    assert len(texts) == 4  # 7 cases, 2 a page
    assert "7 cases" in texts[-1] and "Page 4 of 4" in texts[-1]  # counted to the end from there
    assert "Page 2 of more than 3" in texts[1]


def test_a_short_list_counts_exactly(seven: list[str], coordinator: User, client_for: Any) -> None:
    page = client_for(coordinator).get("/cases/").content.decode()
    assert "7 cases" in page and "More than" not in page and "Page 1 of" not in page  # one page: no pager


def test_the_list_shows_names_and_reads_no_other_sealed_field(
    seven: list[str], coordinator: User, client_for: Any
) -> None:
    """The narrative, contacts, aliases and date of birth of 50 rows stay in the database: no query of the list
    reads them, and none is made for a row (leaving them out must not make each row fetch them after)."""
    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/cases/").content.decode()
    assert "Gasang 3 (fictional)" in page
    persons = [q["sql"] for q in queries if 'FROM "cases_person"' in q["sql"].split("WHERE")[0]]
    assert persons, "the list reads the persons"
    for column in ("narrative", "contacts", "aliases", "date_of_birth", "name_chinese"):  # the photo: only IS NULL
        assert not [sql for sql in persons if f'"cases_person"."{column}"' in sql], column
    assert len(persons) == 2  # the count and the page, whatever the number of rows


@pytest.mark.parametrize(
    ("asked", "first"), [("99999999999999999999999", False), ("-3", True), ("0", True), ("2.5", True), ("", True)]
)
def test_odd_page_numbers_answer_a_page(
    seven: list[str], coordinator: User, client_for: Any, monkeypatch: pytest.MonkeyPatch, asked: str, first: bool
) -> None:
    """A page number below 1 or not a number is the first page; one past the end, the last page counted."""
    monkeypatch.setattr("waystation.cases.views.PAGE_SIZE", 2)
    monkeypatch.setattr("waystation.lib.paging.AHEAD", 2)
    response = client_for(coordinator).get("/cases/", {"page": asked})
    assert response.status_code == 200
    text = response.content.decode()
    assert len(CODE.findall(text)) == (2 if first else 1)
    assert ("Page 1 of more than 2" in text) == first
