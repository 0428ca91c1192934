"""Blind indexes: exact search by name, and duplicate blocking, without a plaintext name anywhere.

Each of a person's names (Hangul, romanized, Chinese, every alias) is normalised (Unicode NFKC, case folded,
spaces, hyphens and dots removed) and stored only as HMAC-SHA256 under the organisation's index key, truncated to
128 bits. The index key is wrapped for each user like a case key, so the digests cannot be tested against a list
of names by someone who has the database but no user's password.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Iterable

from waystation.vault.keyring import Keyring
from waystation.vault.models import NameIndex

DIGEST_HEX = 32
_DROP = str.maketrans("", "", " \t-.·'’\u3000")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_DROP)


def digest(key: bytes, text: str) -> str:
    return hmac.new(key, b"name\x1f" + normalise(text).encode(), hashlib.sha256).hexdigest()[:DIGEST_HEX]


def name_values(
    *, name_hangul: str = "", name_romanized: str = "", name_chinese: str = "", aliases: str = ""
) -> list[str]:
    values = [name_hangul, name_romanized, name_chinese, *aliases.splitlines()]
    return [v for v in values if normalise(v)]


def digests(key: bytes, names: Iterable[str]) -> set[str]:
    return {digest(key, name) for name in names if normalise(name)}


def rows(person_id: uuid.UUID, key: bytes, names: Iterable[str]) -> list[NameIndex]:
    return [NameIndex(person_id=person_id, digest=d) for d in sorted(digests(key, names))]


def reindex(keyring: Keyring, person_id: uuid.UUID, names: Iterable[str]) -> None:
    """Replace a person's digests with those of ``names``."""
    new = rows(person_id, keyring.index_key(), names)
    NameIndex.objects.filter(person_id=person_id).delete()
    NameIndex.objects.bulk_create(new)


def matching(keyring: Keyring, text: str) -> set[uuid.UUID]:
    """The persons with a name equal to ``text`` once both are normalised."""
    if not normalise(text):
        return set()
    return set(NameIndex.objects.filter(digest=digest(keyring.index_key(), text)).values_list("person_id", flat=True))
