"""The single gate through which sensitive values leave storage for display.

Every call writes one ``reveal`` audit event naming the records and the fields (never their content) *before*
anything is decrypted; if the event cannot be written, nothing is decrypted or returned. Decryption uses the
user's own keys from the key agent (``vault.keyring``); without them it raises ``vault.crypto.Locked``, and a
changed or moved ciphertext raises ``Tampered``: never text. Views show what this returns, never the model
attributes themselves (those stay sealed).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.apps import apps
from django.db import models

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.vault.crypto import Locked
from waystation.vault.fields import is_sensitive, open_value
from waystation.vault.keyring import keyring_for


class Revealed(dict[str, object]):
    """One record's revealed values. Its repr names the fields, never the values: Django logs a template's failed
    lookup (``{% if x.revealed.locked %}``, a field the role does not get) at DEBUG with the repr of the object it
    looked in, and a traceback quotes reprs too; neither may carry a name or a note into a log."""

    locked = False

    def __repr__(self) -> str:
        return f"<Revealed {sorted(self)}>"


class LockedValues(Revealed):
    """What a reveal gives for a record whose key this user does not hold (yet): empty values, ``locked`` set, so
    that a page can say so. (Holding no key is normal for a moment after a move or an assignment, until a holder
    of the key signs in; a changed ciphertext is not this: it raises ``Tampered``.)"""

    locked = True

    @classmethod
    def of(cls, fields: Sequence[str]) -> LockedValues:
        return cls(dict.fromkeys(fields, ""))


def sensitive_fields() -> dict[str, list[str]]:
    """Every sensitive column of every model, as ``{"app.model": [field, ...]}``."""
    found: dict[str, list[str]] = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.get_fields() if is_sensitive(f)]
        if names:
            found[model._meta.label_lower] = names
    return found


def _check(obj: models.Model, fields: Sequence[str]) -> None:
    meta_fields = {f.name: f for f in obj._meta.get_fields()}
    for name in fields:
        if name not in meta_fields or not is_sensitive(meta_fields[name]):
            raise ValueError(f"{obj._meta.label_lower}.{name} is not a sensitive field")


def reveal(
    *,
    user: User,
    items: Sequence[tuple[models.Model, Sequence[str]]],
    purpose: str,
    case_id: uuid.UUID | None = None,
) -> list[dict[str, object]]:
    """Reveal ``fields`` of each object, for ``user`` and ``purpose``; one audit event for the lot."""
    items = [(obj, list(fields)) for obj, fields in items if fields]
    if not items:
        return []
    for obj, fields in items:
        _check(obj, fields)
    targets = [f"{obj._meta.label_lower}:{obj.pk}" for obj, _fields in items]
    field_names = sorted({f"{obj._meta.model_name}.{name}" for obj, fields in items for name in fields})
    # ``audit_record`` writes in a transaction of its own (a savepoint inside the caller's): no second one around it,
    # whose savepoint cost the case page two more round trips to the database.
    audit_record(
        actor=user,
        action="reveal",
        case_id=case_id,
        purpose=purpose,
        details={"targets": targets, "fields": field_names},
    )
    keyring = keyring_for(user)
    keyring.prefetch(list({obj.vault_case_id for obj, _fields in items}))  # type: ignore[attr-defined]
    revealed: list[dict[str, object]] = []
    for obj, fields in items:
        try:
            revealed.append(Revealed({name: open_value(keyring, obj, name) for name in fields}))
        except Locked:
            revealed.append(LockedValues.of(fields))
    return revealed


def reveal_onto(
    *, user: User, items: Sequence[tuple[models.Model, Sequence[str]]], purpose: str, case_id: uuid.UUID | None = None
) -> None:
    """Reveal, and attach each object's values to it as ``obj.revealed`` for the template."""
    values = iter(reveal(user=user, items=items, purpose=purpose, case_id=case_id))
    for obj, fields in items:
        obj.revealed = next(values) if fields else {}  # type: ignore[attr-defined]
