from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.accounts import services
from waystation.accounts.access import can_manage_users, managed_user_for
from waystation.accounts.forms import UserCreateForm
from waystation.accounts.models import User
from waystation.web.forms import errors_text, run_service
from waystation.web.types import AuthedHttpRequest


@require_safe
def user_list(request: AuthedHttpRequest) -> HttpResponse:
    if not can_manage_users(request.user):
        raise PermissionDenied
    users = User.objects.order_by("role", "username").prefetch_related("kept_stations")
    return render(request, "accounts/user_list.html", {"users": users})


@require_http_methods(["GET", "POST"])
def user_create(request: AuthedHttpRequest) -> HttpResponse:
    if not can_manage_users(request.user):
        raise PermissionDenied
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = run_service(form, services.user_create, actor=request.user, **form.cleaned_data)
        if result is not None:
            user, password = result
            return render(request, "accounts/user_created.html", {"new_user": user, "password": password})
    return render(request, "web/form.html", {"form": form, "title": _("New user")})


@require_POST
def user_set_active(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    user = managed_user_for(request.user, user_id)
    active = request.POST.get("active") == "1"
    form = UserCreateForm()
    if run_service(form, services.user_set_active, actor=request.user, user=user, active=active) is None:
        messages.error(request, errors_text(form))
    return redirect("accounts:users")
