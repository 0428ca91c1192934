"""What an import leaves behind: the run (never the file), which source rows became which person, saved mappings.

* ``ImportRun``: who imported what and when, its format and encoding, the column mapping used and the counts. The
  file's content is never stored, nor its name, its sheet's name or the register's name: a station names its files
  after people and places ("kim_younghee_hyesan.xlsx"), so these are names of persons like any other. What the run
  keeps instead are keyed digests (HMAC-SHA256 under the organisation's blind-index key, truncated to 128 bits, as
  ``vault.blind`` stores names): of the file's bytes (``digest``: "the same file again") and of the register's
  name (``register``: "the same register again"). Without the key they tell nothing and cannot be tested against
  guessed names. A coordinator recognises her upload while she imports it (the pages show its name, held in the
  session sealed under the upload's in-memory key: see ``uploads``); afterwards the person records are the result.
* ``ImportedRecord``: one per person an import created: the row's external id, keyed together with the register
  (HMAC under the same key of the register's digest and the id). This is what makes re-importing a file create
  nobody twice. An id made from a row's names and birth year (``interop.rows``) would otherwise be a plain hash
  of a name that anyone holding the database could test guesses against.
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
    register = models.CharField(_("register"), max_length=32, blank=True)
    digest = models.CharField(_("keyed digest of the file"), max_length=32, db_index=True, blank=True)
    format = models.CharField(_("format"), max_length=8)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
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
    """Source row -> person. ``external_key`` is HMAC(index key, register digest, external id): see the module's
    doc."""

    external_key = models.CharField(max_length=64)
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="records")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["external_key"], name="imported_record_once_per_register"),
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
