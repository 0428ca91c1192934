"""The keys at hand for one unit of work (a service call, a page), taken from the agent for the acting user.

``with acting(actor):`` makes a keyring current; the sensitive field types (``vault.fields``) encrypt with it on
save and ``vault.reveal`` decrypts with it. A keyring opens a case's data key from the actor's own wrap only, and
keeps what it opened for its own lifetime, never longer. A case created inside it gets a fresh data key, which is
wrapped for everyone entitled (and the recovery key) before the block ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

from nacl.public import PrivateKey

from waystation.accounts.models import User
from waystation.vault import crypto
from waystation.vault.agent import AGENT
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap

KEY_VERSION = 1


class Keyring:
    def __init__(self, user: User | None, private_key: PrivateKey | None) -> None:
        self.user = user
        self.private_key = private_key
        self._deks: dict[uuid.UUID, bytes] = {}
        self.new_cases: set[uuid.UUID] = set()
        self._index_key: bytes | None = None
        self._opener = crypto.Opener(private_key) if private_key is not None else None

    def _unseal(self, sealed: bytes) -> bytes:
        if self._opener is None:
            raise crypto.Locked("No keys are open for this user: sign in again.")
        return self._opener.open(sealed)

    def case_key(self, case_id: uuid.UUID) -> bytes:
        """The data key of a case, from this user's wrap. ``Locked`` when the user holds none."""
        key = self._deks.get(case_id)
        if key is not None:
            return key
        if self.user is None or self.private_key is None:
            raise crypto.Locked("No keys are open: sign in again.")
        sealed = (
            CaseKeyWrap.objects.filter(person_id=case_id, holder=self.user).values_list("sealed", flat=True).first()
        )
        if sealed is None:
            raise crypto.Locked("You hold no key to this case.")
        key = self._unseal(bytes(sealed))
        self._deks[case_id] = key
        return key

    def prefetch(self, case_ids: list[uuid.UUID]) -> None:
        """Open the keys of many cases with one query (a list page), where this user holds them."""
        if self.user is None or self.private_key is None:
            return
        wanted = [c for c in case_ids if c not in self._deks]
        rows = CaseKeyWrap.objects.filter(person_id__in=wanted, holder=self.user).values_list("person_id", "sealed")
        for case_id, sealed in rows:
            self._deks[case_id] = self._unseal(bytes(sealed))

    def has_case_key(self, case_id: uuid.UUID) -> bool:
        try:
            self.case_key(case_id)
        except crypto.Locked:
            return False
        return True

    def new_case_key(self, case_id: uuid.UUID) -> bytes:
        """A fresh data key for a case being created now (kept until wrapped; see ``vault.grants``)."""
        if case_id not in self._deks:
            self._deks[case_id] = crypto.new_key()
            self.new_cases.add(case_id)
        return self._deks[case_id]

    def key_for_write(self, case_id: uuid.UUID, *, creating: bool) -> bytes:
        if creating and case_id not in self._deks:
            return self.new_case_key(case_id)
        return self.case_key(case_id)

    def index_key(self) -> bytes:
        """The organisation's blind-index key, from this user's wrap."""
        if self._index_key is None:
            if self.user is None:
                raise crypto.Locked("The index key needs a signed-in user.")
            sealed = IndexKeyWrap.objects.filter(holder=self.user).values_list("sealed", flat=True).first()
            if sealed is None:
                raise crypto.Locked("You do not hold the index key yet.")
            self._index_key = self._unseal(bytes(sealed))
        return self._index_key

    def adopt_index_key(self, key: bytes) -> None:
        """For the set-up commands, which create the index key and hold it for the rest of their run."""
        self._index_key = key

    def adopt_case_key(self, case_id: uuid.UUID, key: bytes) -> None:
        """For recovery and grants: a case key opened by other means (the recovery key)."""
        self._deks[case_id] = key


_current: contextvars.ContextVar[Keyring | None] = contextvars.ContextVar("waystation_keyring", default=None)


def current() -> Keyring:
    keyring = _current.get()
    if keyring is None:
        raise crypto.Locked("No keyring is current: sensitive fields are written inside vault.acting(actor).")
    return keyring


def keyring_for(user: User | None) -> Keyring:
    """A keyring for ``user`` with the private key the agent holds for them (none for ``None``, or when absent)."""
    present = _current.get()
    if present is not None and user is not None and present.user is not None and present.user.pk == user.pk:
        return present
    private = AGENT.for_user(user.pk) if user is not None else None
    return Keyring(user, private)


@contextlib.contextmanager
def acting(user: User | None, keyring: Keyring | None = None) -> Iterator[Keyring]:
    """Make ``user``'s keyring current. The outermost block wraps the keys of cases created inside it."""
    present = _current.get()
    if keyring is None and present is not None and (present.user and present.user.pk) == (user and user.pk):
        yield present
        return
    keyring = keyring or keyring_for(user)
    token = _current.set(keyring)
    try:
        yield keyring
        from waystation.vault.grants import fulfil_if_owed, wrap_new_cases

        if keyring.new_cases:
            wrap_new_cases(keyring)
        fulfil_if_owed(keyring)
    finally:
        _current.reset(token)
