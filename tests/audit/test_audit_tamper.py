"""Change, remove, reorder or cut the audit log with raw SQL (triggers dropped, as with a seized database file):
``waystation audit verify`` exits non-zero and names the first broken link."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import row, run_audit, tamper

from waystation.audit import chain
from waystation.audit.models import AuditEvent

COLUMNS = ("seq", "at", "actor_id", "actor_role", "action", "target_type", "target_id", "case_id", "purpose",
           "details", "leaf_hash", "chain_hash")  # fmt: skip


@pytest.fixture
def log(write_events: Callable[..., list[AuditEvent]]) -> list[AuditEvent]:
    events = write_events(8)
    assert run_audit("verify").code == 0
    return events


def broken() -> dict[str, object]:
    result = run_audit("verify", "--json")
    assert result.code == 1, result
    return result.json()["broken"]


def test_intact_log_verifies(log: list[AuditEvent]) -> None:
    result = run_audit("verify")
    assert result.code == 0
    assert "chain verified up to #8" in result.out
    data = run_audit("verify", "--json").json()
    assert data["ok"] is True and data["size"] == 8 and data["verified_up_to"] == 8 and data["broken"] is None


def test_changed_details_are_named(log: list[AuditEvent]) -> None:
    tamper("UPDATE audit_auditevent SET details = %s WHERE seq = 3", [json.dumps({"i": 99, "field": "narrative"})])
    assert broken() == {"seq": 3, "problem": "changed", "message": "Event #3 was changed: its content no longer "
                        "matches its hash."}  # fmt: skip
    result = run_audit("verify")
    assert result.code == 1
    assert "Event #3 was changed" in result.err
    assert "holds up to event #2" in result.err


@pytest.mark.parametrize("column,value", [("action", "forged"), ("actor_role", "coordinator"), ("target_id", "7"),
                                          ("purpose", "other"), ("case_id", None)])  # fmt: skip
def test_every_covered_column_is_named(log: list[AuditEvent], column: str, value: object) -> None:
    if column == "case_id":
        tamper("UPDATE audit_auditevent SET case_id = %s WHERE seq = 5", ["00000000000000000000000000000001"])
    else:
        tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE seq = 5", [value])  # noqa: S608 (fixed names)
    assert broken()["seq"] == 5


def test_changed_time_is_named(log: list[AuditEvent]) -> None:
    event = AuditEvent.objects.get(seq=4)
    from django.db import connection  # raw SQL, with the backend's own encoding of a datetime

    stored = connection.ops.adapt_datetimefield_value(event.at.replace(microsecond=(event.at.microsecond + 1) % 10**6))
    tamper("UPDATE audit_auditevent SET at = %s WHERE seq = 4", [stored])
    assert broken() == {"seq": 4, "problem": "changed", "message": "Event #4 was changed: its content no longer "
                        "matches its hash."}  # fmt: skip


def test_rehashed_leaf_breaks_the_chain(log: list[AuditEvent]) -> None:
    """An attacker who recomputes the changed event's leaf hash is caught by the running chain hash."""
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 6")
    from waystation.audit.services import event_bytes

    forged = AuditEvent.objects.get(seq=6)
    tamper("UPDATE audit_auditevent SET leaf_hash = %s WHERE seq = 6", [chain.leaf_hash(event_bytes(forged)).hex()])
    assert broken()["seq"] == 6
    assert broken()["problem"] == "chain"


def test_deleted_event_is_named(log: list[AuditEvent]) -> None:
    tamper("DELETE FROM audit_auditevent WHERE seq = 4")
    assert broken() == {"seq": 4, "problem": "missing", "message": "Event #4 is missing (the next one is #5)."}


def test_deleted_first_event_is_named(log: list[AuditEvent]) -> None:
    tamper("DELETE FROM audit_auditevent WHERE seq = 1")
    assert broken()["seq"] == 1
    assert broken()["problem"] == "missing"


def _swap(a: int, b: int, columns: tuple[str, ...]) -> None:
    from django.db import connection

    first, second = row(a), row(b)
    ids = first["id"], second["id"]
    assignments = ", ".join(f"{c} = %s" for c in columns)
    sql = f"UPDATE audit_auditevent SET {assignments} WHERE id = %s"  # noqa: S608 (fixed column names)

    def values(r: dict[str, object]) -> list[object]:
        adapt = {"details": json.dumps, "at": connection.ops.adapt_datetimefield_value}
        return [adapt.get(c, lambda v: v)(r[c]) for c in columns]  # type: ignore[no-untyped-call]

    if "seq" in columns:  # seq is unique: park both out of the way first
        tamper("UPDATE audit_auditevent SET seq = seq + 1000000 WHERE id IN (%s, %s)", list(ids))
    tamper(sql, [*values(second), ids[0]])
    tamper(sql, [*values(first), ids[1]])


def test_swapped_rows_are_named(log: list[AuditEvent]) -> None:
    """Two whole events (hashes and all) swapped in the table: the log's insertion order betrays them."""
    _swap(3, 6, COLUMNS)
    assert broken() == {
        "seq": 3,
        "problem": "reordered",
        "message": f"Event #3 is out of order: in its place (row {log[2].pk}) stands event #6.",
    }


def test_swapped_contents_are_named(log: list[AuditEvent]) -> None:
    """Two events' contents swapped, their numbers and hashes left in place: the first is named as changed."""
    _swap(2, 7, tuple(c for c in COLUMNS if c not in ("seq", "leaf_hash", "chain_hash")))
    assert broken()["seq"] == 2
    assert broken()["problem"] == "changed"


def test_truncated_tail_without_checkpoint_is_a_shorter_log(log: list[AuditEvent]) -> None:
    """Without a checkpoint a cut tail is a consistent shorter log: that is what checkpoints are for."""
    tamper("DELETE FROM audit_auditevent WHERE seq > 6")
    data = run_audit("verify", "--json").json()
    assert data["ok"] and data["size"] == 6


# --- once through the real command line ------------------------------------------------------------------------------


def test_cli_names_the_first_broken_link(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"WAYSTATION_HOME": str(tmp_path), "WAYSTATION_DEV_HTTP": "1"}
    waystation = [sys.executable, "-m", "waystation.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*waystation, *args], env=env, capture_output=True, text=True, timeout=120)  # noqa: S603

    assert run("migrate", "-v0").returncode == 0
    code = "from waystation.audit.services import audit_record\nfor i in range(5): audit_record(actor=None, action='t')"
    assert run("shell", "-c", code).returncode == 0
    ok = run("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "5 events" in ok.stdout

    db = sqlite3.connect(tmp_path / "waystation.sqlite3")
    with pytest.raises(sqlite3.DatabaseError):  # the sqlite3 shell has no flush permit: refused
        db.execute("DELETE FROM audit_auditevent WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE audit_auditevent SET action = 'x' WHERE seq = 2")
    db.execute("DROP TRIGGER audit_auditevent_no_update")
    db.execute("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 2")
    db.commit()
    db.close()

    bad = run("audit", "verify")
    assert bad.returncode == 1
    assert "Event #2 was changed" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_no_checkpoint_is_signed_for_a_log_that_does_not_verify(log: list[AuditEvent]) -> None:
    from django.core.management.base import CommandError

    assert run_audit("checkpoint").code == 0
    tamper("UPDATE audit_auditevent SET details = %s WHERE seq = 3", [json.dumps({"i": 99})])
    with pytest.raises(CommandError, match="does not verify, so no checkpoint is signed: Event #3 was changed"):
        run_audit("checkpoint")
