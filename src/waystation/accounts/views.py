from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.accounts import second_factor, services, sessions
from waystation.accounts.access import can_manage_users, managed_user_for
from waystation.accounts.forms import UserCreateForm
from waystation.accounts.lockout import locked_user_keys, username_key
from waystation.accounts.models import User
from waystation.accounts.reauth import require_recent_auth
from waystation.web.forms import errors_text, run_service
from waystation.web.types import AuthedHttpRequest


@require_safe
def user_list(request: AuthedHttpRequest) -> HttpResponse:
    if not can_manage_users(request.user):
        raise PermissionDenied
    users = list(User.objects.order_by("role", "username").prefetch_related("kept_stations"))
    locked = locked_user_keys()
    for user in users:
        user.is_locked_out = username_key(user.username) in locked  # type: ignore[attr-defined]
    return render(request, "accounts/user_list.html", {"users": users})


@require_http_methods(["GET", "POST"])
@require_recent_auth(back="accounts:user_create")
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
@require_recent_auth(back="accounts:users")
def user_set_active(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    user = managed_user_for(request.user, user_id)
    active = request.POST.get("active") == "1"
    form = UserCreateForm()
    if run_service(form, services.user_set_active, actor=request.user, user=user, active=active) is None:
        messages.error(request, errors_text(form))
    return redirect("accounts:users")


@require_POST
@require_recent_auth(back="accounts:users")
def user_unlock(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    user = managed_user_for(request.user, user_id)
    services.user_unlock(actor=request.user, user=user)
    messages.success(request, _("The account is unlocked."))
    return redirect("accounts:users")


@require_safe
def security(request: AuthedHttpRequest) -> HttpResponse:
    """The signed-in user's own sign-in settings: sessions (and the second factor)."""
    context = {
        "session_count": sessions.session_count(request.user),
        "backup_codes_left": second_factor.remaining_backup_codes(request.user),
    }
    return render(request, "accounts/security.html", context)


@require_POST
@require_recent_auth(back="accounts:security")
def backup_codes_new(request: AuthedHttpRequest) -> HttpResponse:
    codes = second_factor.new_backup_codes(actor=request.user, user=request.user)
    return render(request, "accounts/backup_codes.html", {"codes": codes, "next": reverse("accounts:security")})


@require_POST
@require_recent_auth(back="accounts:users")
def user_reset_second_factor(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    user = managed_user_for(request.user, user_id)
    second_factor.reset_second_factor(actor=request.user, user=user)
    messages.success(request, _("The second factor is removed: the user sets up a new one at the next sign-in."))
    return redirect("accounts:users")


@require_POST
def sign_out_everywhere(request: AuthedHttpRequest) -> HttpResponse:
    # Not behind require_recent_auth, on purpose: someone whose phone was taken, or who is fleeing, must be able to
    # end every session at once, and ending sessions gives whoever holds this one nothing.
    user = request.user
    sessions.sessions_end_for_user(actor=user, user=user)
    logout(request)
    return redirect("accounts:login")


@require_POST
@require_recent_auth(back="accounts:users")
def end_all_sessions(request: AuthedHttpRequest) -> HttpResponse:
    if not can_manage_users(request.user):
        raise PermissionDenied
    sessions.sessions_end_all(actor=request.user)
    logout(request)
    return redirect("accounts:login")
