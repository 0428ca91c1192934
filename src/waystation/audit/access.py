from __future__ import annotations

from waystation.accounts.models import Role, User


def can_read_audit(user: User) -> bool:
    """The audit trail is the auditor's: ids and actions, never personal content."""
    return user.is_active and user.role == Role.AUDITOR
