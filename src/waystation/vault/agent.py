"""The key agent: unwrapped private keys of signed-in users, in this process's memory only.

An entry is put here by a sign-in (the password unwraps the user's key pair), named by a digest of the session
key, and dropped by sign-out, quick exit, the end of the user's sessions, a duress sign-in, the kill switch, or
``IDLE_SECONDS`` without use. Nothing here is ever written anywhere: a restart leaves nothing to decrypt with,
and a session whose keys are gone is signed out (``waystation.web.middleware.VaultKeysMiddleware``).

The server therefore runs one worker process (with threads): a second process would have an agent of its own.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from nacl.public import PrivateKey


@dataclass
class Entry:
    user_id: int
    private_key: PrivateKey
    last_used: float


def handle_for(session_key: str) -> str:
    """The agent's name for a session: a digest, so that the agent does not hold session keys either."""
    return hashlib.sha256(b"waystation-agent\x1f" + session_key.encode()).hexdigest()


class Agent:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    @staticmethod
    def idle_seconds() -> int:
        """The session's idle timeout less its renewal step (``accounts.sessions.renew_every_seconds``): a session
        renewed a little before its last request ends that much sooner, and its keys must not outlive it."""
        from waystation.accounts.sessions import renew_every_seconds

        default = settings.SESSION_COOKIE_AGE - renew_every_seconds()
        return int(getattr(settings, "VAULT_AGENT_IDLE_SECONDS", default))

    def _expire(self, now: float) -> None:
        limit = self.idle_seconds()
        for handle in [h for h, e in self._entries.items() if now - e.last_used > limit]:
            del self._entries[handle]

    def put(self, handle: str, user_id: int, private_key: PrivateKey) -> None:
        with self._lock:
            self._entries[handle] = Entry(user_id, private_key, time.monotonic())

    def get(self, handle: str) -> Entry | None:
        """The entry of a session, refreshed; ``None`` when there is none or it has been idle too long."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(handle)
            if entry is not None:
                entry.last_used = now
            return entry

    def for_user(self, user_id: int) -> PrivateKey | None:
        """The private key of ``user_id`` if any of their sessions holds it (services act for the signed-in actor)."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            found = [e for e in self._entries.values() if e.user_id == user_id]
            if not found:
                return None
            latest = max(found, key=lambda e: e.last_used)
            return latest.private_key

    def drop(self, handle: str) -> None:
        with self._lock:
            self._entries.pop(handle, None)

    def drop_user(self, user_id: int) -> int:
        with self._lock:
            handles = [h for h, e in self._entries.items() if e.user_id == user_id]
            for handle in handles:
                del self._entries[handle]
            return len(handles)

    def drop_all(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


AGENT = Agent()
