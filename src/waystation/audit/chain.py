"""The audit log as an RFC 6962 (Certificate Transparency) log: leaf hashes, a running chain hash, the Merkle tree head.

Pure functions over bytes and plain values, so that the migration, the services, verification and the tests share
exactly one definition of what an event's bytes are.

- canonical bytes of an event: JSON with sorted keys, no whitespace, UTF-8 (``canonical_event``);
- leaf hash = SHA-256(0x00 || canonical bytes)                                (RFC 6962 section 2.1);
- chain hash of event n = SHA-256(chain hash of event n-1 || leaf hash of n), with 32 zero bytes before event 1, so
  that verification can name the first broken link without building the tree;
- tree head over leaves D[0:n] = MTH(D), interior nodes SHA-256(0x01 || left || right), split at the largest power of
  two smaller than n; the empty tree's head is SHA-256 of nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

GENESIS = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def canonical_time(at: dt.datetime) -> str:
    """UTC, microseconds, always the same spelling: what the database stores is what gets hashed."""
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor_role: str,
    action: str,
    target_type: str,
    target_id: str,
    case_id: uuid.UUID | str | None,
    purpose: str,
    details: Any,
) -> bytes:
    body = {
        "seq": seq,
        "at": canonical_time(at),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "case_id": str(uuid.UUID(str(case_id))) if case_id not in (None, "") else None,
        "purpose": purpose,
        "details": details if details is not None else {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def leaf_hash(canonical: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_head(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]) of RFC 6962 over leaf hashes (already SHA-256(0x00 || entry)).

    Iterative and linear: the RFC's recursive split at the largest power of two gives the same tree as hashing full
    power-of-two subtrees from the left and folding the right edge in from the right.
    """
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    # Decompose n into descending powers of two; each full subtree hashed level by level.
    roots: list[bytes] = []
    start = 0
    remaining = n
    while remaining:
        size = 1 << (remaining.bit_length() - 1)
        level = list(leaves[start : start + size])
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        roots.append(level[0])
        start += size
        remaining -= size
    head = roots[-1]
    for root in reversed(roots[:-1]):
        head = node_hash(root, head)
    return head


def tree_head_recursive(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962's definition written out literally (for the tests and for anyone checking ``tree_head``)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _largest_power_of_two_below(n)
    return node_hash(tree_head_recursive(leaves[:k]), tree_head_recursive(leaves[k:]))
