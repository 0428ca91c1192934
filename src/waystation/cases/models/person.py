"""The person in care, their family links and their consent."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from waystation.cases.choices import CaseStatus, ConsentScope, Language, Province, Relation, Sex
from waystation.vault.fields import SensitiveBinaryField, SensitiveTextField

# No 0/O, 1/I, 2/Z, 5/S, 6/G, 8/B: a code read aloud over a bad phone line or copied by hand survives.
CASE_CODE_ALPHABET = "ACDEFHJKLMNPRTUVWXY3479"
CASE_CODE_LENGTH = 8


def new_case_code() -> str:
    """A random code like ``KX7M-4RT9``. Random, so that codes reveal neither order nor count: one uniform draw
    among every code, written in the alphabet's digits (one call to the system's generator, not eight: an import
    draws 100,000)."""
    number = secrets.randbelow(len(CASE_CODE_ALPHABET) ** CASE_CODE_LENGTH)
    raw = []
    for _position in range(CASE_CODE_LENGTH):
        number, digit = divmod(number, len(CASE_CODE_ALPHABET))
        raw.append(CASE_CODE_ALPHABET[digit])
    return f"{''.join(raw[:4])}-{''.join(raw[4:])}"


def normalise_case_code(text: str) -> str:
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == CASE_CODE_LENGTH else text.strip().upper()


class Person(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vault_case_root = True  # a new person gets a new data key; every row of the case is encrypted with it
    case_code = models.CharField(_("case code"), max_length=9, unique=True, default=new_case_code, editable=False)

    # Coded, non-identifying: plaintext so that lists, filters and figures need no decryption.
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    origin_province = models.CharField(
        _("province of origin"), max_length=20, choices=Province.choices, default=Province.UNKNOWN
    )
    left_nk_month = models.DateField(_("month left North Korea"), null=True, blank=True)
    first_contact_month = models.DateField(_("month of first contact"), null=True, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.CONTACTED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The person's current decision on inclusion in anonymous statistics: her latest ``Consent`` for that scope
    # without a partner (True given, False withdrawn or refused, None never asked). Kept by the DATABASE (triggers
    # on ``cases_consent`` and ``cases_person``, migration 0006), so that every writer (the services, the
    # generator's bulk inserts, a restore, the coming sync and import) keeps it right, and the figures read it from
    # an index instead of looking up every person's latest consent. Whatever a writer puts here, the database puts
    # back the latest decision: never set it, never edit it in a form (editable=False). Read it through
    # ``cases.selectors.consenting``.
    statistics_consent = models.BooleanField(_("consents to anonymous statistics"), null=True, editable=False)
    # Her place on the route: the station of her latest arrived movement (``network.selectors.current_station_id``'s
    # rule), NULL before any. Kept by the DATABASE like ``statistics_consent`` (triggers on ``network_movement`` and
    # ``cases_person``, migration 0010), so that every writer keeps it right, and the lists a keeper sees, the
    # occupancy and a station's scope ask an index instead of working out each person's latest arrival (at 100,000
    # persons a keeper's list spent 0.1-0.6 s doing so). Whatever a writer puts here, the database puts back her
    # latest arrival's station: never set it. No constraint: stations are never deleted, and the triggers, not a
    # key, say what it holds.
    place = models.ForeignKey(
        "network.Station",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        editable=False,
        related_name="+",
        verbose_name=_("current station"),
    )
    # Set when a coordinator decided this record is the same woman as another one (``linkage``): the record and
    # its history stay, the case list and the figures count her once, under the record she was merged into. Set
    # and cleared only by the linkage services (a merge is audited and can be undone).
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_records",
        db_index=False,  # indexed where set only ("person_merged"): see Meta.indexes
    )

    # Sensitive: encrypted by the vault, revealed only through vault.reveal.
    name_hangul = SensitiveTextField(_("name in Hangul"))
    name_romanized = SensitiveTextField(_("romanized name"))
    name_chinese = SensitiveTextField(_("Chinese name"))
    aliases = SensitiveTextField(_("aliases"), help_text=_("One per line."))
    date_of_birth = SensitiveTextField(_("exact date of birth"))
    contacts = SensitiveTextField(_("contacts"))
    narrative = SensitiveTextField(_("narrative"))
    photo = SensitiveBinaryField(_("photo"))

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["sex", "birth_year"]),
            # The case list's order: its first page is read from the index, not by sorting every person.
            models.Index(fields=["-first_contact_month", "case_code"], name="person_list_order"),
            # The figures (figures.indicators) read only these coded columns of every person: from this index, short
            # entries instead of the rows with their encrypted fields (a scan of 100,000 persons about 4x faster on
            # SQLite). Sex first, so that "the women" is a range of it; the decision on statistics next, so that
            # "those counted" is a range too; the id next, so that a person's records are looked up in its order.
            models.Index(
                fields=[
                    "sex",
                    "statistics_consent",
                    "id",
                    "status",
                    "origin_province",
                    "first_contact_month",
                    "left_nk_month",
                    "merged_into",
                ],
                name="person_figures",
            ),
            # The few merged records, and nothing else: the records merged into one (``merged_records``) and
            # whether any merge exists are looked up here. Partial, so that no query for the records that are NOT
            # merged (every population of the figures, the case list) is drawn to it instead of the covering index.
            models.Index(fields=["merged_into"], condition=models.Q(merged_into__isnull=False), name="person_merged"),
        ]
        verbose_name = _("person")
        verbose_name_plural = _("persons")

    def __str__(self) -> str:
        return self.case_code  # never a name: str() ends up in logs and error pages

    @property
    def vault_case_id(self) -> uuid.UUID:
        return self.id

    def language_labels(self) -> list[str]:
        labels = dict(Language.choices)
        return [str(labels.get(code, code)) for code in self.languages]


class FamilyLink(models.Model):
    """``person`` is the ``relation`` of ``relative`` (a mother and the children born in China, often stateless)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_links")
    relative = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="family_links_in")
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    stateless = models.BooleanField(_("relative is stateless"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "relative"], name="unique_family_link"),
            models.CheckConstraint(condition=~models.Q(person=models.F("relative")), name="family_link_not_self"),
        ]


class Consent(models.Model):
    """One consent decision. The person's current consent for a scope is the latest record for it."""

    # The decision's name across installations (sync).
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(_("scope"), max_length=20, choices=ConsentScope.choices)
    partner = models.ForeignKey(
        "cases.Partner", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("partner")
    )
    given = models.BooleanField(_("given"))
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [
            # A person's latest decision on a scope (cases.selectors.consenting, the figures' consent rule), read
            # from the index alone: partner, time, id and the decision itself are in it.
            models.Index(fields=["person", "scope", "partner", "recorded_at", "id", "given"], name="consent_latest"),
        ]
