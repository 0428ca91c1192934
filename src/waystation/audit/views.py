from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from waystation.audit.access import can_read_audit
from waystation.audit.checkpoint import CheckpointError
from waystation.audit.models import AuditEvent
from waystation.audit.verify import checkpoint_text, verify_log
from waystation.lib.paging import LookAheadPaginator
from waystation.web.types import AuthedHttpRequest

PAGE_SIZE = 100


@require_safe
def events(request: AuthedHttpRequest) -> HttpResponse:
    """Who did what to which case id. Ids and codes only: the trail holds no personal content."""
    if not can_read_audit(request.user):
        raise PermissionDenied
    if request.GET.get("download") == "checkpoint":
        return _checkpoint()
    rows: QuerySet[AuditEvent] = AuditEvent.objects.select_related("actor")
    action = request.GET.get("action", "").strip()
    case_id = request.GET.get("case", "").strip()
    actor = request.GET.get("actor", "").strip()
    date_from = request.GET.get("from", "").strip()
    date_to = request.GET.get("to", "").strip()
    errors: list[str] = []
    if action:
        rows = rows.filter(action=action)
    if case_id:
        rows = rows.filter(case_id=case_id) if _is_uuid(case_id) else rows.none()
    if actor:
        rows = rows.filter(actor__username__iexact=actor)
    start, end = _date(date_from), _date(date_to)
    if date_from and start is None or date_to and end is None:
        errors.append(_("Dates are written YYYY-MM-DD."))
        rows = rows.none()
    if start is not None:
        rows = rows.filter(at__gte=_day_start(start))
    if end is not None:
        rows = rows.filter(at__lt=_day_start(end + dt.timedelta(days=1)))
    paginator = LookAheadPaginator(rows, PAGE_SIZE, asked=request.GET.get("page"))  # the log grows without end
    page = paginator.get_page(paginator.asked)
    status: dict[str, object] | None = None
    if request.GET.get("verify") == "1":
        report = verify_log()
        status = {
            "ok": report.ok,
            "up_to": report.verified_up_to,
            "size": report.size,
            "seq": report.broken.seq if report.broken else None,
            "problem": report.broken.problem if report.broken else "",
        }
    return render(
        request,
        "audit/events.html",
        {
            "page": page,
            "action": action,
            "case": case_id,
            "actor": actor,
            "date_from": date_from,
            "date_to": date_to,
            "errors": errors,
            "status": status,
        },
    )


def _checkpoint() -> HttpResponse:
    """The current signed checkpoint, to hand to a partner (a size and a hash, no event content).

    Served by ``events`` (``?download=checkpoint``), so that it has exactly the audit trail's access rule.
    """
    try:
        text = checkpoint_text()
    except CheckpointError:
        message = _("No checkpoint can be signed now: run “waystation audit verify” for details.")
        return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-checkpoint-{stamp}.txt"'
    response["Cache-Control"] = "no-store"
    return response


def _date(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
