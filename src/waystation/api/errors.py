"""Every refusal as JSON ``{"detail": ..., "field": ..., "errors": ...}`` in the caller's language (Accept-Language),
with the status the pages would give: 404 for a record the caller may not know exists, 403 for one they may see
but not change, 400 for a rule of the domain, 409 for a key not held or a ciphertext that fails authentication."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from waystation.api.auth import ScopeMissing
from waystation.audit.services import audit_record
from waystation.lib.errors import ServiceError
from waystation.vault.crypto import Locked, Tampered
from waystation.web.forms import KEY_NOT_HELD


def _answer(api: NinjaAPI, request: HttpRequest, status: int, detail: object, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"detail": str(detail), **extra}, status=status)


def install(api: NinjaAPI) -> None:
    def not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 404, _("Not found."))

    def denied(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 403, _("You may not do this."))

    def unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
        response = _answer(api, request, 401, _("Give a valid API token: Authorization: Bearer <token>."))
        response["WWW-Authenticate"] = "Bearer"
        return response

    def throttled(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 429, _("Too many requests with this token. Wait a moment and try again."))

    def scope_missing(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 403, exc.message)

    def http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja's own refusals, in English: said again in the caller's language. The one it raises here is a body
        # that is not JSON.
        return _answer(api, request, exc.status_code, _("The request body is not valid JSON; nothing was changed."))

    def invalid(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 422, _("The request is not valid; nothing was changed."), errors=exc.errors)

    def refused(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 400, exc.message, field=exc.field)

    def locked(request: HttpRequest, exc: Any) -> HttpResponse:
        return _answer(api, request, 409, KEY_NOT_HELD)

    def tampered(request: HttpRequest, exc: Any) -> HttpResponse:
        caller = getattr(request, "auth", None)
        audit_record(actor=getattr(caller, "user", None), action="vault.tampered")
        return _answer(api, request, 409, _("Stored data failed verification; the incident is recorded."))

    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, denied)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(Throttled, throttled)
    api.add_exception_handler(ScopeMissing, scope_missing)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(ValidationError, invalid)
    api.add_exception_handler(ServiceError, refused)
    api.add_exception_handler(Locked, locked)
    api.add_exception_handler(Tampered, tampered)
