"""Bearer-token authentication with one scope per endpoint, the per-token rate limit, and the request's keys.

Every operation names its scope with ``auth=Token(Scope.X)``; the API's default, ``Token(None)``, refuses every
request, so an endpoint that forgot to declare one is unreachable (and ``tests/api`` walks the routes to say so).
A token is usable for a scope when it carries the scope *and* its owner's role still allows it (a role changed
since the token was made narrows it at once).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer
from ninja.throttling import SimpleRateThrottle

from waystation.api.tokens import Caller, caller_for, scopes_for
from waystation.vault.keyring import Keyring, acting


class ScopeMissing(HttpError):
    def __init__(self, scope: str) -> None:
        super().__init__(403, _("This token does not carry the scope %(scope)s.") % {"scope": scope})


class Token(HttpBearer):
    def __init__(self, scope: str | None) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        caller = caller_for(token)
        if caller is None:
            return None
        if self.scope is None or self.scope not in set(caller.token.scopes) & scopes_for(caller.user):
            raise ScopeMissing(self.scope or "-")
        return caller


class SettingRateThrottle(SimpleRateThrottle):
    """So many requests a minute, the number a setting (from the environment) names, counted in the cache. The rate
    is read at each request, so that a changed setting applies without building the API again. Also the sync
    endpoints' limit (``sync.views``)."""

    setting = "API_REQUESTS_PER_MINUTE"

    def get_rate(self) -> str | None:
        return f"{getattr(settings, self.setting)}/min"

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


class TokenRateThrottle(SettingRateThrottle):
    """``API_REQUESTS_PER_MINUTE`` requests a minute per token."""

    scope = "api_token"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        caller = getattr(request, "auth", None)
        if not isinstance(caller, Caller):
            return None
        return self.cache_format % {"scope": self.scope, "ident": caller.token.pk}


def caller_of(request: HttpRequest) -> Caller:
    return request.auth  # type: ignore[attr-defined]  # set by Token before the operation runs


def with_token_keys(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run the operation with the keyring the token opened current, for this request only (never the agent)."""

    @wraps(func)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        caller = caller_of(request)
        with acting(caller.user, Keyring(caller.user, caller.private_key)):
            return func(request, *args, **kwargs)

    return run
