"""The dashboard of each role, quick exit, and the error pages."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import InterfaceError, OperationalError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from waystation.accounts.duress import can_clear_duress, duress_alerts
from waystation.accounts.models import Role
from waystation.cases.access import visible_persons
from waystation.cases.choices import ENDED_STATUSES, CaseStatus
from waystation.cases.models import Assignment, FollowUpTask
from waystation.cases.selectors import unmerged
from waystation.figures.charts import dashboard_charts
from waystation.figures.privacy import dashboard_dp
from waystation.figures.releases import FiguresInconsistent, dashboard_figures
from waystation.network.access import visible_stations
from waystation.network.models import Station, StationStatus
from waystation.network.selectors import (
    open_movements_to,
    overdue_movements,
    present_persons,
    stations_with_occupancy,
)
from waystation.sync.services import killed_stations
from waystation.web.context import site_without_user
from waystation.web.middleware import API_PREFIX, protect
from waystation.web.types import AuthedHttpRequest

logger = logging.getLogger(__name__)


@require_safe
def dashboard(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "role": user.role,
        "duress_alerts": list(duress_alerts(user)),
        "killed_stations": killed_stations() if can_clear_duress(user) else [],
    }
    if user.role in (Role.KEEPER, Role.CASEWORKER, Role.COORDINATOR):
        persons = visible_persons(user)
        stations = visible_stations(user)
        context["overdue"] = overdue_movements(persons)[:50]
        context["open_tasks"] = FollowUpTask.objects.filter(
            assigned_to=user, done_at__isnull=True, person__in=persons.values("id")
        ).select_related("person")[:50]
        context["today"] = timezone.localdate()
    if user.role == Role.KEEPER:
        context["stations"] = stations_with_occupancy(stations)
        here = present_persons().filter(place_id__in=stations.values("id"), id__in=unmerged(persons).values("id"))
        context["present"] = here.order_by("case_code")[:100]
        context["incoming"] = open_movements_to(stations).filter(person__in=persons.values("id"))[:50]
    elif user.role == Role.CASEWORKER:
        context["cases"] = unmerged(persons).exclude(status__in=ENDED_STATUSES).order_by("case_code")[:100]
    elif user.role == Role.COORDINATOR:
        all_stations = stations_with_occupancy(stations)
        context["full_stations"] = [s for s in all_stations if s.is_full]  # type: ignore[attr-defined]
        context["compromised"] = [s for s in all_stations if s.status == StationStatus.COMPROMISED]
        # Each woman once: a record merged into another is counted under the one kept (its tasks and movements
        # above still show: they are work to do).
        counts = dict(unmerged(persons).values_list("status").annotate(n=Count("id")))
        context["by_status"] = [
            {"status": code, "label": label, "n": counts[code]} for code, label in CaseStatus.choices if code in counts
        ]
        assigned = Assignment.objects.filter(ended_at__isnull=True).values("person_id")
        context["unassigned"] = unmerged(persons).exclude(status__in=ENDED_STATUSES).exclude(id__in=assigned).count()
        compromised = [s.pk for s in context["compromised"]]
        context["at_risk"] = present_persons().filter(place_id__in=compromised, id__in=persons.values("id"))
        at_risk_stations = Station.objects.filter(pk__in=compromised)
        context["heading_to_risk"] = open_movements_to(at_risk_stations).filter(person__in=persons.values("id"))
    elif user.role == Role.ANALYST:
        # Released values only (disclosure control applied); a fresh release when the latest is a day old.
        try:
            context["figures"] = dashboard_figures(actor=user)
        except FiguresInconsistent:
            logger.exception("figures: no release could be made")  # names figures, never a count
            context["figures"], context["figures_failed"] = [], True
        context["charts"] = dashboard_charts(context["figures"])  # drawn from those released values only
        context["noisy"] = dashboard_dp()  # the series published with differential privacy, and the month's budget
    return render(request, "web/dashboard.html", context)


@csrf_exempt  # signing out is always safe to trigger; the beacon of the quick-exit script carries no token
@require_http_methods(["GET", "POST"])
def quick_exit(request: HttpRequest) -> HttpResponse:
    from waystation.vault.agent import AGENT

    if request.user.is_authenticated:
        AGENT.drop_user(request.user.pk)  # every key of this user, not only this session's: they may be in danger
    logout(request)
    response = HttpResponseRedirect(settings.QUICK_EXIT_URL)
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


def _error(request: HttpRequest, status: int, template: str) -> HttpResponse:
    return render(request, template, {"status": status}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if database_went_away(exception):  # SessionInterrupted: the session could not be saved, the database being down
        return database_unavailable(request)
    return _error(request, 400, "web/error.html")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "web/error.html")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "web/error.html")


def server_error(request: HttpRequest) -> HttpResponse:
    if database_went_away(sys.exception()):  # Django calls this while handling the exception
        return database_unavailable(request)
    return _error(request, 500, "web/error.html")


# The database cannot be reached (stopped, restarting, the network to it down), or SQLite's lock stayed taken: the
# request is refused, 503, and the next one connects again (``conn_health_checks`` in settings).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = gettext_lazy(
    "Waystation cannot reach its database right now. Try again in a minute; if you were saving something, look "
    "whether it was saved before you enter it again."
)


def database_went_away(exception: BaseException | None) -> bool:
    """Whether ``exception`` is, or was raised while handling, a database that cannot be reached. Django turns some
    into other errors: a session it cannot save at the end of a request (SessionMiddleware) is a SessionInterrupted,
    400, raised while handling the OperationalError."""
    seen = 0
    while exception is not None and seen < 10:
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return True
        exception, seen = exception.__cause__ or exception.__context__, seen + 1
    return False


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with a page that needs no database: no user, no session, no messages (each of those is a query that
    would fail again). The JSON API gets its refusal as JSON."""
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"detail": str(UNAVAILABLE)}, status=503)
    else:
        context = site_without_user() | {
            "status": 503,
            "unavailable": UNAVAILABLE,
            "request": request,
            "csrf_token": get_token(request),
        }
        response = HttpResponse(render_to_string("web/error.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return protect(request, response)
