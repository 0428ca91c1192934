"""Fixtures of the API tests: a token for a persona, made as the token page makes it (with the keys the persona's
sign-in holds), and a client that sends it as ``Authorization: Bearer``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from waystation.accounts.models import User
from waystation.api import tokens
from waystation.vault.agent import AGENT


def make_token(user: User, scopes: list[str] | None = None, days: int = 30) -> str:
    private = AGENT.for_user(user.pk)
    assert private is not None, f"{user} holds no keys"
    return tokens.token_create(actor=user, private_key=private, name="test device", scopes=scopes, days=days).plaintext


class ApiClient(Client):
    def __init__(self, token: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token

    def generic(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return super().generic(method, path, *args, headers=headers, **kwargs)


@pytest.fixture
def api_client() -> Callable[..., ApiClient]:
    def make(user: User | None = None, *, scopes: list[str] | None = None, token: str | None = None) -> ApiClient:
        if token is None and user is not None:
            token = make_token(user, scopes)
        return ApiClient(token)

    return make


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> Any:
    """Each test starts with no request counted against any token (the counts live in the cache)."""
    cache.clear()
    yield
    cache.clear()
