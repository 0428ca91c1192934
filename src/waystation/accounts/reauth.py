"""Re-authentication before sensitive actions: the password and a second-factor code, given recently.

A session records when its user last proved who they are (``sessions.REAUTHENTICATED_AT``): at sign-in, when the
second factor is passed, and on the confirm page. ``require_recent_auth`` on a view sends a request whose proof is
older than ``REAUTH_MINUTES`` to ``/accounts/confirm/?next=<page>``, and the view does not run.

Where the user comes back to:
- a GET comes back to the page it asked for;
- a POST is never replayed (a replayed form could do something the user no longer means). It comes back to the page
  that shows the button: the form names it in a hidden ``next`` field, or the view names it with ``back=``; otherwise
  the dashboard. The user presses the button again, now with a fresh proof.

``next`` is only followed when it is a local path (``url_has_allowed_host_and_scheme``); anything else leads to the
dashboard. Every wrong password or code is a failed sign-in for the lockout (``lockout.second_factor_failed``) and an
``auth.reauth_failed`` audit event; a right one is ``auth.reauth``. TOTP codes stay single-use (django-otp).

Not gated, on purpose: signing out everywhere and the quick exit (someone in danger must be able to end their
sessions at once, and ending a session gives an attacker nothing), and the coordinator marking a station compromised
or closed (network.views: speed matters more than a second password under threat).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice

from waystation.accounts import duress, second_factor
from waystation.accounts.forms import ReauthForm
from waystation.accounts.lockout import is_locked, second_factor_failed, username_key
from waystation.accounts.sessions import mark_reauthenticated, reauthenticated_at
from waystation.audit.services import audit_record
from waystation.web.types import AuthedHttpRequest

View = Callable[..., HttpResponse]


def safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """``candidate`` when it is a path on this site, else None (no open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def is_recent(request: HttpRequest, minutes: int | None = None) -> bool:
    proved = reauthenticated_at(request.session)
    limit = (settings.REAUTH_MINUTES if minutes is None else minutes) * 60
    return proved is not None and 0 <= time.time() - proved <= limit


def confirm_url(next_url: str) -> str:
    return f"{reverse('accounts:reauth')}?{urlencode({'next': next_url})}"


def require_recent_auth(view: View | None = None, *, minutes: int | None = None, back: str | None = None) -> Any:
    """Run ``view`` only when the user gave the password and a code within ``minutes`` (``REAUTH_MINUTES``).

    ``back`` (a URL name) is where a POST without a ``next`` field comes back to after confirming."""

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if is_recent(request, minutes):
                return func(request, *args, **kwargs)
            if request.method in ("GET", "HEAD"):
                next_url = request.get_full_path()
            else:
                next_url = safe_next(request, request.POST.get("next")) or (
                    reverse(back) if back else resolve_url(settings.LOGIN_REDIRECT_URL)
                )
            return redirect(confirm_url(next_url))

        return wrapper

    return decorate(view) if view is not None else decorate


def _failed(request: AuthedHttpRequest, reason: str) -> HttpResponse | None:
    """A wrong password or code: audited, and a failed sign-in for the lockout; a locked account is signed out."""
    user = request.user
    audit_record(actor=user, action="auth.reauth_failed", target=user, details={"reason": reason})
    second_factor_failed(request, user)
    if is_locked(request, user.username):
        logout(request)
        return redirect("accounts:login")
    return None


@sensitive_post_parameters("password", "token")
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def confirm(request: AuthedHttpRequest) -> HttpResponse:
    """The confirm page: the password and a current code (or a backup code), then back to ``next``."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next")) or resolve_url(
        settings.LOGIN_REDIRECT_URL
    )
    user = request.user
    if is_locked(request, user.username):
        logout(request)
        return redirect("accounts:login")
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = None
        # hashers.check_password, not user.check_password: no hash upgrade here, which would change the session's
        # auth hash and sign this session out. Inside a duress session the duress password counts (accounts.duress).
        if duress.proves_identity(user, form.cleaned_data["password"]):
            device = second_factor.match_device(user, form.cleaned_data["token"])
            reason = "code"
        else:
            reason = "password"
        if device is not None:
            mark_reauthenticated(request.session)
            AxesProxyHandler.reset_attempts(
                username=username_key(user.username), ip_address=get_client_ip_address(request)
            )
            method = "backup_code" if isinstance(device, StaticDevice) else "totp"
            audit_record(actor=user, action="auth.reauth", target=user, details={"method": method})
            return redirect(next_url)
        locked_out = _failed(request, reason)
        if locked_out is not None:
            return locked_out
        # One message for both: which of the two was wrong is not told.
        form.add_error(None, _("The password or the code is not right. Check both and try again."))
    return render(request, "accounts/confirm.html", {"form": form, "next": next_url})
