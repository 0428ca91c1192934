from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from waystation.audit.access import can_read_audit
from waystation.audit.models import AuditEvent
from waystation.web.types import AuthedHttpRequest


@require_safe
def events(request: AuthedHttpRequest) -> HttpResponse:
    """Who did what to which case id. Ids and codes only: the trail holds no personal content."""
    if not can_read_audit(request.user):
        raise PermissionDenied
    rows = AuditEvent.objects.select_related("actor")
    action = request.GET.get("action", "").strip()
    case_id = request.GET.get("case", "").strip()
    if action:
        rows = rows.filter(action=action)
    if case_id:
        rows = rows.filter(case_id=case_id) if _is_uuid(case_id) else rows.none()
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    return render(request, "audit/events.html", {"page": page, "action": action, "case": case_id})


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
