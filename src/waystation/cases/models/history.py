"""Exploitation history, aligned with IOM's HTCDS 2.0 (see ``cases.htcds`` for the code lists)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from waystation.cases import htcds
from waystation.vault.fields import CaseRecord, SensitiveTextField


class ExploitationEpisode(CaseRecord):
    """One period of exploitation. Each sale starts an episode, so times sold = episodes with ``was_sold``."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="episodes")
    exploitation_type = models.CharField(
        _("type of exploitation"), max_length=40, choices=htcds.ExploitationType.choices
    )
    start_month = models.DateField(_("start month"), null=True, blank=True)
    end_month = models.DateField(_("end month"), null=True, blank=True)
    province_in_china = models.CharField(
        _("province in China"), max_length=30, choices=htcds.CHINA_PROVINCES.choices, blank=True
    )
    was_sold = models.BooleanField(_("sold into this episode"), default=False)
    perpetrator_roles = models.JSONField(_("perpetrator roles"), default=list, blank=True)
    control_methods = models.JSONField(_("methods of control"), default=list, blank=True)
    recruitment_method = models.CharField(
        _("recruitment method"), max_length=40, choices=htcds.RecruitmentMethod.choices, blank=True
    )
    trafficker_relation = models.CharField(
        _("relation to the trafficker"), max_length=40, choices=htcds.TraffickerRelation.choices, blank=True
    )
    note = SensitiveTextField(_("note"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_month", "id"]
        # The figures ask of every person whether she has an episode of a type, or was sold: from the index alone.
        indexes = [models.Index(fields=["person", "exploitation_type", "was_sold"], name="episode_figures")]
        verbose_name = _("exploitation episode")
