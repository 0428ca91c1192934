from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The six roles of DESIGN.md. What each may do is decided in one place: ``cases.access``."""

    KEEPER = "keeper", _("Station keeper")
    CASEWORKER = "caseworker", _("Caseworker / counsellor")
    COORDINATOR = "coordinator", _("Coordinator")
    ANALYST = "analyst", _("Analyst")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


class User(AbstractUser):
    """A worker of the organisation. The username is a work alias, never a legal name."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    # first_name, last_name and email are not used: nothing identifying about workers is stored.

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.username

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles
