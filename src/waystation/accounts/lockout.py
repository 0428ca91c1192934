"""Lockout after repeated failed sign-ins (django-axes), without user enumeration and without keeping what was typed.

- An account is locked for one address (username *and* address, so that a stranger cannot lock a worker out from
  everywhere) after ``AXES_FAILURE_LIMIT`` failures, for ``AXES_COOLOFF_TIME``. Failures on the second-factor step
  count too (``second_factor_failed``).
- A locked account gets exactly the answer of a wrong password: ``lockout_response`` hands back the sign-in page
  the view already rendered (same status, template and wording), never Axes' own 429 page.
- Axes stores the username of every attempt. The attempted string may be a password typed into the wrong box, so
  Axes is given a keyed hash of it (``username_key``) and never the typed text.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from waystation.accounts.models import User

USERNAME_FIELD = "username"  # the sign-in form's field, as Axes reads it (AXES_USERNAME_FORM_FIELD, not changed)


def client_ip(request: HttpRequest) -> str | None:
    """The address a lockout is counted for. Behind the one trusted reverse proxy (``WAYSTATION_BEHIND_PROXY``), the
    last X-Forwarded-For entry, which that proxy appended: earlier entries are whatever the client sent, so trusting
    them would let anyone pick a fresh address for every guess. Otherwise the connection's own address."""
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")


def username_key(username: str) -> str:
    """What Axes keeps instead of the typed username: an HMAC (keyed by the installation's secret) of its casefold."""
    digest = hmac.new(settings.SECRET_KEY.encode(), username.casefold().encode(), hashlib.sha256)
    return "u:" + digest.hexdigest()[:40]


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """AXES_USERNAME_CALLABLE: the keyed hash of the username in the credentials (or the posted form)."""
    username = ""
    if credentials:
        username = str(credentials.get(USERNAME_FIELD) or "")
    if not username and request is not None and request.method == "POST":
        username = request.POST.get(USERNAME_FIELD, "")
    return username_key(username)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page the view rendered anyway (the generic "not right" message), unchanged."""
    if original_response is None:  # only Axes' own decorators call without one; we do not use them
        from django.shortcuts import render

        return render(request, "accounts/login.html", {"form": None, "locked": True})
    return original_response


def is_locked(request: HttpRequest, username: str) -> bool:
    return not AxesProxyHandler.is_allowed(request, {USERNAME_FIELD: username})


def second_factor_failed(request: HttpRequest, user: User) -> None:
    """A wrong code at the second step counts as a failed sign-in (audited, and towards the lockout)."""
    user_login_failed.send(sender=__name__, credentials={USERNAME_FIELD: user.username}, request=request)


def locked_user_keys() -> set[str]:
    """The username keys that are locked out now, from any address."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return set(
        AccessAttempt.objects.filter(
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
        ).values_list("username", flat=True)
    )


def reset_user(user: User) -> int:
    """Forget every failed attempt for this user (from every address): the lock is lifted."""
    return AxesProxyHandler.reset_attempts(username=username_key(user.username))
