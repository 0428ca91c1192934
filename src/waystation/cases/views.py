"""Case pages. Each view: parse, check access (``cases.access``), call one service, render."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.accounts.models import User
from waystation.cases import care_services, services
from waystation.cases.access import Need, can, case_for_user, person_fields_for, visible_persons
from waystation.cases.choices import NeedArea
from waystation.cases.forms import (
    AssignForm,
    CaseFilterForm,
    ConsentForm,
    EpisodeForm,
    FamilyLinkForm,
    GoalForm,
    GoalStatusForm,
    NeedsForm,
    NoteForm,
    PersonCodedFieldsForm,
    PersonEditForm,
    PhotoForm,
    ReferralForm,
    ReferralStatusForm,
    RegisterArrivalForm,
    ServiceForm,
    StatusForm,
    TaskForm,
)
from waystation.cases.models import Person
from waystation.cases.models.person import normalise_case_code
from waystation.cases.selectors import unmerged
from waystation.lib.errors import ServiceError
from waystation.lib.paging import LookAheadPaginator
from waystation.network.access import visible_stations
from waystation.network.models import Station
from waystation.vault import blind
from waystation.vault.crypto import Locked
from waystation.vault.keyring import keyring_for
from waystation.vault.reveal import reveal, reveal_onto, sensitive_fields
from waystation.web.forms import errors_text, run_service
from waystation.web.types import AuthedHttpRequest

PAGE_SIZE = 50
NAME_FIELDS = ("name_hangul", "name_romanized")


@functools.cache
def _unlisted() -> tuple[str, ...]:
    """The sealed fields of a person the list does not show (all but the names): left in the database, they are
    neither read nor held in memory for 50 rows (the narrative, contacts and aliases are most of a row's bytes)."""
    return tuple(name for name in sensitive_fields()["cases.person"] if name not in NAME_FIELDS)


def _reveal_names(user: User, persons: list[Person], purpose: str) -> None:
    fields = [f for f in NAME_FIELDS if f in person_fields_for(user)]
    reveal_onto(user=user, items=[(p, fields) for p in persons], purpose=purpose)


def _named(user: User, text: str) -> set[object]:
    """Persons whose name (any form, any alias) equals ``text`` once normalised, by blind index; only for roles
    that see names, and only among the persons the caller then filters to those this user may see."""
    if not set(NAME_FIELDS) & set(person_fields_for(user)):
        return set()
    try:
        return set(blind.matching(keyring_for(user), text))
    except Locked:
        return set()  # the index key is not held yet: the case code still works


def _filtered(user: User, form: CaseFilterForm) -> tuple[QuerySet[Person], list[dict[str, str | None]]]:
    """The persons the filters select, and the merged records the search named (``{"code", "kept"}``, ``kept``
    None when the user does not see the record kept): a search by a merged record's case code or name leads to
    the record it was merged into, and the page says so."""
    persons = unmerged(visible_persons(user))
    if not form.is_valid():
        return persons.none(), []
    data = form.cleaned_data
    merged: list[dict[str, str | None]] = []
    if data["q"]:
        matched = Q(case_code=normalise_case_code(data["q"])) | Q(id__in=_named(user, data["q"]))
        hits = visible_persons(user).filter(matched, merged_into__isnull=False).order_by("case_code")
        kept_codes = dict(
            visible_persons(user).filter(pk__in=[p.merged_into_id for p in hits]).values_list("pk", "case_code")
        )
        merged = [
            {"code": p.case_code, "kept": kept_codes.get(p.merged_into_id) if p.merged_into_id else None} for p in hits
        ]
        persons = persons.filter(matched | Q(pk__in=list(kept_codes)))
    if data["status"]:
        persons = persons.filter(status=data["status"])
    if data["station"]:
        persons = persons.filter(place_id=data["station"].pk)
    if data["sex"]:
        persons = persons.filter(sex=data["sex"])
    if data["year"]:
        persons = persons.filter(first_contact_month__year=data["year"])
    return persons.order_by("-first_contact_month", "case_code"), merged


@require_safe
def case_list(request: AuthedHttpRequest) -> HttpResponse:
    if not can(request.user, Need.VIEW):
        raise PermissionDenied
    stations = visible_stations(request.user)
    form = CaseFilterForm(request.GET or None, stations=stations)
    if not request.GET:
        form = CaseFilterForm({}, stations=stations)
    found, merged = _filtered(request.user, form)
    paginator = LookAheadPaginator(found.defer(*_unlisted()), PAGE_SIZE, asked=request.GET.get("page"))
    page = paginator.get_page(paginator.asked)
    persons = list(page.object_list)
    _reveal_names(request.user, persons, purpose="case_list")
    station_names = dict(Station.objects.filter(pk__in={p.place_id for p in persons}).values_list("pk", "code_name"))
    for p in persons:
        p.place_name = station_names.get(p.place_id, "")
    template = "cases/case_rows.html" if request.headers.get("HX-Request") else "cases/case_list.html"
    return render(request, template, {"form": form, "page": page, "persons": persons, "merged": merged})


@require_http_methods(["GET", "POST"])
def register(request: AuthedHttpRequest) -> HttpResponse:
    if not (can(request.user, Need.MOVE) and can(request.user, Need.VIEW)):
        raise PermissionDenied
    full = can(request.user, Need.VIEW_FULL)
    form = RegisterArrivalForm(request.POST or None, stations=visible_stations(request.user), full=full)
    if request.method == "POST" and form.is_valid():
        person = run_service(form, services.person_register, actor=request.user, **form.cleaned_data)
        if person is not None:
            messages.success(request, _("Registered as case %(code)s.") % {"code": person.case_code})
            return redirect("cases:detail", person.case_code)
    return render(
        request, "web/form.html", {"form": form, "title": _("Register an arrival"), "submit_label": _("Register")}
    )


@require_safe
def detail(request: AuthedHttpRequest, code: str) -> HttpResponse:
    from waystation.cases.detail import case_page_context

    return render(request, "cases/detail.html", case_page_context(request.user, code))


def _case_form(
    request: AuthedHttpRequest,
    code: str,
    *,
    need: Need,
    form_class: type[forms.Form],
    service: Callable[..., Any],
    title: str,
    done: str,
    to_kwargs: Callable[[dict[str, Any]], dict[str, Any]] = dict,
    initial: Callable[[Person], dict[str, Any]] | None = None,
    for_person: bool = False,
) -> HttpResponse:
    """The one shape of every small case form: check access, validate, call the service, back to the case."""
    person = case_for_user(request.user, code, need)
    extra: dict[str, Any] = {"person": person} if for_person else {}  # forms whose choices depend on the case
    form = form_class(request.POST or None, initial=initial(person) if initial else None, **extra)
    if request.method == "POST" and form.is_valid():

        def call() -> Any:
            return service(actor=request.user, person=person, **to_kwargs(form.cleaned_data))

        if run_service(form, call) is not None:
            messages.success(request, done)
            return redirect("cases:detail", person.case_code)
    return render(request, "web/form.html", {"form": form, "title": title, "person": person})


@require_http_methods(["GET", "POST"])
def edit(request: AuthedHttpRequest, code: str) -> HttpResponse:
    def current(person: Person) -> dict[str, Any]:
        values = {name: getattr(person, name) for name in PersonCodedFieldsForm.base_fields}
        if request.method != "POST":  # a posted form shows what was posted: nothing stored is revealed again
            fields = person_fields_for(request.user)
            values |= reveal(user=request.user, items=[(person, fields)], purpose="edit", case_id=person.id)[0]
        return values

    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=PersonEditForm,
        service=services.person_update,
        title=_("Edit the person's details"),
        done=_("Saved."),
        initial=current,
    )


@require_http_methods(["GET", "POST"])
def change_status(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.STATUS,
        form_class=StatusForm,
        service=services.person_set_status,
        title=_("Change status"),
        done=_("Status changed."),
    )


@require_http_methods(["GET", "POST"])
def close(request: AuthedHttpRequest, code: str) -> HttpResponse:
    person = case_for_user(request.user, code, Need.STATUS)
    if request.method == "POST":
        form = StatusForm({"status": "closed"})
        form.is_valid()
        if run_service(form, services.person_set_status, actor=request.user, person=person, status="closed"):
            messages.success(request, _("The case is closed."))
            return redirect("cases:detail", person.case_code)
        messages.error(request, errors_text(form))
    return render(
        request,
        "cases/confirm.html",
        {
            "person": person,
            "title": _("Close this case"),
            "button": _("Close the case"),
            "text": _("Closing keeps the record; it no longer counts as in care."),
        },
    )


@require_http_methods(["GET", "POST"])
def consent(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=ConsentForm,
        service=services.consent_record,
        title=_("Record consent"),
        done=_("Consent recorded."),
    )


@require_http_methods(["GET", "POST"])
def family(request: AuthedHttpRequest, code: str) -> HttpResponse:
    def to_kwargs(data: dict[str, Any]) -> dict[str, Any]:
        relative = visible_persons(request.user).filter(case_code=normalise_case_code(data["relative"])).first()
        if relative is None:
            raise ServiceError(_("No case with this code."), field="relative")
        return {**data, "relative": relative}

    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=FamilyLinkForm,
        service=services.family_link_add,
        title=_("Link a relative"),
        done=_("Relative linked."),
        to_kwargs=to_kwargs,
    )


@require_http_methods(["GET", "POST"])
def episode(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.HISTORY,
        form_class=EpisodeForm,
        service=services.episode_add,
        title=_("Add an exploitation episode"),
        done=_("Episode recorded."),
    )


@require_http_methods(["GET", "POST"])
def needs(request: AuthedHttpRequest, code: str) -> HttpResponse:
    def to_kwargs(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "assessed_on": data["assessed_on"],
            "risk_level": data["risk_level"],
            "note": data["note"],
            "levels": {area: data[area] for area in NeedArea.values},
        }

    return _case_form(
        request,
        code,
        need=Need.NEEDS,
        form_class=NeedsForm,
        service=care_services.needs_assess,
        title=_("Assess needs"),
        done=_("Assessment recorded."),
        to_kwargs=to_kwargs,
    )


@require_http_methods(["GET", "POST"])
def goal(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=GoalForm,
        service=care_services.goal_add,
        title=_("Add a care plan goal"),
        done=_("Goal added."),
    )


@require_http_methods(["GET", "POST"])
def service(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=ServiceForm,
        service=care_services.service_record,
        title=_("Record a service"),
        done=_("Service recorded."),
    )


@require_http_methods(["GET", "POST"])
def referral(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=ReferralForm,
        service=care_services.referral_make,
        title=_("Refer to a partner"),
        done=_("Referral made."),
    )


@require_http_methods(["GET", "POST"])
def task(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=TaskForm,
        service=care_services.task_add,
        title=_("Add a follow-up task"),
        done=_("Task added."),
        for_person=True,
    )


@require_http_methods(["GET", "POST"])
def note(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.CARE,
        form_class=NoteForm,
        service=care_services.note_add,
        title=_("Add a note"),
        done=_("Note added."),
    )


@require_http_methods(["GET", "POST"])
def assign(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _case_form(
        request,
        code,
        need=Need.ASSIGN,
        form_class=AssignForm,
        service=care_services.assignment_set,
        title=_("Assign a caseworker"),
        done=_("Caseworker assigned."),
    )


@require_POST
def task_done(request: AuthedHttpRequest, code: str, task_id: int) -> HttpResponse:
    person = case_for_user(request.user, code, Need.CARE)
    task_obj = person.tasks.filter(pk=task_id).first()
    if task_obj is None:
        raise Http404
    form = forms.Form()
    if run_service(form, care_services.task_done, actor=request.user, task=task_obj) is None:
        messages.error(request, errors_text(form))
    return redirect("cases:detail", person.case_code)


def _set_status(
    request: AuthedHttpRequest,
    code: str,
    *,
    records: str,
    record_id: int,
    form_class: type[forms.Form],
    service: Callable[..., Any],
    record_arg: str,
) -> HttpResponse:
    """Move one of a case's records (a goal, a referral) to a new status, from a button on the case page."""
    person = case_for_user(request.user, code, Need.CARE)
    record = getattr(person, records).filter(pk=record_id).first()
    if record is None:
        raise Http404
    form = form_class(request.POST)
    done = None
    if form.is_valid():
        done = run_service(form, service, actor=request.user, **{record_arg: record}, **form.cleaned_data)
    if done is None:
        messages.error(request, errors_text(form))
    return redirect("cases:detail", person.case_code)


@require_POST
def goal_status(request: AuthedHttpRequest, code: str, goal_id: int) -> HttpResponse:
    return _set_status(
        request,
        code,
        records="goals",
        record_id=goal_id,
        form_class=GoalStatusForm,
        service=care_services.goal_set_status,
        record_arg="goal",
    )


@require_POST
def referral_status(request: AuthedHttpRequest, code: str, referral_id: int) -> HttpResponse:
    return _set_status(
        request,
        code,
        records="referrals",
        record_id=referral_id,
        form_class=ReferralStatusForm,
        service=care_services.referral_set_status,
        record_arg="referral",
    )


@require_http_methods(["GET", "POST"])
def photo(request: AuthedHttpRequest, code: str) -> HttpResponse:
    """GET: the photo itself (revealed and audited); POST: upload or remove it."""
    if request.method == "GET":
        person = case_for_user(request.user, code, Need.VIEW_FULL)
        if not person.has_photo:  # type: ignore[attr-defined]  # annotated by visible_persons
            raise Http404
        revealed = reveal(user=request.user, items=[(person, ["photo"])], purpose="photo", case_id=person.id)
        if getattr(revealed[0], "locked", False):
            raise Http404
        data = bytes(revealed[0]["photo"])  # type: ignore[call-overload]  # a BinaryField value
        return HttpResponse(data, content_type=services.photo_content_type(data) or "application/octet-stream")
    person = case_for_user(request.user, code, Need.CARE)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["photo"]
        data = None if form.cleaned_data["remove"] else upload.read()
        if run_service(form, services.person_set_photo, actor=request.user, person=person, data=data) is not None:
            messages.success(request, _("Photo saved.") if data else _("Photo removed."))
            return redirect("cases:detail", person.case_code)
    messages.error(request, errors_text(form))
    return redirect("cases:detail", person.case_code)


@require_POST
def assignment_end(request: AuthedHttpRequest, code: str, assignment_id: int) -> HttpResponse:
    person = case_for_user(request.user, code, Need.END_ASSIGNMENT)
    assignment = person.assignments.filter(pk=assignment_id, ended_at__isnull=True).first()
    if assignment is None:
        raise Http404
    care_services.assignment_end(actor=request.user, assignment=assignment)
    messages.success(request, _("The caseworker is no longer assigned."))
    return redirect("cases:detail", person.case_code)
