"""The chain as written: gap-free sequence numbers, leaf and chain hashes, and the append-only guard."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from waystation.accounts.models import User
from waystation.audit import chain, guard
from waystation.audit.models import AppendOnlyError, AuditEvent
from waystation.audit.services import audit_record, event_bytes
from waystation.audit.verify import verify_log


def test_audit_record_keeps_its_signature() -> None:
    params = inspect.signature(audit_record).parameters
    assert list(params) == ["actor", "action", "target", "case_id", "purpose", "details"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


def test_events_are_chained_in_order(write_events: Callable[..., list[AuditEvent]], auditor: User) -> None:
    before = AuditEvent.objects.count()
    write_events(5, actor=auditor)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, before + 6))
    previous = chain.GENESIS
    for event in events:
        event.refresh_from_db()  # the stored values, as verification reads them
        leaf = chain.leaf_hash(event_bytes(event))
        assert event.leaf_hash == leaf.hex()
        previous = chain.chain_hash(previous, leaf)
        assert event.chain_hash == previous.hex()
    report = verify_log()
    assert report.ok, report.broken
    assert report.verified_up_to == report.size == len(events)
    assert report.root == chain.tree_head([bytes.fromhex(e.leaf_hash) for e in events])


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    import datetime as dt
    import uuid

    data = chain.canonical_event(
        seq=7,
        at=dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        actor_id=3,
        actor_role="auditor",
        action="reveal",
        target_type="cases.person",
        target_id="42",
        case_id=uuid.UUID(int=1),
        purpose="care",
        details={"b": ["x", 1], "a": "한"},
    )
    assert (
        data
        == (
            '{"action":"reveal","actor_id":3,"actor_role":"auditor","at":"2026-01-02T03:04:05.000006Z",'
            '"case_id":"00000000-0000-0000-0000-000000000001","details":{"a":"한","b":["x",1]},"purpose":"care",'
            '"seq":7,"target_id":"42","target_type":"cases.person"}'
        ).encode()
    )
    assert chain.leaf_hash(data) == __import__("hashlib").sha256(b"\x00" + data).digest()


def test_the_triggers_are_installed(db: None) -> None:
    assert guard.installed(connection)


def test_the_orm_cannot_change_or_remove_an_event(write_events: Callable[..., list[AuditEvent]]) -> None:
    (event,) = write_events(1)
    event.action = "forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(seq=999, action="x")])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'forged'",
        "UPDATE audit_auditevent SET details = '{}' WHERE seq = 1",
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditevent WHERE seq = 1",
    ],
)
def test_the_database_refuses_update_and_delete(write_events: Callable[..., list[AuditEvent]], sql: str) -> None:
    write_events(2)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.count() == 2
    assert verify_log().ok


def test_the_orm_bypassing_the_model_is_refused_by_the_database(
    write_events: Callable[..., list[AuditEvent]],
) -> None:
    """Even the plain QuerySet (as a careless migration or shell session would use) meets the trigger."""
    from django.db.models import QuerySet

    write_events(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        QuerySet(AuditEvent).update(action="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        QuerySet(AuditEvent).delete()
    assert AuditEvent.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's flush permit; PostgreSQL flushes by TRUNCATE")
def test_sqlite_flush_permit_is_only_open_during_flush(write_events: Callable[..., list[AuditEvent]]) -> None:
    write_events(1)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {guard.FLUSH_FUNCTION}()")
        assert cursor.fetchone()[0] == 0
        with guard.flushing():
            cursor.execute(f"SELECT {guard.FLUSH_FUNCTION}()")
            assert cursor.fetchone()[0] == 1
        cursor.execute(f"SELECT {guard.FLUSH_FUNCTION}()")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_flush_still_resets_the_database() -> None:
    """The test suite (and `waystation flush`) can still empty the database: DELETE under the SQLite permit,
    TRUNCATE on PostgreSQL (row triggers do not fire on TRUNCATE)."""
    for i in range(3):
        audit_record(actor=None, action="test.event", details={"i": i})
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    assert guard.installed(connection)
    event = audit_record(actor=None, action="test.event")
    assert event.seq == 1
    assert verify_log().ok
