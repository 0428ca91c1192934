"""Care: assignments, needs, plan goals, services, referrals, follow-up tasks and notes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from waystation.cases.choices import (
    GoalStatus,
    NeedArea,
    NeedLevel,
    ReferralStatus,
    RiskLevel,
    ServiceKind,
    TaskKind,
)
from waystation.network.models import Country
from waystation.vault.fields import CaseRecord, SensitiveTextField

USER = settings.AUTH_USER_MODEL


class Partner(models.Model):
    """A partner organisation that people can be referred to (not a person: its name is not sensitive)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    services = models.JSONField(_("services offered"), default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """A caseworker responsible for a person. An assignment ends; it is never deleted."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="assignments")
    assigned_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "worker"], condition=models.Q(ended_at__isnull=True), name="one_open_assignment"
            )
        ]


class NeedsAssessment(CaseRecord):
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="assessments")
    assessed_on = models.DateField(_("assessed on"))
    assessed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    medical = models.PositiveSmallIntegerField(NeedArea.MEDICAL.label, choices=NeedLevel.choices, default=0)
    mental_health = models.PositiveSmallIntegerField(NeedArea.MENTAL_HEALTH.label, choices=NeedLevel.choices, default=0)
    shelter = models.PositiveSmallIntegerField(NeedArea.SHELTER.label, choices=NeedLevel.choices, default=0)
    documents_legal = models.PositiveSmallIntegerField(
        NeedArea.DOCUMENTS_LEGAL.label, choices=NeedLevel.choices, default=0
    )
    children = models.PositiveSmallIntegerField(NeedArea.CHILDREN.label, choices=NeedLevel.choices, default=0)
    livelihood = models.PositiveSmallIntegerField(NeedArea.LIVELIHOOD.label, choices=NeedLevel.choices, default=0)
    safety = models.PositiveSmallIntegerField(NeedArea.SAFETY.label, choices=NeedLevel.choices, default=0)
    risk_level = models.CharField(_("risk level"), max_length=10, choices=RiskLevel.choices)
    note = SensitiveTextField(_("note"))

    class Meta:
        ordering = ["-assessed_on", "-id"]


class CarePlanGoal(CaseRecord):
    """One goal of a person's care plan; the plan is the set of their goals."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="goals")
    area = models.CharField(_("area"), max_length=20, choices=NeedArea.choices)
    description = SensitiveTextField(_("goal"))
    target_date = models.DateField(_("target date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "target_date", "id"]


class ServiceRecord(CaseRecord):
    """A service delivered: a counselling session, a medical visit, shelter nights..."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="services")
    kind = models.CharField(_("service"), max_length=20, choices=ServiceKind.choices)
    delivered_on = models.DateField(_("date"))
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1, help_text=_("Nights, sessions or visits."))
    provider = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", verbose_name=_("provider"))
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("partner organisation")
    )
    note = SensitiveTextField(_("note"))
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-delivered_on", "-id"]
        indexes = [models.Index(fields=["person", "kind"])]


class Referral(CaseRecord):
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="referrals")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, verbose_name=_("partner organisation"))
    area = models.CharField(_("area"), max_length=20, choices=NeedArea.choices)
    referred_on = models.DateField(_("referred on"))
    status = models.CharField(_("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.MADE)
    note = SensitiveTextField(_("note"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-referred_on", "-id"]


class FollowUpTask(CaseRecord):
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(_("task"), max_length=20, choices=TaskKind.choices)
    detail = SensitiveTextField(_("detail"))
    due_on = models.DateField(_("due on"))
    assigned_to = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("assigned to"))
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["done_at", "due_on", "id"]


class NoteKind(models.TextChoices):
    GENERAL = "general", _("Case note")
    COUNSELLING = "counselling", _("Counselling note")


class CaseNote(CaseRecord):
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(_("kind"), max_length=20, choices=NoteKind.choices, default=NoteKind.GENERAL)
    text = SensitiveTextField(_("note"))
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
