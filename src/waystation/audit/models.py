from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from waystation.lib.writeonce import WriteOnceError, WriteOnceModel, WriteOnceQuerySet


class AppendOnlyError(WriteOnceError):
    """Audit events are written once and never changed or removed (the database refuses it too)."""


class AuditEventQuerySet(WriteOnceQuerySet):
    def bulk_create(self, *args: Any, **kwargs: Any) -> list[AuditEvent]:
        raise AppendOnlyError("audit events are written one at a time through audit_record")


class AuditEvent(WriteOnceModel):
    """One thing someone did. Ids, never personal content: the auditor sees who did what to which case id.

    Rows form a hash chain (see ``waystation.audit.chain``): ``seq`` is gap-free in insertion order, ``leaf_hash`` is
    SHA-256(0x00 || canonical bytes of the event), ``chain_hash`` is SHA-256(previous chain hash || leaf hash). The
    database refuses UPDATE and DELETE on this table (triggers, migration 0002).
    """

    seq = models.PositiveBigIntegerField(_("sequence number"), unique=True, editable=False)
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    case_id = models.UUIDField(null=True, blank=True, db_index=True)
    purpose = models.CharField(_("purpose"), max_length=60, blank=True)
    # Coded facts only (field names, status codes, ids); services never put free text here.
    details = models.JSONField(default=dict, blank=True)
    leaf_hash = models.CharField(max_length=64, editable=False)
    chain_hash = models.CharField(max_length=64, editable=False)

    refusal = AppendOnlyError
    write_once_what = "audit events are append-only"
    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_type}:{self.target_id}"
