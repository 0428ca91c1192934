"""Helpers for the audit trail's tests (imported by name: pytest puts this folder on sys.path): tampering
with the table behind the triggers' back, and running ``waystation audit`` in-process with its exit status."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.db import connection

from waystation.audit import guard
from waystation.audit.models import AuditEvent


@contextmanager
def guard_lifted() -> Iterator[Any]:
    """Drop the append-only triggers for raw SQL tampering, as an attacker with the database file would; restore
    them afterwards."""
    with connection.cursor() as cursor:
        for sql in guard.drop_statements(connection.vendor):
            cursor.execute(sql)
        try:
            yield cursor
        finally:
            for sql in guard.install_statements(connection.vendor):
                cursor.execute(sql)


def tamper(sql: str, params: list[Any] | None = None) -> None:
    with guard_lifted() as cursor:
        cursor.execute(sql, params or [])


def row(seq: int) -> dict[str, Any]:
    return AuditEvent.objects.filter(seq=seq).values().get()


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_audit(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("audit", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return Run(code, out.getvalue(), err.getvalue())
