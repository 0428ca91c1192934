"""Deny by default, and headers that keep every page to itself."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django_otp.middleware import is_verified

from waystation.accounts.sessions import renew_idle_timeout, signed_in_at
from waystation.audit.services import audit_record

# Paths anyone may reach without signing in. Everything else needs a signed-in, active user who passed the
# second factor in this session; a user who gave only the password may reach the second step (and sign out).
# /sync/push/ and /sync/pull/: installations, not people; the signature and enrolment authenticate them (sync.views).
# The JSON API authenticates every request itself (a bearer token, never the session) and denies by default.
API_PREFIX = "/api/v1/"
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/exit/",
    "/static/",
    "/i18n/",
    "/sync/push/",
    "/sync/pull/",
    API_PREFIX,
)
SECOND_STEP_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class IdleSessionMiddleware:
    """Right inside Django's SessionMiddleware: the idle timeout is renewed once a renewal step at most (a minute:
    ``accounts.sessions.renew_every_seconds``) instead of by every request (``SESSION_SAVE_EVERY_REQUEST`` is off).
    A session this marks as changed is saved, with a new expiry, by SessionMiddleware on the way out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.session.accessed and response.status_code < 500:
            renew_idle_timeout(request.session)
        return response


class SessionLifetimeMiddleware:
    """A session ends ``SESSION_ABSOLUTE_SECONDS`` after its sign-in, however active it has been since (the idle
    timeout is ``SESSION_COOKIE_AGE``). A signed-in session without a sign-in time is treated as expired."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            started = signed_in_at(request.session)
            if started is None or time.time() - started > settings.SESSION_ABSOLUTE_SECONDS:
                user = request.user
                logout(request)
                audit_record(actor=user, action="auth.session_expired", target=user)
        return self.get_response(request)


class VaultKeysMiddleware:
    """A signed-in session must have its keys in the agent. After a restart, an idle timeout or a key event they
    are gone, and the session ends: the user signs in again, which opens their keys again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from waystation.vault.session import session_has_keys

        public = request.path.startswith(PUBLIC_PREFIXES)
        if request.user.is_authenticated and not public and not session_has_keys(request):
            user = request.user
            logout(request)
            audit_record(actor=user, action="auth.session_keys_gone", target=user)
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A ciphertext or key wrap that fails authentication: a clear page (409), an audit event, no text."""
        from waystation.vault.crypto import Tampered

        if not isinstance(exception, Tampered):
            return None
        actor = request.user if request.user.is_authenticated else None
        audit_record(actor=actor, action="vault.tampered")
        return render(request, "web/error.html", {"status": 409}, status=409)


class MergedRecordMiddleware:
    """A change asked of a record merged into another (``cases.access.MergedRecord``, from any case page or form):
    back to that record's page, which says it is read-only and links the record kept, with the refusal as a
    message. Nothing was changed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.contrib import messages

        from waystation.cases.access import MergedRecord

        if not isinstance(exception, MergedRecord):
            return None
        messages.error(request, exception.message)
        return redirect("cases:detail", exception.case_code)


class LoginRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not is_verified(request.user) and not request.path.startswith(SECOND_STEP_PREFIXES):
            return redirect_to_login(request.get_full_path(), "accounts:two_factor")
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """No third-party requests at all, no caching of pages that may show a case, no referrer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return protect(request, self.get_response(request))


def protect(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """SecurityHeadersMiddleware's headers, also for an answer made outside it (the database-unavailable page, when
    SessionMiddleware fails on the way out)."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _has_nul(data: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


class RejectNulBytesMiddleware:
    """A NUL byte is never valid input, and PostgreSQL refuses it in any query (a server error): answer 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):  # the JSON API refuses a NUL in any input itself, in JSON (422)
            return self.get_response(request)
        if "\x00" in request.path or _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            raise SuspiciousOperation("NUL byte in the request")
        return self.get_response(request)
