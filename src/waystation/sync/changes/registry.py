"""What is replicated: the models, their global id, the fields that travel, and how each field's value is written
in the change log (as stored: a sensitive value stays ciphertext) and in a payload (plaintext, which the transport
encrypts to the peer).

References travel as global ids: a person by ``Person.id``, a station by ``Station.uid``, a partner organisation by
its name (looked up on arrival; none when unknown there). Users do not travel: who recorded a row elsewhere is not
replicated, and a row created by a bundle is recorded locally as by the user who applied it (the audit trail names
the bundle's peer). Shreds travel as rows of the pseudo-model ``vault.shred`` keyed by the case id.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import models

from waystation.cases.models import CaseNote, Consent, ExploitationEpisode, Partner, Person, ServiceRecord
from waystation.network.models import Movement, Station
from waystation.vault import crypto
from waystation.vault.fields import Sealed, SensitiveBinaryField, is_sensitive

SHRED = "vault.shred"
SHRED_FIELD = "shredded"


@dataclass(frozen=True)
class Spec:
    model: type[models.Model]
    gid_field: str  # the global id: "id" for a person, "uid" otherwise
    fields: tuple[str, ...]
    # Kept from the origin, though Django sets them on creation (``auto_now_add``): written after the insert.
    kept_times: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def field(self, name: str) -> models.Field:
        found = self.model._meta.get_field(name)
        if not isinstance(found, models.Field):
            raise TypeError(f"{self.label}.{name} is not a field")
        return found

    def sensitive(self, name: str) -> bool:
        return is_sensitive(self.field(name))


_PERSON_FIELDS = (
    "case_code", "sex", "birth_year", "origin_province", "left_nk_month", "first_contact_month", "languages",
    "status", "closed_at", "merged_into",
    "name_hangul", "name_romanized", "name_chinese", "aliases", "date_of_birth", "contacts", "narrative", "photo",
)  # fmt: skip

SPECS: tuple[Spec, ...] = (
    Spec(Station, "uid", ("code_name", "country", "region", "kind", "capacity", "status", "status_changed_at")),
    Spec(Person, "id", _PERSON_FIELDS),
    Spec(
        ExploitationEpisode,
        "uid",
        (
            "person",
            "exploitation_type",
            "start_month",
            "end_month",
            "province_in_china",
            "was_sold",
            "perpetrator_roles",
            "control_methods",
            "recruitment_method",
            "trafficker_relation",
            "note",
            "recorded_at",
        ),
        kept_times=("recorded_at",),
    ),  # fmt: skip
    Spec(
        Movement,
        "uid",
        (
            "person",
            "from_station",
            "to_station",
            "status",
            "planned_at",
            "departed_at",
            "expected_arrival",
            "arrived_at",
            "ended_at",
            "note",
        ),
    ),  # fmt: skip
    Spec(
        ServiceRecord,
        "uid",
        ("person", "kind", "delivered_on", "quantity", "partner", "note", "recorded_at"),
        kept_times=("recorded_at",),
    ),  # fmt: skip
    Spec(CaseNote, "uid", ("person", "kind", "text", "created_at"), kept_times=("created_at",)),
    Spec(Consent, "uid", ("person", "scope", "partner", "given", "recorded_at"), kept_times=("recorded_at",)),
)
BY_LABEL = {spec.label: spec for spec in SPECS}
BY_MODEL = {spec.model: spec for spec in SPECS}
# Rows are made in this order, so that what a row refers to exists first.
ORDER = {spec.label: n for n, spec in enumerate(SPECS)}


def gid_of(spec: Spec, instance: models.Model) -> str:
    return str(getattr(instance, spec.gid_field))


def case_of(spec: Spec, instance: models.Model) -> uuid.UUID | None:
    if spec.model is Station:
        return None
    if spec.model is Person:
        return instance.pk
    return instance.person_id  # type: ignore[attr-defined]


# --- values as stored (the log and the state) ----------------------------------------------------------------------


def stored_value(spec: Spec, instance: models.Model, name: str) -> Any:
    """The field's value as the change log keeps it: JSON, ciphertext for a sensitive field."""
    field = spec.field(name)
    raw = getattr(instance, field.attname)
    if is_sensitive(field):
        if not isinstance(raw, Sealed):
            if raw not in ("", None):
                raise crypto.VaultError("A sensitive value was logged before it was encrypted.")
            return ""
        return crypto.TEXT_PREFIX + base64.b64encode(raw.blob).decode()
    if raw is None:
        return None
    if isinstance(field, models.ForeignKey):
        return _reference_out(field, raw)
    return _plain_out(raw)


def _plain_out(raw: Any) -> Any:
    if isinstance(raw, dt.datetime | dt.date):
        return raw.isoformat()
    if isinstance(raw, uuid.UUID):
        return str(raw)
    return raw


def _reference_out(field: models.ForeignKey, pk: Any) -> Any:
    target = field.related_model
    if target is Station:
        return str(Station.objects.filter(pk=pk).values_list("uid", flat=True).get())
    if target is Partner:
        return Partner.objects.filter(pk=pk).values_list("name", flat=True).get()
    return str(pk)


def sealed_of(stored: Any) -> Sealed | None:
    """A stored sensitive value back as the ciphertext it is (None when empty)."""
    if not stored:
        return None
    if not isinstance(stored, str) or not stored.startswith(crypto.TEXT_PREFIX):
        raise crypto.Tampered("A logged sensitive value is not a vault ciphertext.")
    return Sealed(base64.b64decode(stored[len(crypto.TEXT_PREFIX) :]))


def open_stored(spec: Spec, name: str, gid: str, case_id: uuid.UUID, stored: Any, keyring: Any) -> Any:
    """The plaintext of a stored sensitive value, for a payload (text; a photo as base64)."""
    from waystation.vault.keyring import KEY_VERSION

    sealed = sealed_of(stored)
    if sealed is None:
        return ""
    field = spec.field(name)
    ad = crypto.associated_data(table=spec.model._meta.db_table, column=field.column, row=gid, key_version=KEY_VERSION)
    plain = crypto.decrypt(keyring.case_key(case_id), sealed.blob, ad)
    return base64.b64encode(plain).decode() if isinstance(field, SensitiveBinaryField) else plain.decode()


def local_value(spec: Spec, name: str, value: Any) -> Any:
    """A payload's (coded, non-sensitive) value as this installation's model takes it; ``ValueError`` when it is
    not one. A reference to a row that is not here becomes None (a partner unknown here) or raises (a station)."""
    field = spec.field(name)
    if value is None:
        return None
    if isinstance(field, models.ForeignKey):
        target = field.related_model
        if target is Station:
            pk = Station.objects.filter(uid=uuid.UUID(str(value))).values_list("pk", flat=True).first()
            if pk is None:
                raise ValueError(f"unknown station {value}")
            return pk
        if target is Partner:
            return Partner.objects.filter(name=str(value)).values_list("pk", flat=True).first()
        return uuid.UUID(str(value))
    if isinstance(field, models.DateTimeField):
        parsed = dt.datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            raise ValueError("a time without its zone")
        return parsed
    if isinstance(field, models.DateField):
        return dt.date.fromisoformat(str(value))
    if isinstance(field, models.JSONField):
        if not isinstance(value, list | dict):
            raise ValueError("not a list")
        return value
    if isinstance(field, models.BooleanField):
        if not isinstance(value, bool):
            raise ValueError("not a yes/no value")
        return value
    if isinstance(field, models.IntegerField):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("not a whole number")
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    if field.choices and value not in {str(c[0]) for c in field.flatchoices}:
        raise ValueError(f"not one of the choices of {name}")
    if field.max_length and len(value) > field.max_length:
        raise ValueError("too long")
    return value


def plain_for_field(spec: Spec, name: str, value: Any) -> str | bytes:
    """A payload's plaintext for a sensitive field, as the field type takes it (a photo arrives as base64)."""
    if not isinstance(value, str):
        raise ValueError("not text")
    if isinstance(spec.field(name), SensitiveBinaryField):
        return base64.b64decode(value, validate=True) if value else b""
    return value
