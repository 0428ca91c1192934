"""Helpers the tests share to prove that a refused action changed nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def two_writers_at_once(first: Callable[[], None], second: Callable[[], None], *, wait: float = 0.5) -> None:
    """Run ``first`` in a transaction of its own that stays open while ``second`` runs in another (which cannot
    see the first's writes) and, ``wait`` seconds later, lets the first commit; then wait for both. For PostgreSQL
    tests of concurrent writers (SQLite has one writer at a time). An error in either is raised here."""
    import threading
    import time

    from django.db import connections, transaction

    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run(write: Callable[[], None], *, hold: bool) -> None:
        try:
            if not hold:
                inside.wait(10)
            with transaction.atomic():
                write()
                if hold:
                    inside.set()
                    release.wait(10)
        except BaseException as exc:  # noqa: BLE001 (raised in the calling thread)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(first,), kwargs={"hold": True}),
               threading.Thread(target=run, args=(second,), kwargs={"hold": False})]  # fmt: skip
    for thread in threads:
        thread.start()
    inside.wait(10)
    time.sleep(wait)  # the second's write reaches the row the first holds locked
    release.set()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
