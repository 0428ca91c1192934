"""Two local writes at once on PostgreSQL get two write numbers, committed in order: a write number (with the
origin, a "dot") names one write to every peer, and a peer that has seen a dot takes every write under it as seen,
so a number given twice hides the second write from every peer for good."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.db import connection

from waystation.sync.changes.log import installation, write_local
from waystation.sync.changes.models import Change
from waystation.testing.db import two_writers_at_once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time")
def test_two_writers_at_once_get_two_write_numbers_in_order(transactional_db: None) -> None:
    origin = installation().origin

    def note(kind: str) -> Callable[[], None]:
        return lambda: write_local("cases.note", str(uuid.uuid4()), None, {"kind": kind})

    two_writers_at_once(note("first"), note("second"))
    logged = Change.objects.filter(origin=origin).order_by("origin_seq").values_list("origin_seq", "fields")
    assert list(logged) == [(1, {"kind": "first"}), (2, {"kind": "second"})]
    assert installation().last_seq == 2
