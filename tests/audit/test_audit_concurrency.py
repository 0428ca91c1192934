"""Concurrent writers get gap-free sequence numbers in insertion order, and the chain stays whole."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from waystation.audit.models import AuditEvent
from waystation.audit.services import audit_record
from waystation.audit.verify import verify_log

only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers itself (transaction_mode IMMEDIATE): only PostgreSQL has concurrent writers",
)

WRITERS = 4
EVENTS = 40


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_gap_free_sequence_numbers() -> None:
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(EVENTS):
                with transaction.atomic():  # as a service would: the event inside a longer transaction
                    audit_record(actor=None, action=f"writer.{n}", details={"i": i})
                    if i % 7 == 0:
                        audit_record(actor=None, action=f"writer.{n}.second", details={"i": i})
        except BaseException as exc:  # noqa: BLE001 (reported to the main thread)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    expected = WRITERS * (EVENTS + len(range(0, EVENTS, 7)))
    rows = list(AuditEvent.objects.order_by("id").values_list("seq", flat=True))
    assert rows == list(range(1, expected + 1))
    assert len(set(AuditEvent.objects.values_list("action", flat=True))) == 2 * WRITERS
    report = verify_log()
    assert report.ok, report.broken


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_leaves_no_gap() -> None:
    audit_record(actor=None, action="first")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="rolled.back")
        raise RuntimeError
    audit_record(actor=None, action="second")
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "action")) == [(1, "first"), (2, "second")]
    assert verify_log().ok
