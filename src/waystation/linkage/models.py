"""The review of duplicates: candidate pairs and the decisions on them, and merges (which can be undone).

Nothing sensitive here: persons by id, a score, reason codes (``live.REASON_LABELS``), who decided and when. A merge
deletes nothing: the absorbed record keeps its row and its history and points at the record it was merged into
(``Person.merged_into``); the ``Merge`` row says what to put back when it is undone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CandidateStatus(models.TextChoices):
    OPEN = "open", _("to review")
    MERGED = "merged", _("merged")
    NOT_SAME = "not_same", _("not the same person")


class Candidate(models.Model):
    """Two records that may be one woman, as the matcher found them (``person_a`` has the smaller case code), and
    what a coordinator decided. A decided pair stays decided when the matcher finds it again."""

    person_a = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="+")
    person_b = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="+")
    score = models.FloatField(_("match probability"))
    # Every known comparison as [code, weight in bits], strongest first (``matching.Reason``): codes, never values.
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.OPEN)
    found_at = models.DateTimeField(_("found"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="candidate_pair_once"),
            models.CheckConstraint(condition=~models.Q(person_a=models.F("person_b")), name="candidate_two_persons"),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="candidate_queue")]
        verbose_name = _("duplicate candidate")

    def __str__(self) -> str:
        return f"candidate {self.pk}"


class Merge(models.Model):
    """``absorbed`` was merged into ``kept`` (and so were the records in ``repointed``, which had been merged into
    ``absorbed`` before). Undone when ``undone_at`` is set: then ``absorbed`` and ``repointed`` point back to where
    they pointed before."""

    kept = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="+")
    absorbed = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, null=True, blank=True, related_name="merges")
    # The candidate's decision before the merge (status, decided_by id, decided_at ISO), put back by an undo.
    candidate_before = models.JSONField(default=dict)
    repointed = models.JSONField(default=list)  # ids (str) of the persons that had been merged into ``absorbed``
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("merged"))
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("merge")

    def __str__(self) -> str:
        return f"merge {self.pk}"
