"""Field types that mark a column as sensitive, and encrypt it.

This is the one place that says which data is sensitive: every model field holding a name, alias, exact date,
contact, narrative, note or photo uses one of these types. On save, a value is encrypted with its case's data key
(AES-256-GCM, associated data binding table, column, row and key version; see ``vault.crypto``) from the current
keyring (``vault.keyring.acting``); loaded from the database it stays a :class:`Sealed` value, whose text is
never the plaintext. Reading for display goes through ``vault.reveal``, which audits first and then decrypts.

There is no switch that stores plaintext: a plain value that reaches the database unencrypted raises.
An empty value is stored empty (whether a field is filled is visible; its content and length are not).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from django.db import models

from waystation.vault import crypto


class Sealed:
    """A stored ciphertext as loaded: opaque. Shown anywhere by mistake, it reads as a mask, never as data."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = bytes(blob)

    def __str__(self) -> str:
        return "••••••"

    def __repr__(self) -> str:
        return "<Sealed>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sealed) and other.blob == self.blob

    def __hash__(self) -> int:
        return hash(self.blob)


class CaseRecord(models.Model):
    """A row that belongs to one case (``person``) and may hold sensitive fields: ``uid`` names the row in the
    associated data before the database has given it a primary key, and the row across installations (sync)."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True

    @property
    def vault_case_id(self) -> uuid.UUID:
        return self.person_id  # type: ignore[attr-defined]


def _row_id(instance: models.Model) -> str:
    return str(getattr(instance, "uid", None) or instance.pk)


def _associated_data(instance: models.Model, field: models.Field) -> bytes:
    from waystation.vault.keyring import KEY_VERSION

    return crypto.associated_data(
        table=instance._meta.db_table, column=field.column, row=_row_id(instance), key_version=KEY_VERSION
    )


def seal_value(instance: models.Model, field: models.Field, plaintext: bytes, *, add: bool) -> Sealed:
    from waystation.vault.keyring import current

    case_id = instance.vault_case_id  # type: ignore[attr-defined]
    creating = add and getattr(instance, "vault_case_root", False)
    key = current().key_for_write(case_id, creating=creating)
    return Sealed(crypto.encrypt(key, plaintext, _associated_data(instance, field)))


def open_value(keyring: Any, instance: models.Model, name: str) -> str | bytes:
    """The plaintext of ``instance.name`` with ``keyring`` (``Locked``/``Tampered`` when it cannot be had)."""
    field = instance._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise ValueError(f"{name} is not a field of {instance._meta.label_lower}")
    value = getattr(instance, field.attname)
    if not isinstance(value, Sealed):
        if value in ("", None):
            return value
        raise crypto.Tampered("A sensitive field holds a value that is not sealed.")
    key = keyring.case_key(instance.vault_case_id)  # type: ignore[attr-defined]
    plain = crypto.decrypt(key, value.blob, _associated_data(instance, field))
    return plain if isinstance(field, SensitiveBinaryField) else plain.decode()


class _SensitiveMixin:
    sensitive = True
    attname: str

    def _to_blob(self, value: Any) -> bytes:
        raise NotImplementedError

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, Sealed) or value in ("", None):
            return value
        sealed = seal_value(model_instance, self, self._to_blob(value), add=add)  # type: ignore[arg-type]
        setattr(model_instance, self.attname, sealed)  # the plaintext does not linger on the instance
        return sealed


class SensitiveTextField(_SensitiveMixin, models.TextField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def _to_blob(self, value: Any) -> bytes:
        return str(value).encode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return ""
        return _text_to_sealed(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return crypto.TEXT_PREFIX + base64.b64encode(value.blob).decode()
        if value in ("", None):
            return value
        raise crypto.VaultError("A sensitive value reached the database without being encrypted.")

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return str(self.get_prep_value(value) or "")

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(crypto.TEXT_PREFIX):
            return _text_to_sealed(value)  # a stored token (a backup being restored), not typed text
        return super().to_python(value)


def _text_to_sealed(value: str) -> Sealed:
    if not value.startswith(crypto.TEXT_PREFIX):
        raise crypto.Tampered("A sensitive column holds a value that is not a vault ciphertext.")
    try:
        return Sealed(base64.b64decode(value[len(crypto.TEXT_PREFIX) :], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise crypto.Tampered("A sensitive column holds a damaged ciphertext.") from exc


class SensitiveBinaryField(_SensitiveMixin, models.BinaryField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)

    def _to_blob(self, value: Any) -> bytes:
        return bytes(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or len(value) == 0:
            return None
        return Sealed(bytes(value))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return value.blob
        if value is None:
            return None
        raise crypto.VaultError("A sensitive value reached the database without being encrypted.")

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return base64.b64encode(value.blob).decode() if isinstance(value, Sealed) else ""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            return Sealed(base64.b64decode(value.encode("ascii")))  # a backup being restored
        return value


def is_sensitive(field: Any) -> bool:
    return bool(getattr(field, "sensitive", False))
