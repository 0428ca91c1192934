"""Station pages and movements. Each view: parse, check access, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.cases.access import Need, case_for_user, visible_persons
from waystation.network import services
from waystation.network.access import (
    can_manage_stations,
    can_see_stations,
    check_movement_action,
    station_for_user,
    visible_stations,
)
from waystation.network.forms import LegForm, MoveForm, MovementUpdateForm, StationForm, StationStatusForm
from waystation.network.models import MovementStatus, Station, StationStatus
from waystation.network.selectors import open_movements_to, present_persons, stations_with_occupancy
from waystation.web.forms import errors_text, run_service
from waystation.web.types import AuthedHttpRequest


@require_safe
def station_list(request: AuthedHttpRequest) -> HttpResponse:
    if not can_see_stations(request.user):
        raise PermissionDenied
    stations = stations_with_occupancy(visible_stations(request.user).prefetch_related("keepers"))
    return render(
        request, "network/station_list.html", {"stations": stations, "can_manage": can_manage_stations(request.user)}
    )


@require_safe
def station_detail(request: AuthedHttpRequest, code_name: str) -> HttpResponse:
    station = station_for_user(request.user, code_name)
    persons = visible_persons(request.user)
    here = present_persons().filter(place_id=station.pk, id__in=persons.values("id"))
    heading = open_movements_to(Station.objects.filter(pk=station.pk)).filter(person__in=persons.values("id"))
    legs = station.legs_out.select_related("to_station")
    occupancy = stations_with_occupancy(Station.objects.filter(pk=station.pk))[0]
    return render(
        request,
        "network/station_detail.html",
        {
            "station": occupancy,
            "here": here.order_by("case_code"),
            "heading": heading,
            "legs": legs,
            "can_manage": can_manage_stations(request.user),
            "status_form": StationStatusForm(),
            "leg_form": LegForm(),
            "compromised": station.status == StationStatus.COMPROMISED,
        },
    )


@require_http_methods(["GET", "POST"])
def station_create(request: AuthedHttpRequest) -> HttpResponse:
    if not can_manage_stations(request.user):
        raise PermissionDenied
    form = StationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        keepers = list(data.pop("keepers"))
        station = run_service(form, services.station_create, actor=request.user, keepers=keepers, **data)
        if station is not None:
            messages.success(request, _("Station created."))
            return redirect("network:station", station.code_name)
    return render(request, "web/form.html", {"form": form, "title": _("New station")})


@require_http_methods(["GET", "POST"])
def station_edit(request: AuthedHttpRequest, code_name: str) -> HttpResponse:
    station = station_for_user(request.user, code_name, manage=True)
    initial = {f: getattr(station, f) for f in services.STATION_FIELDS} | {"keepers": station.keepers.all()}
    form = StationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        keepers = list(data.pop("keepers"))
        if run_service(form, services.station_update, actor=request.user, station=station, keepers=keepers, **data):
            messages.success(request, _("Station saved."))
            return redirect("network:station", station.code_name)
    return render(request, "web/form.html", {"form": form, "title": _("Edit station %(code)s") % {"code": code_name}})


@require_POST
def station_status(request: AuthedHttpRequest, code_name: str) -> HttpResponse:
    # Not behind accounts.reauth.require_recent_auth, on purpose: marking a station compromised or closed is what a
    # coordinator does when people there are in danger now, and asking for the password and a code again would slow
    # the warning down; the change is audited, and a wrongly marked station is simply marked open again.
    station = station_for_user(request.user, code_name, manage=True)
    form = StationStatusForm(request.POST)
    changed = (
        run_service(form, services.station_set_status, actor=request.user, station=station, **form.cleaned_data)
        if form.is_valid()
        else None
    )
    if changed:
        if station.status == StationStatus.COMPROMISED:
            messages.warning(request, _("Marked compromised. Below: who is there and who is heading there."))
        else:
            messages.success(request, _("Status changed."))
    else:
        messages.error(request, errors_text(form))
    return redirect("network:station", station.code_name)


@require_POST
def leg_set(request: AuthedHttpRequest, code_name: str) -> HttpResponse:
    station = station_for_user(request.user, code_name, manage=True)
    form = LegForm(request.POST)
    saved = (
        run_service(form, services.leg_set, actor=request.user, from_station=station, **form.cleaned_data)
        if form.is_valid()
        else None
    )
    if not saved:
        messages.error(request, errors_text(form))
    return redirect("network:station", station.code_name)


@require_http_methods(["GET", "POST"])
def move(request: AuthedHttpRequest, code: str) -> HttpResponse:
    """Plan (or start) the next movement of a person."""
    person = case_for_user(request.user, code, Need.MOVE)
    stations = Station.objects.filter(status=StationStatus.ACTIVE)
    form = MoveForm(request.POST or None, stations=stations)
    if request.method == "POST" and form.is_valid():
        movement = run_service(form, services.movement_plan, actor=request.user, person=person, **form.cleaned_data)
        if movement is not None:
            messages.success(request, _("Movement recorded."))
            return redirect("cases:detail", person.case_code)
    return render(request, "web/form.html", {"form": form, "title": _("Record a movement"), "person": person})


@require_POST
def movement_update(request: AuthedHttpRequest, code: str, movement_id: int) -> HttpResponse:
    """Departed, arrived, failed or intercepted."""
    person = case_for_user(request.user, code, Need.MOVE)
    movement = person.movements.select_related("person", "from_station", "to_station").filter(pk=movement_id).first()
    if movement is None:
        raise Http404
    form = MovementUpdateForm(request.POST)
    if form.is_valid():
        action = form.cleaned_data["action"]
        check_movement_action(request.user, movement, action)
        kwargs = {"actor": request.user, "movement": movement}
        if action == "depart":
            expected = form.cleaned_data["expected_arrival"]
            done = run_service(form, services.movement_depart, expected_arrival=expected, **kwargs)
        elif action == MovementStatus.ARRIVED:
            done = run_service(form, services.movement_arrive, **kwargs)
        else:
            done = run_service(form, services.movement_end, outcome=action, **kwargs)
        if done is not None:
            messages.success(request, _("Movement updated."))
            return redirect("cases:detail", person.case_code)
    messages.error(request, errors_text(form))
    return redirect("cases:detail", person.case_code)
