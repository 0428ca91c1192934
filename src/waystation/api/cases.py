"""Cases over the API: the same access functions (``cases.access``), services and reveals as the case pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from waystation.accounts.models import User
from waystation.api.auth import Token, caller_of
from waystation.api.schemas import (
    ERRORS,
    CaseDetail,
    CasePage,
    CaseUpdate,
    Code,
    Id,
    Input,
    NoteIn,
    NoteOut,
    ServiceIn,
    ServiceOut,
    StatusChange,
    check_query,
)
from waystation.api.tokens import Scope
from waystation.cases import care_services, services
from waystation.cases.access import Need, can, case_for_user, person_fields_for, visible_persons
from waystation.cases.choices import CaseStatus
from waystation.cases.models import Partner, Person, ServiceRecord
from waystation.lib.errors import ServiceError
from waystation.network.models import Station
from waystation.vault.reveal import reveal

router = Router(tags=["cases"])
PAGE_SIZE = 50
LIST_FIELDS = ("name_hangul", "name_romanized")


class CaseFilter(Input):
    page: Id = 1
    status: CaseStatus | None = None


def _names(user: User, persons: list[Person], fields: tuple[str, ...], purpose: str) -> list[dict[str, Any]]:
    """The role's sensitive fields of each person, through the audited gate; ``locked`` where no key is held."""
    values = reveal(user=user, items=[(p, list(fields)) for p in persons], purpose=purpose) if fields else []
    if not values:
        return [{} for _p in persons]
    return [{**v, "locked": getattr(v, "locked", False)} for v in values]


def _station_names(persons: list[Person]) -> dict[int | None, str]:
    places = {p.place_id for p in persons}
    return dict(Station.objects.filter(pk__in=places).values_list("pk", "code_name"))


def _summary(person: Person, names: dict[str, Any], stations: dict[int | None, str]) -> dict[str, Any]:
    return {
        "case_code": person.case_code,
        "status": person.status,
        "sex": person.sex,
        "birth_year": person.birth_year,
        "origin_province": person.origin_province,
        "first_contact_month": person.first_contact_month,
        "station": stations.get(person.place_id),
        "names": names,
    }


@router.get("/", response={200: CasePage, **ERRORS}, auth=Token(Scope.CASES_READ), url_name="case_list")
def case_list(request: HttpRequest, filters: Query[CaseFilter]) -> dict[str, Any]:
    """The cases the caller may know exist, newest first contact first, 50 a page, with the names their role sees."""
    check_query(request, CaseFilter)
    user = caller_of(request).user
    if not can(user, Need.VIEW):
        raise PermissionDenied
    persons = visible_persons(user)
    if filters.status:
        persons = persons.filter(status=filters.status)
    page = Paginator(persons.order_by("-first_contact_month", "case_code"), PAGE_SIZE).get_page(filters.page)
    rows = list(page.object_list)
    fields = tuple(f for f in LIST_FIELDS if f in person_fields_for(user))
    names = _names(user, rows, fields, purpose="api_case_list")
    stations = _station_names(rows)
    return {
        "count": page.paginator.count,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "items": [_summary(p, n, stations) for p, n in zip(rows, names, strict=True)],
    }


def _detail(user: User, person: Person) -> dict[str, Any]:
    names = _names(user, [person], person_fields_for(user), purpose="api_case")[0]
    return _summary(person, names, _station_names([person])) | {
        "left_nk_month": person.left_nk_month,
        "languages": person.languages,
        "closed_at": person.closed_at,
        "updated_at": person.updated_at,
    }


@router.get("/{code}", response={200: CaseDetail, **ERRORS}, auth=Token(Scope.CASES_READ), url_name="case")
def case_detail(request: HttpRequest, code: Code) -> dict[str, Any]:
    """One case by its code: coded fields, and the sensitive fields the caller's role sees (revealed, audited)."""
    user = caller_of(request).user
    return _detail(user, case_for_user(user, code, Need.VIEW))


@router.patch("/{code}", response={200: CaseDetail, **ERRORS}, auth=Token(Scope.CASES_WRITE), url_name="case")
def case_update(request: HttpRequest, code: Code, changes: CaseUpdate) -> dict[str, Any]:
    """Change coded fields (sex, birth year, province of origin, months, languages): as the edit page does."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.CARE)
    services.person_update(actor=user, person=person, **changes.model_dump(exclude_unset=True))
    return _detail(user, case_for_user(user, code, Need.VIEW))


@router.post(
    "/{code}/status", response={200: CaseDetail, **ERRORS}, auth=Token(Scope.CASES_WRITE), url_name="case_status"
)
def case_status(request: HttpRequest, code: Code, change: StatusChange) -> dict[str, Any]:
    """Set the status by hand (detained, missing, resettled, closed...): as the status page does."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.STATUS)
    services.person_set_status(actor=user, person=person, status=change.status)
    return _detail(user, case_for_user(user, code, Need.VIEW))


@router.post("/{code}/notes", response={201: NoteOut, **ERRORS}, auth=Token(Scope.CASES_WRITE), url_name="case_notes")
def note_add(request: HttpRequest, code: Code, note: NoteIn) -> Status[Any]:
    user = caller_of(request).user
    person = case_for_user(user, code, Need.CARE)
    return Status(201, care_services.note_add(actor=user, person=person, text=note.text, kind=note.kind))


def _service_out(record: ServiceRecord, note: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": record.pk,
        "kind": record.kind,
        "delivered_on": record.delivered_on,
        "quantity": record.quantity,
        "partner": record.partner.name if record.partner else None,
        "note": None if note is None or getattr(note, "locked", False) else note["note"],
    }


@router.get(
    "/{code}/services",
    response={200: list[ServiceOut], **ERRORS},
    auth=Token(Scope.CASES_READ),
    url_name="case_services",
)
def service_list(request: HttpRequest, code: Code) -> list[dict[str, Any]]:
    """The services delivered to a person, newest first, with their notes (revealed, audited)."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.VIEW_FULL)
    records = list(person.services.select_related("partner"))
    notes = reveal(user=user, items=[(r, ["note"]) for r in records], purpose="api_services", case_id=person.id)
    return [_service_out(r, n) for r, n in zip(records, notes, strict=True)]


@router.post(
    "/{code}/services",
    response={201: ServiceOut, **ERRORS},
    auth=Token(Scope.SERVICES_WRITE),
    url_name="case_services",
)
def service_add(request: HttpRequest, code: Code, service: ServiceIn) -> Status[Any]:
    """Record a service delivered: as the service form of the case page does."""
    user = caller_of(request).user
    person = case_for_user(user, code, Need.CARE)
    partner = None
    if service.partner is not None:
        partner = Partner.objects.filter(pk=service.partner).first()
        if partner is None:
            raise ServiceError(_("Unknown partner organisation."), field="partner")
    data = service.model_dump(exclude={"partner"})
    record = care_services.service_record(actor=user, person=person, partner=partner, **data)
    return Status(201, _service_out(record, {"note": service.note.strip()}))  # the caller's own words, as given
