"""Writes to the person in care. Keyword-only, one transaction each, the audit event written inside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases import htcds
from waystation.cases.choices import (
    ENDED_STATUSES,
    PARENT_RELATIONS,
    CaseStatus,
    ConsentScope,
    Language,
    Province,
    Relation,
    Sex,
)
from waystation.cases.models import Consent, ExploitationEpisode, FamilyLink, Partner, Person
from waystation.lib.choices import check_choice, check_choices
from waystation.lib.errors import ServiceError
from waystation.lib.months import check_birth_year, check_month
from waystation.network.models import (
    OPEN_MOVEMENT_STATUSES,
    Country,
    Movement,
    MovementStatus,
    Station,
    StationKind,
    StationStatus,
)
from waystation.vault import blind, crypto, grants
from waystation.vault.blind import name_values
from waystation.vault.fields import Sealed, open_value
from waystation.vault.keyring import Keyring, acting

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


def _check_languages(languages: object) -> list[str]:
    message = _("Unknown language code: %(value)s.")
    return check_choices(languages, Language, field="languages", message=message)


NAME_FIELDS = ("name_hangul", "name_romanized", "name_chinese")


def _check_has_name(names: dict[str, str]) -> None:
    if not any(names[field].strip() for field in NAME_FIELDS):
        raise ServiceError(_("Enter at least one form of the name."), field="name_hangul")


def _check_month_order(left_nk: dt.date | None, first_contact: dt.date | None) -> None:
    if left_nk and first_contact and left_nk > first_contact:
        raise ServiceError(_("First contact cannot come before leaving North Korea."), field="first_contact_month")


def status_on_arrival(station: Station) -> str:
    """The case status that arriving at a station implies."""
    if station.country == Country.SOUTH_KOREA:
        return CaseStatus.ARRIVED_KR
    if station.country != Country.CHINA or station.kind == StationKind.PROCESSING:
        return CaseStatus.THIRD_COUNTRY
    return CaseStatus.SHELTERED


def _current_value(keyring: Keyring, person: Person, name: str) -> object:
    value = getattr(person, name)
    return open_value(keyring, person, name) if isinstance(value, Sealed) else value


def _index_names(keyring: Keyring, person: Person, names: list[str]) -> None:
    try:
        blind.reindex(keyring, person.id, names)
    except crypto.Locked as exc:
        raise ServiceError(
            _("Your keys are not ready yet: a coordinator signing in prepares them. Try again later.")
        ) from exc


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
    check_choice(sex, Sex, field="sex")
    check_choice(origin_province, Province, field="origin_province")
    left = check_month(left_nk_month, field="left_nk_month")
    contact = check_month(first_contact_month, field="first_contact_month") or timezone.localdate().replace(day=1)
    _check_month_order(left, contact)
    _check_has_name({"name_hangul": name_hangul, "name_romanized": name_romanized, "name_chinese": name_chinese})
    checked_languages = _check_languages(languages)
    now = timezone.now()
    with transaction.atomic():
        with acting(actor) as keyring:
            person = Person(
                sex=sex,
                birth_year=check_birth_year(birth_year),
                origin_province=origin_province,
                left_nk_month=left,
                first_contact_month=contact,
                languages=checked_languages,
                status=status_on_arrival(station),
                name_hangul=name_hangul.strip(),
                name_romanized=name_romanized.strip(),
                name_chinese=name_chinese.strip(),
                aliases=aliases.strip(),
                date_of_birth=_check_date_of_birth(date_of_birth, birth_year),
                contacts=contacts.strip(),
                narrative=narrative.strip(),
            )
            names = name_values(
                name_hangul=name_hangul, name_romanized=name_romanized, name_chinese=name_chinese, aliases=aliases
            )
            person.save(force_insert=True)
            _index_names(keyring, person, names)
            Movement.objects.create(
                person=person,
                to_station=station,
                status=MovementStatus.ARRIVED,
                planned_at=now,
                arrived_at=now,
                recorded_by=actor,
            )
        # Once her key is wrapped for every holder (as ``acting`` ends): the audit log's lock, which every audited
        # page waits for, is then held only from this event to the commit.
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
    if "sex" in changes:
        check_choice(changes["sex"], Sex, field="sex")
    if "origin_province" in changes:
        check_choice(changes["origin_province"], Province, field="origin_province")
    if "birth_year" in changes:
        changes["birth_year"] = check_birth_year(changes["birth_year"])  # type: ignore[arg-type]
    for month_field in ("left_nk_month", "first_contact_month"):
        if month_field in changes:
            changes[month_field] = check_month(changes[month_field], field=month_field)  # type: ignore[arg-type]
    _check_month_order(
        changes.get("left_nk_month", person.left_nk_month),  # type: ignore[arg-type]
        changes.get("first_contact_month", person.first_contact_month),  # type: ignore[arg-type]
    )
    for text_field in IDENTITY_FIELDS:
        if text_field in changes:
            changes[text_field] = str(changes[text_field] or "").strip()
    _check_has_name({field: str(changes.get(field, getattr(person, field))) for field in NAME_FIELDS})
    if "languages" in changes:
        changes["languages"] = _check_languages(changes["languages"])
    if "date_of_birth" in changes:
        year = changes.get("birth_year", person.birth_year)
        changes["date_of_birth"] = _check_date_of_birth(str(changes["date_of_birth"]), year)  # type: ignore[arg-type]
    with transaction.atomic(), acting(actor) as keyring:
        # Sensitive values are compared with what is stored once decrypted (internally: nothing is shown).
        current = {name: _current_value(keyring, person, name) for name in changes}
        changed = [name for name, value in changes.items() if current[name] != value]
        if not changed:
            return person
        for name in changed:
            setattr(person, name, changes[name])
        person.save(update_fields=[*changed, "updated_at"])
        if set(changed) & {*NAME_FIELDS, "aliases"}:
            names = {name: _current_value(keyring, person, name) for name in (*NAME_FIELDS, "aliases")}
            names.update({name: changes[name] for name in changed if name in names})
            _index_names(keyring, person, name_values(**{k: str(v) for k, v in names.items()}))
        audit_record(
            actor=actor, action="person.update", target=person, case_id=person.id, details={"fields": sorted(changed)}
        )
    return person


def _check_status_change(person: Person, status: str, *, by_hand: bool) -> None:
    if by_hand and status == person.status:
        raise ServiceError(_("The case already has this status."), field="status")
    open_statuses = set(
        Movement.objects.filter(person=person, status__in=OPEN_MOVEMENT_STATUSES).values_list("status", flat=True)
    )
    if by_hand and status == CaseStatus.IN_TRANSIT and MovementStatus.UNDER_WAY not in open_statuses:
        raise ServiceError(
            _("A person is in transit only while a movement is under way: record the departure instead."),
            field="status",
        )
    if status in ENDED_STATUSES and open_statuses:
        raise ServiceError(_("End or cancel the open movement first."), field="status")


def person_status_apply(*, actor: User, person: Person, status: str, by_hand: bool = False) -> bool:
    """Change a person's status, with its audit event, inside the caller's transaction. The one place that writes
    a case status: setting it by hand (``person_set_status``) and movements that imply one both come here.

    Refused: ending the case while a movement is open; by hand also the current status, and ``in_transit``
    without a movement under way. ``closed_at`` is set when the case closes and cleared on any other status.
    Returns whether anything changed.
    """
    _check_status_change(person, status, by_hand=by_hand)
    if status == person.status:
        return False
    old = person.status
    person.status = status
    person.closed_at = timezone.now() if status == CaseStatus.CLOSED else None
    person.save(update_fields=["status", "closed_at", "updated_at"])
    with acting(actor) as keyring:
        grants.sync(keyring, [person.id])  # a keeper stops holding the key of someone who has left their care
    audit_record(
        actor=actor, action="person.status", target=person, case_id=person.id, details={"from": old, "to": status}
    )
    return True


def person_set_status(*, actor: User, person: Person, status: str) -> Person:
    """A status set by hand (detained, missing, resettled, closed...); moving along the route sets its own."""
    if status not in CaseStatus.values:
        raise ServiceError(_("Unknown status."), field="status")
    with transaction.atomic():
        person_status_apply(actor=actor, person=person, status=status, by_hand=True)
    return person


def consent_record(*, actor: User, person: Person, scope: str, given: bool, partner: Partner | None = None) -> Consent:
    """Record a consent decision. Withdrawing consent to photos removes the stored photo in the same step."""
    if scope not in ConsentScope.values:
        raise ServiceError(_("Unknown consent scope."), field="scope")
    if scope == ConsentScope.SHARING and partner is None:
        raise ServiceError(_("Sharing consent names the partner it is given for."), field="partner")
    if scope != ConsentScope.SHARING:
        partner = None
    details: dict[str, object] = {"scope": scope, "given": given, "partner": partner.pk if partner else None}
    with transaction.atomic():
        consent = Consent.objects.create(person=person, scope=scope, given=given, partner=partner, recorded_by=actor)
        if scope == ConsentScope.PHOTOS and not given:
            details["photo_removed"] = Person.objects.filter(pk=person.pk, photo__isnull=False).exists()
            person.photo = None
            person.save(update_fields=["photo", "updated_at"])
        audit_record(actor=actor, action="consent.record", target=consent, case_id=person.id, details=details)
    return consent


def consent_given(person: Person, scope: str, partner: Partner | None = None) -> bool:
    """The person's current decision for a scope (and partner): the latest record wins; no record means no."""
    latest = Consent.objects.filter(person=person, scope=scope, partner=partner).order_by("-recorded_at", "-id").first()
    return bool(latest and latest.given)


def _parents_of(person_ids: set[object]) -> set[object]:
    """The ids of the recorded parents of these persons (links are stored in either direction)."""
    as_parent = FamilyLink.objects.filter(relative_id__in=person_ids, relation__in=PARENT_RELATIONS)
    as_child = FamilyLink.objects.filter(person_id__in=person_ids, relation=Relation.CHILD)
    return {*as_parent.values_list("person_id", flat=True), *as_child.values_list("relative_id", flat=True)}


def _is_ancestor(candidate: Person, of: Person) -> bool:
    seen: set[object] = set()
    generation: set[object] = {of.pk}
    while generation:
        generation = _parents_of(generation) - seen
        if candidate.pk in generation:
            return True
        seen |= generation
    return False


def family_link_add(
    *, actor: User, person: Person, relative: Person, relation: str, stateless: bool = False
) -> FamilyLink:
    """Record that ``person`` is the ``relation`` of ``relative``."""
    if relative.pk == person.pk:
        raise ServiceError(_("A person cannot be their own relative."), field="relative")
    if relation not in Relation.values:
        raise ServiceError(_("Unknown relation."), field="relation")
    if (
        FamilyLink.objects.filter(person=person, relative=relative).exists()
        or FamilyLink.objects.filter(person=relative, relative=person).exists()
    ):
        raise ServiceError(_("These two people are already linked."), field="relative")
    parent, child = (person, relative) if relation in PARENT_RELATIONS else (relative, person)
    if relation in (*PARENT_RELATIONS, Relation.CHILD) and _is_ancestor(child, of=parent):
        raise ServiceError(
            _("This link would make someone their own ancestor: check who is the parent and who is the child."),
            field="relation",
        )
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
    check_choice(exploitation_type, htcds.ExploitationType, field="exploitation_type")
    check_choice(province_in_china, htcds.ChinaProvince, field="province_in_china", blank=True)
    roles = check_choices(perpetrator_roles, htcds.PerpetratorRole, field="perpetrator_roles")
    methods = check_choices(control_methods, htcds.ControlMethod, field="control_methods")
    check_choice(recruitment_method, htcds.RecruitmentMethod, field="recruitment_method", blank=True)
    check_choice(trafficker_relation, htcds.TraffickerRelation, field="trafficker_relation", blank=True)
    start = check_month(start_month, field="start_month")
    end = check_month(end_month, field="end_month")
    if start and end and end < start:
        raise ServiceError(_("The end month comes before the start month."), field="end_month")
    with transaction.atomic(), acting(actor):
        episode = ExploitationEpisode.objects.create(
            person=person,
            exploitation_type=exploitation_type,
            start_month=start,
            end_month=end,
            province_in_china=province_in_china,
            was_sold=was_sold,
            perpetrator_roles=roles,
            control_methods=methods,
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
    with transaction.atomic(), acting(actor):
        person.photo = data
        person.save(update_fields=["photo", "updated_at"])
        audit_record(
            actor=actor, action="person.photo", target=person, case_id=person.id, details={"removed": data is None}
        )
    return person


def times_sold(person: Person, episodes: Iterable[ExploitationEpisode] | None = None) -> int:
    """How many times she was sold: her episodes marked sold. ``episodes``: all of hers, already read (the case
    page), to count them without a query."""
    if episodes is None:
        return person.episodes.filter(was_sold=True).count()
    return sum(1 for episode in episodes if episode.was_sold)
