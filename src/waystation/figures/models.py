"""Stored releases of figures: written once, never changed or removed."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from waystation.lib.writeonce import WriteOnceError, WriteOnceModel, WriteOnceQuerySet


class ImmutableReleaseError(WriteOnceError):
    """A release is what was published: it is never changed or removed (the database refuses UPDATE too)."""


class Release(WriteOnceModel):
    """One indicator after disclosure control, as it was published, with the method and the audit event.

    ``cells`` holds, per cell: its key (dimension -> code), the value shown (null when hidden), its status (shown,
    suppressed, held), the reason, and the raw count and ``basis`` that the next release's differencing check needs.
    The raw counts never leave through the CLI or the dashboard.
    """

    indicator = models.CharField(_("indicator"), max_length=60, db_index=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    policy = models.JSONField(_("disclosure policy"))
    breakdowns = models.JSONField(default=list)
    cells = models.JSONField(default=list)
    share_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    ratio = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    left_out = models.PositiveIntegerField(_("left out for lack of consent, as shown"), null=True, blank=True)
    left_out_raw = models.PositiveIntegerField(default=0)
    # The count the shown "left out" was decided on (differs from the raw count while it is held), for the next
    # release's differencing check, as each cell's "basis". Null on releases made before it was kept: their raw count.
    left_out_basis = models.PositiveIntegerField(null=True, blank=True)
    audit_event = models.ForeignKey("audit.AuditEvent", on_delete=models.PROTECT, related_name="+")

    refusal = ImmutableReleaseError
    write_once_what = "releases are immutable"
    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("release")

    def __str__(self) -> str:
        return f"{self.indicator} {self.created_at:%Y-%m-%d %H:%M}"


class ImmutableSpendError(WriteOnceError):
    """A spend of the privacy budget happened: it is never changed or removed (the database refuses it too)."""


class PrivacySpend(WriteOnceModel):
    """One differentially private release of a series, and the share of the period's privacy budget it used.

    The rows of a period are its ledger: their ``epsilon`` adds up to what was spent, and ``figures.privacy``
    refuses a release that would take the sum past the configured budget. The row is also the release itself:
    ``method`` holds the mechanism and its parameters (scale, sensitivity, OpenDP's privacy loss, the disclosure
    policy applied afterwards), ``cells`` the published values only (never a true count, never the noisy count
    before rounding), and ``audit_event`` the event that produced it.
    """

    period = models.CharField(_("period"), max_length=7, db_index=True)  # calendar month in UTC, "2026-11"
    series = models.CharField(_("series"), max_length=60)
    epsilon = models.DecimalField(_("privacy loss (epsilon)"), max_digits=12, decimal_places=6)
    created_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    method = models.JSONField(_("method"))
    cells = models.JSONField(default=list)
    audit_event = models.ForeignKey("audit.AuditEvent", on_delete=models.PROTECT, related_name="+")

    refusal = ImmutableSpendError
    write_once_what = "privacy budget spends are immutable"
    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("privacy budget spend")

    def __str__(self) -> str:
        return f"{self.period} {self.series} epsilon={self.epsilon}"


class PersonFigures(models.Model):
    """What the figures need of one person's records (hers and her merged records'), kept by the database's
    triggers (``figures.per_person``: the packing, the writers, the check). Derived: never written by the
    application, not in backups (a restore makes it again), not synchronised."""

    person = models.OneToOneField(
        "cases.Person",
        on_delete=models.DO_NOTHING,  # the person's DELETE trigger removes the row
        primary_key=True,
        db_constraint=False,  # written by triggers, sometimes before the person row (an import's movements)
        related_name="figures",
    )
    episodes = models.IntegerField(default=0)
    services = models.BigIntegerField(default=0)
    first_arrival_kr = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return str(self.pk)
