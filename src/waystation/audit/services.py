"""Writing audit events. Every service calls ``audit_record`` inside its own transaction.

Each event gets the next gap-free sequence number and its place in the hash chain in the same INSERT: on PostgreSQL
under a transaction-scoped advisory lock (held until the surrounding transaction commits, so sequence numbers are
handed out, and committed, in order); on SQLite the write transaction itself is exclusive (``transaction_mode``
IMMEDIATE in the settings).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit import chain
from waystation.audit.models import AuditEvent

_ALLOWED_DETAIL_TYPES = (str, int, bool, type(None))

# pg_advisory_xact_lock key: "WAYSTATION AUDIT" folded into a signed 64-bit integer, constant for all installations.
ADVISORY_LOCK_KEY = int.from_bytes(b"wsAudit1", "big", signed=True)


def _check_details(details: dict[str, Any]) -> None:
    # Details are coded values: short strings (codes, field names, ids), numbers, booleans, or lists of those.
    for key, value in details.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, _ALLOWED_DETAIL_TYPES) or (isinstance(item, str) and len(item) > 64):
                raise ValueError(f"audit detail {key!r} must be a short code, not free text")


# The lock, then the last event, sent together (one round trip, two statements): the second runs once the first holds
# the lock, with a snapshot of its own (READ COMMITTED takes one a statement), so it sees every event committed
# before. The key is a constant of this module, written into the text.
LOCK_AND_LAST = (
    f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY}); "  # noqa: S608 - a constant, no input
    "SELECT seq, chain_hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1"
)


def _lock_log_and_read_last() -> tuple[int, str] | None:
    """Hold the log's write lock until the transaction ends, and read its last event (seq, chain hash)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(LOCK_AND_LAST)
            cursor.nextset()
            row = cursor.fetchone()
        return (int(row[0]), str(row[1])) if row else None
    # SQLite: the surrounding transaction began IMMEDIATE and holds the database's only write lock.
    return AuditEvent.objects.order_by("-seq").values_list("seq", "chain_hash").first()


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    case_id: uuid.UUID | None = None,
    purpose: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    details = details or {}
    _check_details(details)
    actor_obj = actor if actor is not None and actor.pk else None
    with transaction.atomic():
        last = _lock_log_and_read_last()
        seq, previous = (last[0] + 1, bytes.fromhex(last[1])) if last else (1, chain.GENESIS)
        event = AuditEvent(
            seq=seq,
            at=timezone.now(),
            actor=actor_obj,
            actor_role=getattr(actor, "role", "") or "",
            action=action,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None else "",
            case_id=case_id,
            purpose=purpose,
            details=details,
        )
        leaf = chain.leaf_hash(event_bytes(event))
        event.leaf_hash = leaf.hex()
        event.chain_hash = chain.chain_hash(previous, leaf).hex()
        event.save(force_insert=True)
    return event


def event_bytes(event: AuditEvent) -> bytes:
    """The canonical bytes of a stored (or about to be stored) event."""
    return chain.canonical_event(
        seq=event.seq,
        at=event.at,
        actor_id=event.actor_id,
        actor_role=event.actor_role,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        case_id=event.case_id,
        purpose=event.purpose,
        details=event.details,
    )
