"""Conflicts: reading them for the coordinator's pages, and resolving one (a local write of the chosen value, which
travels like any edit and settles the conflict at every installation that receives it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.models import Partner, Person
from waystation.lib.errors import ServiceError
from waystation.network.models import Station
from waystation.sync.changes import log, merge
from waystation.sync.changes.models import Conflict
from waystation.sync.changes.registry import BY_LABEL, local_value, sealed_of
from waystation.vault.fields import SensitiveBinaryField
from waystation.vault.keyring import acting
from waystation.vault.reveal import reveal


def open_conflicts(conflicts: QuerySet[Conflict]) -> QuerySet[Conflict]:
    """Those of ``conflicts`` (``access.conflicts_for``) still waiting for a choice."""
    return conflicts.filter(resolved_at__isnull=True)


def recently_resolved(conflicts: QuerySet[Conflict], limit: int = 20) -> QuerySet[Conflict]:
    return conflicts.filter(resolved_at__isnull=False).order_by("-resolved_at")[:limit]


@dataclass(frozen=True)
class Choice:
    hlc: str
    shown: object
    winner: bool


def _case_codes(conflicts: list[Conflict]) -> dict[uuid.UUID, str]:
    ids = {c.case_id for c in conflicts if c.case_id}
    return dict(Person.objects.filter(pk__in=ids).values_list("pk", "case_code"))


def describe(conflicts: list[Conflict]) -> list[Conflict]:
    """Each conflict with ``record_name``, ``field_name`` and ``case_code`` set for a page."""
    codes = _case_codes(conflicts)
    for c in conflicts:
        spec = BY_LABEL[c.model]
        c.record_name = spec.model._meta.verbose_name  # type: ignore[attr-defined]
        c.field_name = spec.field(c.field).verbose_name  # type: ignore[attr-defined]
        c.case_code = codes.get(c.case_id) if c.case_id else None  # type: ignore[attr-defined]
    return conflicts


def _shown_coded(field: models.Field, value: Any) -> object:
    if value in (None, "", []):
        return "—"
    if isinstance(field, models.ForeignKey):
        target = field.related_model
        if target is Station:
            return Station.objects.filter(uid=value).values_list("code_name", flat=True).first() or "?"
        if target is Person:
            return Person.objects.filter(pk=value).values_list("case_code", flat=True).first() or "?"
        if target is Partner:
            return value
    labels = dict(field.flatchoices) if field.choices else {}
    if isinstance(value, list):
        return ", ".join(str(labels.get(v, v)) for v in value)
    return labels.get(value, value)


def choices_for(*, user: User, conflict: Conflict) -> list[Choice]:
    """The values side by side, newest clock first (the one shown until resolved is marked); sensitive values
    through the vault's reveal gate (audited, the user's own keys)."""
    spec = BY_LABEL[conflict.model]
    field = spec.field(conflict.field)
    versions = [merge.Version.from_list(v) for v in conflict.versions]
    top = merge.winner(versions).hlc if versions else ""
    if not spec.sensitive(conflict.field):
        return [Choice(v.hlc, _shown_coded(field, v.value), v.hlc == top) for v in versions]
    if isinstance(field, SensitiveBinaryField):
        return [Choice(v.hlc, _("a photo") if v.value else "—", v.hlc == top) for v in versions]
    holders = []
    for v in versions:
        holder = spec.model(**{spec.gid_field: uuid.UUID(conflict.gid)})
        if spec.model is not Person:
            holder.person_id = conflict.case_id  # type: ignore[attr-defined]
        setattr(holder, field.attname, sealed_of(v.value) or "")
        holders.append((holder, [conflict.field]))
    revealed = reveal(user=user, items=holders, purpose="sync.conflict", case_id=conflict.case_id)
    return [
        Choice(v.hlc, (_("(locked)") if r.locked else r[conflict.field]) or "—", v.hlc == top)  # type: ignore[attr-defined]
        for v, r in zip(versions, revealed, strict=True)
    ]


def conflict_resolve(*, actor: User, conflict: Conflict, hlc: str) -> Conflict:
    """Keep the version written at clock ``hlc``: the record shows it here, and the choice, logged as an edit
    that has seen every version, settles the conflict wherever it arrives."""
    if conflict.resolved_at is not None:
        raise ServiceError(_("This conflict has already been resolved."))
    chosen = next((v for v in conflict.versions if v[2] == hlc), None)
    if chosen is None:
        raise ServiceError(_("Choose one of the values shown."), field="choice")
    spec = BY_LABEL[conflict.model]
    field = spec.field(conflict.field)
    value = chosen[3]
    with transaction.atomic(), acting(actor):
        instance = spec.model._default_manager.filter(**{spec.gid_field: uuid.UUID(conflict.gid)}).first()
        if instance is None:
            raise ServiceError(_("This record is not here any more."))
        if spec.sensitive(conflict.field):
            sealed = sealed_of(value)
            setattr(instance, field.attname, sealed if sealed is not None else (None if field.null else ""))
        else:
            setattr(instance, field.attname, local_value(spec, conflict.field, value))
        try:
            with transaction.atomic(), log.applying():  # logged just below, as the coordinator's choice
                instance.save(update_fields=[field.attname])
        except IntegrityError:  # e.g. a movement set aside as failed, chosen open while her other way is open
            raise ServiceError(
                _("This value breaks a rule of the records (one way at a time for a person): end the other first.")
            ) from None
        log.write_local(conflict.model, conflict.gid, conflict.case_id, {conflict.field: value}, settle="chosen")
        Conflict.objects.filter(pk=conflict.pk).update(resolved_by=actor)
        audit_record(
            actor=actor,
            action="sync.conflict_resolved",
            case_id=conflict.case_id,
            details={"conflict": conflict.pk, "record": conflict.model, "field": conflict.field},
        )
    conflict.refresh_from_db()
    return conflict
