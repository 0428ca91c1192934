"""The route: stations, legs between them, and the movements of people along it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from waystation.vault.fields import CaseRecord, SensitiveTextField


class Country(models.TextChoices):
    CHINA = "CN", _("China")
    LAOS = "LA", _("Laos")
    THAILAND = "TH", _("Thailand")
    VIETNAM = "VN", _("Vietnam")
    MONGOLIA = "MN", _("Mongolia")
    CAMBODIA = "KH", _("Cambodia")
    MYANMAR = "MM", _("Myanmar")
    SOUTH_KOREA = "KR", _("South Korea")
    OTHER = "XX", _("Other")


class StationKind(models.TextChoices):
    SAFE_HOUSE = "safe_house", _("Safe house")
    TRANSIT = "transit", _("Transit point")
    PARTNER = "partner", _("Partner")
    PROCESSING = "processing", _("Processing / embassy")
    DESTINATION = "destination", _("Destination")


class StationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    COMPROMISED = "compromised", _("Compromised")
    CLOSED = "closed", _("Closed")


# A code name is part of the station's URL and is read out over the phone: plain letters, digits, "-" and "_".
CODE_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,40}\Z"
CODE_NAME_MESSAGE = _("Use 1 to 40 letters, digits, hyphens (-) or underscores (_), without spaces.")
# Words the station URLs use themselves (``/stations/new/``): a station of that name could not be reached.
RESERVED_CODE_NAMES = frozenset({"new"})
RESERVED_CODE_NAME_MESSAGE = _("This word is reserved: choose another code name.")
MAX_CAPACITY = 500


class Station(models.Model):
    """A place on the route, known only by its code name and a coarse region; never an address."""

    # The station's name across installations (sync: the hub and every station's own Waystation), which a rename
    # of the code name does not change.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code_name = models.CharField(_("code name"), max_length=40, unique=True)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    region = models.CharField(_("region"), max_length=80, help_text=_("Coarse region only, never an address."))
    kind = models.CharField(_("kind"), max_length=20, choices=StationKind.choices)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=StationStatus.choices, default=StationStatus.ACTIVE)
    keepers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="kept_stations", verbose_name=_("keepers")
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code_name"]
        verbose_name = _("station")

    def __str__(self) -> str:
        return self.code_name


class Leg(models.Model):
    """A usual passage between two stations."""

    from_station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="legs_out")
    to_station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="legs_in")
    usual_days = models.PositiveSmallIntegerField(_("usual duration (days)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["from_station", "to_station"], name="unique_leg")]
        verbose_name = _("leg")

    def __str__(self) -> str:
        return f"{self.from_station} → {self.to_station}"


class MovementStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    UNDER_WAY = "under_way", _("Under way")
    ARRIVED = "arrived", _("Arrived")
    FAILED = "failed", _("Failed")
    INTERCEPTED = "intercepted", _("Intercepted")


OPEN_MOVEMENT_STATUSES = (MovementStatus.PLANNED, MovementStatus.UNDER_WAY)


class Movement(CaseRecord):
    """A person's passage from one station to the next. Intake at the first station has no origin.

    A person's place on the route is the destination of their latest arrived movement (``network.selectors``);
    the database keeps it on the person's row as well (``Person.place``, triggers of migration cases 0010).
    """

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="movements")
    from_station = models.ForeignKey(
        Station, on_delete=models.PROTECT, null=True, blank=True, related_name="departures"
    )
    to_station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="arrivals")
    status = models.CharField(_("status"), max_length=20, choices=MovementStatus.choices)
    planned_at = models.DateTimeField(_("planned at"))
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    expected_arrival = models.DateTimeField(_("expected arrival"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = SensitiveTextField(_("note"))

    class Meta:
        ordering = ["planned_at", "id"]
        indexes = [
            # A person's arrivals (network.selectors: the latest, sorted from her few), and the figures' first
            # arrival in South Korea (figures.indicators.arrivals_kr) read from the index alone: the station is in it.
            models.Index(fields=["person", "status", "to_station", "arrived_at"], name="movement_person_arrivals"),
            models.Index(fields=["to_station", "status"]),
        ]
        constraints = [
            # A person is on one way at a time: at most one movement planned or under way.
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status__in=OPEN_MOVEMENT_STATUSES),
                name="one_open_movement",
            )
        ]
        verbose_name = _("movement")

    def __str__(self) -> str:
        return f"{self.from_station or '—'} → {self.to_station} ({self.status})"
