"""Fixtures for the audit trail's tests; helpers are in ``audit_helpers``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.audit.services import audit_record


@pytest.fixture
def write_events(db: None) -> Callable[..., list[AuditEvent]]:
    def write(n: int, actor: User | None = None, action: str = "test.event") -> list[AuditEvent]:
        return [
            audit_record(actor=actor, action=action, purpose="test", details={"i": i, "field": "narrative"})
            for i in range(n)
        ]

    return write
