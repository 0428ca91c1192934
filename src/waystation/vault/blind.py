"""Blind indexes: exact search by name, and duplicate blocking, without a plaintext name anywhere.

Each of a person's names (Hangul, romanized, Chinese, every alias) is normalised (Unicode NFKC, case folded,
spaces, hyphens and dots removed) and stored only as HMAC-SHA256 under the organisation's index key, truncated to
128 bits. The index key is wrapped for each user like a case key, so the digests cannot be tested against a list
of names by someone who has the database but no user's password.

The same key also digests each person's name keys (``waystation.linkage.keys``: the Hangul and phonetic keys of
every name, ``kind`` h and p), under another label so that a key's digest never equals a name's. Two spellings of
one name share a key, so they share its digest: the duplicate finder (``linkage.live``) compares digests alone and
never decrypts a name. Surname keys (kind s) are NOT stored: a few hundred surnames, one in five people a Kim, so
their digests would fall to counting (the most frequent digest is 김) and would tell each person's surname to
anyone holding the database. The live finder therefore cannot tell "same surname only" from "different names".
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Iterable

from waystation.linkage.keys import name_key_sets
from waystation.vault.keyring import Keyring
from waystation.vault.models import NameIndex

Kind = NameIndex.Kind
# Full-name keys only: a surname key's digest is frequency-analysable (see the module docstring).
STORED_KINDS = (Kind.HANGUL_KEY, Kind.PHONETIC_KEY)

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


def key_digest(key: bytes, name_key: str) -> str:
    """The digest of one name key (``h:이|명희``), labelled apart from the digests of whole names."""
    return hmac.new(key, b"namekey\x1f" + name_key.encode(), hashlib.sha256).hexdigest()[:DIGEST_HEX]


def key_digests(key: bytes, names: Iterable[str]) -> dict[str, set[str]]:
    """{kind: digests} of the name keys of ``names`` that are stored: full-name keys only (``STORED_KINDS``)."""
    return {
        kind: {key_digest(key, k) for k in keys} for kind, keys in name_key_sets(names).items() if kind in STORED_KINDS
    }


def digest_rows(key: bytes, names: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, digest) of every digest row of a person: her names (kind name) and their full-name keys (kinds h
    and p). The bulk writers (``lib.bulk.index_names``) insert these as they are."""
    names = list(names)
    found = [(Kind.NAME.value, d) for d in sorted(digests(key, names))]
    for kind, values in sorted(key_digests(key, names).items()):
        found.extend((str(kind), d) for d in sorted(values))
    return found


def rows(person_id: uuid.UUID, key: bytes, names: Iterable[str]) -> list[NameIndex]:
    """Every digest row of a person, as ``digest_rows``."""
    return [NameIndex(person_id=person_id, kind=kind, digest=d) for kind, d in digest_rows(key, names)]


def reindex(keyring: Keyring, person_id: uuid.UUID, names: Iterable[str]) -> None:
    """Replace a person's digests (of her names and of their name keys) with those of ``names``."""
    new = rows(person_id, keyring.index_key(), names)
    NameIndex.objects.filter(person_id=person_id).delete()
    NameIndex.objects.bulk_create(new)


def matching(keyring: Keyring, text: str) -> set[uuid.UUID]:
    """The persons with a name equal to ``text`` once both are normalised."""
    if not normalise(text):
        return set()
    found = NameIndex.objects.filter(kind=Kind.NAME, digest=digest(keyring.index_key(), text))
    return set(found.values_list("person_id", flat=True))
