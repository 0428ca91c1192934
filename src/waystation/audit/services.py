"""Writing audit events. Every service calls ``audit_record`` inside its own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent

_ALLOWED_DETAIL_TYPES = (str, int, bool, type(None))


def _check_details(details: dict[str, Any]) -> None:
    # Details are coded values: short strings (codes, field names, ids), numbers, booleans, or lists of those.
    for key, value in details.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, _ALLOWED_DETAIL_TYPES) or (isinstance(item, str) and len(item) > 64):
                raise ValueError(f"audit detail {key!r} must be a short code, not free text")


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
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_role=getattr(actor, "role", "") or "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        case_id=case_id,
        purpose=purpose,
        details=details,
    )
