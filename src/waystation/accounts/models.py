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

    # The optional duress password (accounts.duress): a Django password hash, never the password; "" when none.
    duress_password = models.CharField(_("duress password"), max_length=128, blank=True, default="")
    # Set by a sign-in with the duress password: the user's keys are destroyed and they see no case until a
    # coordinator or administrator clears it (and an administrator resets their password: new keys).
    under_duress = models.BooleanField(_("signed in under duress"), default=False)
    duress_at = models.DateTimeField(_("signed in under duress at"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.username

    def has_role(self, *roles: str) -> bool:
        return self.is_active and self.role in roles
