"""What the figures tests share: synthetic populations made cheaply on top of the personas' world."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from waystation import synth
from waystation.testing import vault as test_vault
from waystation.vault import userkeys

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(autouse=True)
def _cheap_staff_keys(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff accounts made by synth: the fixtures' cheap key wrapping and password hasher (see tests/cases)."""
    monkeypatch.setattr(userkeys, "KDF", test_vault.FIXTURE_KDF)
    settings.PASSWORD_HASHERS = [FAST_HASHER, *settings.PASSWORD_HASHERS]


@pytest.fixture
def synthetic(world: SimpleNamespace) -> Callable[[int, int], SimpleNamespace]:
    """``synthetic(persons, seed)``: the personas' small world plus that many synthetic persons (same seed, same
    persons), made through synth with the session's index key."""

    def make(persons: int, seed: int) -> SimpleNamespace:
        synth.generate(persons=persons, seed=seed, index_key=test_vault.index_key(), append=True)
        return world

    return make
