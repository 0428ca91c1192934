"""A person's name keys by kind, from all her names: what the matcher compares and the blind index stores.

A romanized name with a slip of the keyboard often reads as no Korean name at all (Son Jeonng, Lee Hyagn Ae) and
would give no key; such a name gets the keys of its one-slip repairs instead (:func:`typo_repairs`). On the
generated Korean set this raised F1 by about one point at every size measured (bench/linkage.py).

Pure and light (no Splink here): the vault imports it on every registration.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from .names import name_keys

HANGUL, PHONETIC, SURNAME = "h", "p", "s"
MAX_REPAIR_CHARS = 30


def keys_of_names(names: Iterable[str]) -> set[str]:
    """Every name key (``h:`` and ``p:``) of every name: a person's name and aliases, in any script."""
    keys: set[str] = set()
    for name in names:
        if name and name.strip():
            keys |= _keys_of_name(name)
    return keys


@lru_cache(maxsize=65536)
def _keys_of_name(name: str) -> frozenset[str]:
    """Cached: the generator and the file mode see the same common names again and again."""
    keys = frozenset(name_keys(name))
    if keys or not any("a" <= c <= "z" for c in name.lower()):  # only romanized names are repaired
        return keys
    return frozenset(k for variant in typo_repairs(name) for k in name_keys(variant))


def typo_repairs(name: str) -> list[str]:
    """A romanized name that reads as no Korean name, one slip of the keyboard undone: each letter dropped, each
    pair of neighbours swapped. Only for names that give no key at all, so a name that reads fine is never
    second-guessed; bounded by ``MAX_REPAIR_CHARS``."""
    text = name.strip()[:MAX_REPAIR_CHARS]
    variants = [text[:i] + text[i + 1 :] for i in range(len(text))]
    variants += [text[:i] + text[i + 1] + text[i] + text[i + 2 :] for i in range(len(text) - 1)]
    return list(dict.fromkeys(v for v in variants if v.strip() and v != text))


def split_keys(keys: Iterable[str]) -> dict[str, frozenset[str]]:
    """``name_keys`` output by kind: Hangul (``h:``), phonetic (``p:``) and surname keys (``s:<cluster>``, the
    surname cluster of each phonetic key: a typo in the given name loses the other keys but keeps this one)."""
    keys = set(keys)
    phonetic = frozenset(k for k in keys if k.startswith("p:"))
    return {
        HANGUL: frozenset(k for k in keys if k.startswith("h:")),
        PHONETIC: phonetic,
        SURNAME: frozenset("s:" + k[2:].split("|", 1)[0] for k in phonetic),
    }


def name_key_sets(names: Iterable[str]) -> dict[str, frozenset[str]]:
    """A person's keys by kind, from all her names."""
    return split_keys(keys_of_names(names))
