"""Memory-hard derivations take turns in the server process (lib/memory_hard.py): a burst of sign-ins must not
run one 64-100 MiB Argon2id per thread at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
from django.test import override_settings

from waystation.lib import memory_hard
from waystation.vault import userkeys


class Overlap:
    """A stand-in for the derivation's work that notes how many ran at the same time."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def work(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        return b"\0" * 32 if "hash_len" in kwargs else True


def in_threads(*calls: Callable[[], object]) -> None:
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.fixture
def fresh_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_hard, "_gate", None)  # made again from the setting in force


@pytest.mark.parametrize(("at_once", "expected"), [(1, 1), (3, 3)])
def test_key_derivations_take_turns(
    fresh_gate: None, monkeypatch: pytest.MonkeyPatch, at_once: int, expected: int
) -> None:
    overlap = Overlap()
    monkeypatch.setattr(userkeys, "hash_secret_raw", overlap.work)
    with override_settings(WAYSTATION_ARGON2_AT_ONCE=at_once):
        in_threads(*[lambda: userkeys.derive_key("correct horse", b"s" * 16, userkeys.KDF)] * 4)
    assert overlap.most == expected  # with 3 turns, 3 of the 4 ran together: the measure does see overlaps


def test_password_checks_take_turns_with_them(fresh_gate: None, monkeypatch: pytest.MonkeyPatch) -> None:
    overlap = Overlap()
    monkeypatch.setattr(Argon2PasswordHasher, "verify", overlap.work)
    monkeypatch.setattr(userkeys, "hash_secret_raw", overlap.work)
    hasher = get_hasher("argon2")
    assert isinstance(hasher, Argon2PasswordHasher) and type(hasher) is not Argon2PasswordHasher
    with override_settings(WAYSTATION_ARGON2_AT_ONCE=1):
        check, unwrap = (
            (lambda: hasher.verify("correct horse", "argon2$x")),
            (lambda: userkeys.derive_key("correct horse", b"s" * 16, userkeys.KDF)),
        )
        in_threads(check, unwrap, check, unwrap)
    assert overlap.most == 1


def test_stored_password_hashes_still_verify() -> None:
    plain = Argon2PasswordHasher()
    encoded = plain.encode("a long enough password", plain.salt())
    assert get_hasher("argon2").verify("a long enough password", encoded)
