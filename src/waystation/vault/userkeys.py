"""A user's key pair: created with the account, its private half wrapped by the user's password (Argon2id).

Only the password unwraps it, so only a sign-in puts it in the key agent. A change of password by the user
re-wraps the same key pair (every record stays readable); a reset by an administrator, who does not know the old
password, makes a new pair, and the user's access is granted again by a holder of each key (``vault.grants``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from nacl.public import PrivateKey

from waystation.accounts.models import User
from waystation.lib import memory_hard
from waystation.vault import crypto
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, UserKey


@dataclass(frozen=True)
class Kdf:
    time_cost: int
    memory_kib: int
    lanes: int


# At least t=3 and 64 MiB (the protection model). The test fixtures alone replace this for their personas.
KDF = Kdf(time_cost=3, memory_kib=64 * 1024, lanes=1)
SALT_BYTES = 16


def derive_key(password: str, salt: bytes, kdf: Kdf) -> bytes:
    """The key that wraps a user's private key: Argon2id of the password, taking its turn among the process's
    memory-hard derivations (``lib.memory_hard``)."""
    with memory_hard.turn():
        return hash_secret_raw(
            password.encode(),
            salt,
            time_cost=kdf.time_cost,
            memory_cost=kdf.memory_kib,
            parallelism=kdf.lanes,
            hash_len=crypto.KEY_BYTES,
            type=Type.ID,
        )


def _ad(user_id: int, public_key: bytes) -> bytes:
    return b"waystation-user-key\x1f" + str(user_id).encode() + b"\x1f" + public_key


def _wrap(user: User, private: PrivateKey, password: str) -> dict[str, object]:
    salt = os.urandom(SALT_BYTES)
    kdf = KDF
    public = bytes(private.public_key)
    wrapped = crypto.encrypt(derive_key(password, salt, kdf), bytes(private), _ad(user.pk, public))
    return {
        "public_key": public,
        "wrapped_private": wrapped,
        "salt": salt,
        "kdf_time": kdf.time_cost,
        "kdf_memory_kib": kdf.memory_kib,
        "kdf_lanes": kdf.lanes,
    }


def create(user: User, password: str) -> PrivateKey:
    """A new key pair for ``user`` (replacing any old one), wrapped by ``password``; returns the private key.

    The wraps sealed to an old pair open nothing any more: they are deleted, so that ``grants.sync_user`` owes
    them again (kept, they would make every case of the user fail as tampered, and never be granted again)."""
    private = crypto.new_key_pair()
    CaseKeyWrap.objects.filter(holder=user).delete()
    IndexKeyWrap.objects.filter(holder=user).delete()
    UserKey.objects.update_or_create(user=user, defaults=_wrap(user, private, password))
    return private


def unlock(user: User, password: str) -> PrivateKey:
    """The user's private key. ``Locked`` without a key pair; ``Tampered`` for a wrong password or changed bytes."""
    key = UserKey.objects.filter(user=user).first()
    if key is None:
        raise crypto.Locked("This account has no key pair.")
    kdf = Kdf(key.kdf_time, key.kdf_memory_kib, key.kdf_lanes)
    public = bytes(key.public_key)
    secret = crypto.decrypt(
        derive_key(password, bytes(key.salt), kdf), bytes(key.wrapped_private), _ad(user.pk, public)
    )
    private = PrivateKey(secret)
    if bytes(private.public_key) != public:
        raise crypto.Tampered("The key pair does not match its public half.")
    return private


def rewrap(user: User, private: PrivateKey, password: str) -> None:
    """Wrap the same key pair under a new password."""
    UserKey.objects.filter(user=user).update(**_wrap(user, private, password))


def public_keys(user_ids: object) -> dict[int, bytes]:
    return {
        uid: bytes(pk) for uid, pk in UserKey.objects.filter(user_id__in=user_ids).values_list("user_id", "public_key")
    }
