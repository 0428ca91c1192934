"""The coordinator's conflict pages: the list, one conflict with its values side by side, and the choice."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from waystation.lib.errors import ServiceError
from waystation.sync.changes import conflicts
from waystation.sync.changes.access import conflict_for_user, conflicts_for
from waystation.web.types import AuthedHttpRequest


@require_GET
def conflict_list(request: AuthedHttpRequest) -> HttpResponse:
    seen = conflicts_for(request.user)
    context = {
        "open": conflicts.describe(list(conflicts.open_conflicts(seen))),
        "resolved": conflicts.describe(list(conflicts.recently_resolved(seen))),
    }
    return render(request, "sync_changes/conflict_list.html", context)


@require_GET
def conflict_detail(request: AuthedHttpRequest, conflict_id: int) -> HttpResponse:
    conflict = conflict_for_user(request.user, conflict_id)
    conflicts.describe([conflict])
    choices = conflicts.choices_for(user=request.user, conflict=conflict)
    return render(request, "sync_changes/conflict_detail.html", {"conflict": conflict, "choices": choices})


@require_POST
def conflict_resolve(request: AuthedHttpRequest, conflict_id: int) -> HttpResponse:
    conflict = conflict_for_user(request.user, conflict_id)
    try:
        conflicts.conflict_resolve(actor=request.user, conflict=conflict, hlc=request.POST.get("choice", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("sync_changes:detail", conflict.pk)
    messages.success(request, _("The conflict is resolved: the value you chose is kept and will travel to the peers."))
    return redirect("sync_changes:list")
