"""At most ``WAYSTATION_ARGON2_AT_ONCE`` memory-hard derivations at once in this process.

Each sign-in runs two Argon2id derivations on purpose: the password check (Django's hasher, 100 MiB) and the
unwrap of the user's key pair (``vault.userkeys``, 64 MiB). The server is one process with threads (the key agent
lives in it), so a burst of sign-ins (a shift starting, a load test) would run one derivation per thread at once:
eight threads, over a gigabyte resident. Derivations wait here for their turn instead; each still costs what it
costs (no parameter is weakened), and the process stays under its memory budget (bench/load.py measures it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

_lock = threading.Lock()
_gate: threading.BoundedSemaphore | None = None


def _the_gate() -> threading.BoundedSemaphore:
    global _gate
    with _lock:
        if _gate is None:
            _gate = threading.BoundedSemaphore(settings.WAYSTATION_ARGON2_AT_ONCE)
        return _gate


@contextmanager
def turn() -> Iterator[None]:
    """Hold one of the process's turns for a memory-hard derivation."""
    with _the_gate():
        yield
