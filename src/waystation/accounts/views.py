from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.accounts import duress, second_factor, services, sessions
from waystation.accounts.access import can_manage_users, managed_user_for
from waystation.accounts.forms import DuressPasswordForm, PasswordChangeForm, UserCreateForm
from waystation.accounts.lockout import locked_user_keys, username_key
from waystation.accounts.models import User
from waystation.accounts.reauth import require_recent_auth
from waystation.vault.agent import AGENT, handle_for
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
    context = {"users": users, "duress_alerts": list(duress.duress_alerts(request.user))}
    return render(request, "accounts/user_list.html", context)


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
def user_reset_password(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    """A new one-time password for someone who forgot theirs (or after a duress sign-in). Their old key pair opens
    only with the old password, so they get a new one and are owed their keys again (vault.grants)."""
    user = managed_user_for(request.user, user_id)
    password = services.user_set_password(actor=request.user, user=user)
    sessions.sessions_end_for_user(actor=request.user, user=user)
    context = {"new_user": user, "password": password, "reset": True}
    return render(request, "accounts/user_created.html", context)


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


def _stay_signed_in(request: AuthedHttpRequest) -> None:
    """After the user's own password change: this session goes on (a new key, its vault keys moved with it), the
    user's other sessions end (their auth hash no longer matches) and their keys leave the agent."""
    entry = AGENT.get(handle_for(str(request.session.session_key)))
    AGENT.drop_user(request.user.pk)
    update_session_auth_hash(request, request.user)
    if entry is not None:
        AGENT.put(handle_for(str(request.session.session_key)), request.user.pk, entry.private_key)


@sensitive_post_parameters("current", "new", "new_again")
@require_http_methods(["GET", "POST"])
@require_recent_auth(back="accounts:password_change")
def password_change(request: AuthedHttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changed = run_service(form, duress.password_change, user=request.user, current=data["current"], new=data["new"])
        if changed is not None:
            if changed:
                _stay_signed_in(request)
            messages.success(request, _("Your password is changed. Use the new one from now on."))
            return redirect("accounts:security")
    context = {"form": form, "title": _("Change your password"), "submit_label": _("Change the password")}
    return render(request, "web/form.html", context)


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
@require_recent_auth(back="accounts:duress_password")
def duress_password(request: AuthedHttpRequest) -> HttpResponse:
    """Set or remove one's duress password (accounts.duress). The page never says whether one is set."""
    if request.method == "POST" and "remove" in request.POST:
        duress.duress_password_remove(user=request.user)
        messages.success(request, _("The duress password is removed."))
        return redirect("accounts:security")
    form = DuressPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        if run_service(form, duress.duress_password_set, user=request.user, password=password) is not None:
            messages.success(request, _("The duress password is saved."))
            return redirect("accounts:security")
    return render(request, "accounts/duress_password.html", {"form": form})


@require_POST
@require_recent_auth(back="web:dashboard")
def duress_clear(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    user = duress.user_for_clearing(request.user, user_id)
    if duress.duress_clear(actor=request.user, user=user):
        text = _("%(user)s is no longer marked as under duress. An administrator now resets their password.")
        messages.success(request, text % {"user": user.username})
    return redirect("accounts:users" if can_manage_users(request.user) else "web:dashboard")
