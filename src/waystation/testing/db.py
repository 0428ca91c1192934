"""Helpers the tests share to prove that a refused action changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps


def row_counts() -> dict[str, int]:
    """Row counts of every table of the project, audit events included."""
    models = [m for m in apps.get_models() if m.__module__.startswith("waystation.")]
    return {m._meta.label: m._default_manager.count() for m in models}


@contextmanager
def audit_unavailable(monkeypatch: Any) -> Iterator[None]:
    """While inside, writing an audit event fails, as it would with the audit table out of reach."""
    from waystation.audit.models import AuditEvent

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(AuditEvent, "save", fail)
    try:
        yield
    finally:
        monkeypatch.undo()


@contextmanager
def database_down() -> Iterator[None]:
    """While inside, every query of this thread fails as on a database that stopped (OperationalError)."""
    from unittest import mock

    from django.db import connection
    from django.db.utils import OperationalError

    refused = OperationalError("connection to server at 127.0.0.1 failed: Connection refused (fictional outage)")
    with mock.patch.object(connection, "cursor", side_effect=refused):
        yield
