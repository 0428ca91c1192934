"""Forgetting from the web: a coordinator shreds one case; a coordinator or administrator pulls the kill switch.
Both need a recent password and code (accounts.reauth) and a typed confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from waystation.accounts.models import Role
from waystation.accounts.reauth import require_recent_auth
from waystation.cases.access import Need, case_for_user
from waystation.vault import shred as shredding
from waystation.vault.forms import KILL_PHRASE, KillForm, ShredForm
from waystation.web.types import AuthedHttpRequest


@require_http_methods(["GET", "POST"])
@require_recent_auth
def shred_case(request: AuthedHttpRequest, code: str) -> HttpResponse:
    person = case_for_user(request.user, code, Need.SHRED)
    form = ShredForm(request.POST or None, case_code=person.case_code)
    if request.method == "POST" and form.is_valid():
        shredding.shred(actor=request.user, person_id=person.id, purpose=form.cleaned_data["purpose"])
        messages.success(
            request,
            _("Case %(code)s was shredded: its details can no longer be read by anyone.") % {"code": person.case_code},
        )
        return redirect("cases:detail", person.case_code)
    intro = _(
        "Shredding destroys every key to this case's details: names, dates, contacts, narrative, notes and photo "
        "become unreadable everywhere, in backups too. Coded facts (sex, birth year, months, status, route) stay "
        "for the statistics."
    )
    context = {
        "form": form,
        "person": person,
        "title": _("Shred this case"),
        "intro": intro,
        "submit_label": _("Shred"),
    }
    return render(request, "web/form.html", context)


@require_http_methods(["GET", "POST"])
@require_recent_auth
def kill_switch(request: AuthedHttpRequest) -> HttpResponse:
    if not request.user.is_active or request.user.role not in (Role.COORDINATOR, Role.ADMINISTRATOR):
        raise PermissionDenied
    form = KillForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        shredding.kill_switch(actor=request.user)
        logout(request)
        return render(request, "vault/killed.html")
    intro = _(
        "The kill switch destroys every user's keys at once. Nobody, you included, can read any record until "
        "the holders of the offline recovery shares bring enough of them together. Use it when the organisation's "
        "server or staff are about to be seized. Type %(phrase)s to confirm."
    ) % {"phrase": KILL_PHRASE}
    context = {
        "form": form,
        "title": _("Organisation kill switch"),
        "intro": intro,
        "submit_label": _("Destroy all keys"),
    }
    return render(request, "web/form.html", context)
