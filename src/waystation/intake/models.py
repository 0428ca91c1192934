"""What an import leaves behind: the run (never the file), which source rows became which person, saved mappings.

* ``ImportRun``: who imported what and when, described by the file's name and SHA-256 digest, its format and
  encoding, the column mapping used and the counts. The file's content is never stored (only its digest, which
  tells "the same file again" without keeping a name from it).
* ``ImportedRecord``: one per person an import created, keyed by the register (``source_key``) and the row's
  external id. This is what makes re-importing a file create nobody twice. The external id is stored only as a
  keyed digest (HMAC under the organisation's blind-index key, as ``vault.blind`` stores names): an id made from a
  row's names and birth year (``interop.rows``) would otherwise be a plain hash of a name that anyone holding the
  database could test guesses against.
* ``SavedMapping``: a ``columns.Mapping`` as JSON, named, so that next month's file from the same station is mapped
  in one click. It holds column headers and field names, never a cell.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportStatus(models.TextChoices):
    IMPORTED = "imported", _("imported")
    NOTHING_NEW = "nothing_new", _("nothing new")


class ImportRun(models.Model):
    """A finished import (a refused or interrupted import writes nothing at all, this row included)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))
    source_name = models.CharField(_("file name"), max_length=255)
    source_key = models.CharField(_("register"), max_length=200)
    digest = models.CharField(_("SHA-256 of the file"), max_length=64, db_index=True)
    format = models.CharField(_("format"), max_length=8)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    mapping = models.JSONField(_("column mapping"))
    rows = models.PositiveIntegerField(_("rows read"))
    created = models.PositiveIntegerField(_("persons created"))
    already_imported = models.PositiveIntegerField(_("rows already imported"))
    warnings = models.PositiveIntegerField(_("warnings"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices)
    audit_event = models.ForeignKey(
        "audit.AuditEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("import")

    def __str__(self) -> str:
        return f"import {self.pk}"  # never the file's name: str() ends up in logs


class ImportedRecord(models.Model):
    """Source row -> person. ``external_key`` is HMAC(index key, source key, external id): see the module's doc."""

    source_key = models.CharField(max_length=200)
    external_key = models.CharField(max_length=64)
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="records")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_key", "external_key"], name="imported_record_once"),
        ]


class SavedMapping(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    mapping = models.TextField(_("column mapping"))  # columns.Mapping.to_json()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved column mapping")

    def __str__(self) -> str:
        return self.name
