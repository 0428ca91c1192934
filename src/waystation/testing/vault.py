"""The vault in the test fixtures: one recovery key and index key for the whole test session, a cheaper Argon2id
for the personas' key pairs (as the personas' passwords use a fast hasher), and keys put into the agent as a
sign-in would. Nothing here is used by the app itself; the encryption path is the app's own, unchanged.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import shamir_mnemonic
from nacl.public import PrivateKey

from waystation.accounts.models import User
from waystation.vault import crypto, grants, setup, userkeys
from waystation.vault.agent import AGENT
from waystation.vault.keyring import Keyring
from waystation.vault.models import IndexKeyWrap, RecoveryKey

# Personas only: the production parameters (t=3, 64 MiB) cost ~0.15 s a key pair, and the suite makes thousands.
FIXTURE_KDF = userkeys.Kdf(time_cost=1, memory_kib=8, lanes=1)
THRESHOLD, SHARES = 2, 3


@functools.cache
def recovery_key() -> PrivateKey:
    return crypto.new_key_pair()


@functools.cache
def recovery_shares() -> tuple[str, ...]:
    return tuple(shamir_mnemonic.generate_mnemonics(1, [(THRESHOLD, SHARES)], bytes(recovery_key()))[0])


@functools.cache
def index_key() -> bytes:
    return crypto.new_key()


def ensure_vault() -> None:
    """The vault set up in this test's database with the session's recovery and index keys."""
    if RecoveryKey.objects.exists():
        return
    public = bytes(recovery_key().public_key)
    RecoveryKey.objects.create(public_key=public, threshold=THRESHOLD, shares=SHARES)
    IndexKeyWrap.objects.create(holder=None, sealed=crypto.seal_to(public, index_key()))


@contextlib.contextmanager
def persona_keys() -> Iterator[None]:
    """Inside: the vault is set up and new key pairs use ``FIXTURE_KDF`` (wrap the creation of a persona)."""
    ensure_vault()
    real, userkeys.KDF = userkeys.KDF, FIXTURE_KDF
    try:
        yield
    finally:
        userkeys.KDF = real


def persona_ready(user: User, password: str) -> None:
    """After creating a persona: the index key and any wrap owed to them, and their keys in the agent, as if a
    coordinator had signed in since and they had just signed in themselves."""
    give_index_key(user)
    pay_pending()
    unlock(user, password)


def index_keyring() -> Keyring:
    keyring = Keyring(None, None)
    keyring.adopt_index_key(index_key())
    return keyring


def give_index_key(user: User) -> None:
    grants.grant_index_key(index_keyring(), user)


def unlock(user: User, password: str, handle: str | None = None) -> PrivateKey:
    """Open ``user``'s key pair with ``password`` and hold it in the agent (as the sign-in does)."""
    private = userkeys.unlock(user, password)
    AGENT.put(handle or f"fixture:{user.pk}", user.pk, private)
    return private


def pay_pending() -> None:
    """Make every wrap still owed, with the recovery key (as ``waystation vault recover`` would): a persona made
    after the cases it is entitled to holds their keys at once, as if a coordinator had signed in since."""
    from waystation.vault.models import PendingGrant

    owed = set(PendingGrant.objects.filter(person__isnull=False).values_list("person_id", flat=True))
    if not owed:
        return
    keyring = setup.recovery_keyring(recovery_key(), owed)
    grants.sync(keyring, sorted(owed))


def opened(obj: object, name: str) -> object:
    """The plaintext of a sensitive field, opened with the recovery key (tests only: what was stored)."""
    from waystation.vault.fields import open_value

    case_id = obj.vault_case_id  # type: ignore[attr-defined]
    return open_value(setup.recovery_keyring(recovery_key(), [case_id]), obj, name)  # type: ignore[arg-type]
