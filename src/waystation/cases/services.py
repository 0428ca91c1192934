"""Writes to the person in care. Keyword-only, one transaction each, the audit event written inside it."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.choices import CaseStatus, ConsentScope, Language, Relation
from waystation.cases.models import Consent, ExploitationEpisode, FamilyLink, Partner, Person
from waystation.lib.errors import ServiceError
from waystation.lib.months import check_birth_year, check_month
from waystation.network.models import Country, Movement, MovementStatus, Station, StationKind, StationStatus

IDENTITY_FIELDS = ("name_hangul", "name_romanized", "name_chinese", "aliases", "date_of_birth", "contacts", "narrative")


def _check_date_of_birth(text: str, birth_year: int | None) -> str:
    text = text.strip()
    if not text:
        return ""
    try:
        born = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ServiceError(_("Enter the date of birth as YYYY-MM-DD."), field="date_of_birth") from exc
    if born > timezone.localdate():
        raise ServiceError(_("This date is in the future."), field="date_of_birth")
    check_birth_year(born.year)
    if birth_year is not None and born.year != birth_year:
        raise ServiceError(_("The date of birth does not match the birth year."), field="date_of_birth")
    return born.isoformat()


def _check_languages(languages: list[str]) -> list[str]:
    unknown = sorted(set(languages) - set(Language.values))
    if unknown:
        raise ServiceError(_("Unknown language code: %(codes)s.") % {"codes": ", ".join(unknown)}, field="languages")
    return sorted(set(languages))


def status_on_arrival(station: Station) -> str:
    """The case status that arriving at a station implies."""
    if station.country == Country.SOUTH_KOREA:
        return CaseStatus.ARRIVED_KR
    if station.country != Country.CHINA or station.kind == StationKind.PROCESSING:
        return CaseStatus.THIRD_COUNTRY
    return CaseStatus.SHELTERED


def person_register(
    *,
    actor: User,
    station: Station,
    sex: str,
    birth_year: int | None = None,
    origin_province: str = "unknown",
    left_nk_month: dt.date | None = None,
    first_contact_month: dt.date | None = None,
    languages: list[str] | None = None,
    name_hangul: str = "",
    name_romanized: str = "",
    name_chinese: str = "",
    aliases: str = "",
    date_of_birth: str = "",
    contacts: str = "",
    narrative: str = "",
) -> Person:
    """Register a person arriving at a station: the case and its intake movement, in one step."""
    if station.status != StationStatus.ACTIVE:
        raise ServiceError(_("This station is not active: nobody can be registered there."), field="station")
    left = check_month(left_nk_month, field="left_nk_month")
    contact = check_month(first_contact_month, field="first_contact_month") or timezone.localdate().replace(day=1)
    if left and left > contact:
        raise ServiceError(_("First contact cannot come before leaving North Korea."), field="first_contact_month")
    if not (name_hangul.strip() or name_romanized.strip() or name_chinese.strip()):
        raise ServiceError(_("Enter at least one form of the name."), field="name_hangul")
    now = timezone.now()
    with transaction.atomic():
        person = Person.objects.create(
            sex=sex,
            birth_year=check_birth_year(birth_year),
            origin_province=origin_province,
            left_nk_month=left,
            first_contact_month=contact,
            languages=_check_languages(languages or []),
            status=status_on_arrival(station),
            name_hangul=name_hangul.strip(),
            name_romanized=name_romanized.strip(),
            name_chinese=name_chinese.strip(),
            aliases=aliases.strip(),
            date_of_birth=_check_date_of_birth(date_of_birth, birth_year),
            contacts=contacts.strip(),
            narrative=narrative.strip(),
        )
        Movement.objects.create(
            person=person,
            to_station=station,
            status=MovementStatus.ARRIVED,
            planned_at=now,
            arrived_at=now,
            recorded_by=actor,
        )
        audit_record(
            actor=actor, action="person.register", target=person, case_id=person.id, details={"station": station.pk}
        )
    return person


def person_update(*, actor: User, person: Person, **changes: object) -> Person:
    """Change coded fields and identity fields. Only the names of the changed fields are audited."""
    allowed = {
        "sex",
        "birth_year",
        "origin_province",
        "left_nk_month",
        "first_contact_month",
        "languages",
        *IDENTITY_FIELDS,
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    if "birth_year" in changes:
        changes["birth_year"] = check_birth_year(changes["birth_year"])  # type: ignore[arg-type]
    for month_field in ("left_nk_month", "first_contact_month"):
        if month_field in changes:
            changes[month_field] = check_month(changes[month_field], field=month_field)  # type: ignore[arg-type]
    if "languages" in changes:
        changes["languages"] = _check_languages(list(changes["languages"]))  # type: ignore[call-overload]
    if "date_of_birth" in changes:
        year = changes.get("birth_year", person.birth_year)
        changes["date_of_birth"] = _check_date_of_birth(str(changes["date_of_birth"]), year)  # type: ignore[arg-type]
    changed = [name for name, value in changes.items() if getattr(person, name) != value]
    if not changed:
        return person
    with transaction.atomic():
        for name in changed:
            setattr(person, name, changes[name])
        person.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor, action="person.update", target=person, case_id=person.id, details={"fields": sorted(changed)}
        )
    return person


def person_set_status(*, actor: User, person: Person, status: str) -> Person:
    if status not in CaseStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    if status == person.status:
        raise ServiceError(_("The case already has this status."), field="status")
    with transaction.atomic():
        old = person.status
        person.status = status
        person.closed_at = timezone.now() if status == CaseStatus.CLOSED else None
        person.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            actor=actor, action="person.status", target=person, case_id=person.id, details={"from": old, "to": status}
        )
    return person


def consent_record(*, actor: User, person: Person, scope: str, given: bool, partner: Partner | None = None) -> Consent:
    if scope not in ConsentScope.values:
        raise ServiceError(_("Unknown consent scope."), field="scope")
    if scope == ConsentScope.SHARING and partner is None:
        raise ServiceError(_("Sharing consent names the partner it is given for."), field="partner")
    if scope != ConsentScope.SHARING:
        partner = None
    with transaction.atomic():
        consent = Consent.objects.create(person=person, scope=scope, given=given, partner=partner, recorded_by=actor)
        audit_record(
            actor=actor,
            action="consent.record",
            target=consent,
            case_id=person.id,
            details={"scope": scope, "given": given, "partner": partner.pk if partner else None},
        )
    return consent


def consent_given(person: Person, scope: str, partner: Partner | None = None) -> bool:
    """The person's current decision for a scope (and partner): the latest record wins; no record means no."""
    latest = Consent.objects.filter(person=person, scope=scope, partner=partner).order_by("-recorded_at", "-id").first()
    return bool(latest and latest.given)


def family_link_add(
    *, actor: User, person: Person, relative: Person, relation: str, stateless: bool = False
) -> FamilyLink:
    if relative.pk == person.pk:
        raise ServiceError(_("A person cannot be their own relative."), field="relative")
    if relation not in Relation.values:
        raise ServiceError(_("Unknown relation."), field="relation")
    if (
        FamilyLink.objects.filter(person=person, relative=relative).exists()
        or FamilyLink.objects.filter(person=relative, relative=person).exists()
    ):
        raise ServiceError(_("These two people are already linked."), field="relative")
    with transaction.atomic():
        link = FamilyLink.objects.create(
            person=person, relative=relative, relation=relation, stateless=stateless, created_by=actor
        )
        audit_record(
            actor=actor,
            action="family.link",
            target=link,
            case_id=person.id,
            details={"relative": str(relative.pk), "relation": relation},
        )
    return link


def episode_add(
    *,
    actor: User,
    person: Person,
    exploitation_type: str,
    start_month: dt.date | None = None,
    end_month: dt.date | None = None,
    province_in_china: str = "",
    was_sold: bool = False,
    perpetrator_roles: list[str] | None = None,
    control_methods: list[str] | None = None,
    recruitment_method: str = "",
    trafficker_relation: str = "",
    note: str = "",
) -> ExploitationEpisode:
    start = check_month(start_month, field="start_month")
    end = check_month(end_month, field="end_month")
    if start and end and end < start:
        raise ServiceError(_("The end month comes before the start month."), field="end_month")
    with transaction.atomic():
        episode = ExploitationEpisode.objects.create(
            person=person,
            exploitation_type=exploitation_type,
            start_month=start,
            end_month=end,
            province_in_china=province_in_china,
            was_sold=was_sold,
            perpetrator_roles=sorted(set(perpetrator_roles or [])),
            control_methods=sorted(set(control_methods or [])),
            recruitment_method=recruitment_method,
            trafficker_relation=trafficker_relation,
            note=note.strip(),
            recorded_by=actor,
        )
        audit_record(
            actor=actor, action="episode.add", target=episode, case_id=person.id, details={"type": exploitation_type}
        )
    return episode


PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def photo_content_type(data: bytes) -> str | None:
    return next((kind for magic, kind in PHOTO_TYPES.items() if data.startswith(magic)), None)


def person_set_photo(*, actor: User, person: Person, data: bytes | None) -> Person:
    """Store (or, with ``None``, remove) the person's photo. Storing one needs their current consent to photos."""
    if data is not None:
        if not consent_given(person, ConsentScope.PHOTOS):
            raise ServiceError(_("This person has not consented to photos. Record their consent first."), field="photo")
        if len(data) > PHOTO_MAX_BYTES or photo_content_type(data) is None:
            raise ServiceError(_("Choose a JPEG or PNG photo of at most 2 MB."), field="photo")
    with transaction.atomic():
        person.photo = data
        person.save(update_fields=["photo", "updated_at"])
        audit_record(
            actor=actor, action="person.photo", target=person, case_id=person.id, details={"removed": data is None}
        )
    return person


def times_sold(person: Person) -> int:
    return person.episodes.filter(was_sold=True).count()
