"""The merge core: pure functions over field versions, which the database layer (``apply``, ``capture``) calls and
the property tests exercise with three replicas in memory.

Every write of a replicated row is stamped with a *dot* (its origin and that origin's running number) and a
*context*: the row's version vector at the writer when it wrote, ``{origin: highest number seen}``. A field's state
is the set of its versions that no other version known here has seen (a multi-value register):

- a version whose dot the state has already seen (some version's context or dot covers it) changes nothing: a
  duplicate, or an older write that a later one replaced (sequential);
- otherwise it joins the state, and every version it has seen leaves it.

Two versions left side by side were written without either writer having seen the other: concurrent. When their
values differ, that is a conflict that a coordinator resolves; until then every installation shows the same
winner (the higher hybrid logical clock; the clock string ends with the origin, so there are no ties). The state
reached is the set of maximal versions of all those received, whatever their order or repetition: merging is
idempotent, commutative and associative.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Vector = dict[str, int]


@dataclass(frozen=True)
class Version:
    """One value of one field, as written at ``origin`` (write number ``seq``) at clock ``hlc``."""

    origin: str
    seq: int
    hlc: str
    value: Any
    ctx: Mapping[str, int] = field(default_factory=dict)

    def seen_by(self, other: Version) -> bool:
        """``other``'s writer had seen this version (or it is this very write)."""
        if (other.origin, other.seq) == (self.origin, self.seq):
            return True
        return other.ctx.get(self.origin, 0) >= self.seq

    def as_list(self) -> list[Any]:
        return [self.origin, self.seq, self.hlc, self.value, dict(self.ctx)]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Version:
        origin, seq, hlc, value, ctx = raw
        return cls(origin=origin, seq=seq, hlc=hlc, value=value, ctx=ctx)


def merge(siblings: list[Version], incoming: Version) -> tuple[list[Version], bool]:
    """The field's state after ``incoming``, and whether it changed anything."""
    if any(incoming.seen_by(s) for s in siblings):
        return siblings, False
    kept = [s for s in siblings if not s.seen_by(incoming)] + [incoming]
    return sorted(kept, key=lambda v: v.hlc), True  # one order, whatever the order of arrival


def winner(siblings: list[Version]) -> Version:
    return max(siblings, key=lambda v: v.hlc)


def in_conflict(siblings: list[Version], *, sensitive: bool = False) -> bool:
    """Concurrent versions with different values. A sensitive field's values are ciphertexts, which differ for the
    same text: any two concurrent versions of it are a conflict (the same answer at every installation), unless a
    shred blanked them."""
    if sensitive:
        return len(siblings) > 1 and any(v.value for v in siblings)
    return len({_key(v.value) for v in siblings}) > 1


def _key(value: Any) -> str:
    return repr(value)


def row_vector(fields: Mapping[str, list[Version]]) -> Vector:
    """Everything this row's state has seen, as a version vector: the context of the next local write."""
    seen: Vector = {}
    for siblings in fields.values():
        for v in siblings:
            for origin, seq in [*v.ctx.items(), (v.origin, v.seq)]:
                if seq > seen.get(origin, 0):
                    seen[origin] = seq
    return seen


def local_write(
    fields: dict[str, list[Version]], values: Mapping[str, Any], *, origin: str, seq: int, hlc: str
) -> dict[str, Version]:
    """A write here of ``values`` (changes ``fields`` in place): it has seen everything the row holds, so each
    written field's state becomes the one new version (a conflict on it is settled by the write)."""
    ctx = row_vector(fields)
    written = {}
    for name, value in values.items():
        version = Version(origin=origin, seq=seq, hlc=hlc, value=value, ctx=ctx)
        fields[name] = [version]
        written[name] = version
    return written


# --- hybrid logical clock ------------------------------------------------------------------------------------------

WALL_DIGITS, COUNTER_DIGITS = 13, 6


def hlc_format(wall_ms: int, counter: int, origin: str) -> str:
    """Sortable as text: wall time in ms, then the counter, then the origin (which breaks every tie)."""
    return f"{wall_ms:0{WALL_DIGITS}d}{counter:0{COUNTER_DIGITS}d}{origin}"


def hlc_parse(stamp: str) -> tuple[int, int]:
    wall, counter = stamp[:WALL_DIGITS], stamp[WALL_DIGITS : WALL_DIGITS + COUNTER_DIGITS]
    if not (wall.isdigit() and counter.isdigit()):
        raise ValueError("not a hybrid logical clock")
    return int(wall), int(counter)


@dataclass
class Clock:
    """A hybrid logical clock: never goes back, moves past every clock received."""

    wall_ms: int = 0
    counter: int = 0

    def tick(self, origin: str, now_ms: int | None = None) -> str:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if now_ms > self.wall_ms:
            self.wall_ms, self.counter = now_ms, 0
        else:
            self.counter += 1
        return hlc_format(self.wall_ms, self.counter, origin)

    def receive(self, stamps: Iterable[str]) -> None:
        for stamp in stamps:
            wall, counter = hlc_parse(stamp)
            if (wall, counter) > (self.wall_ms, self.counter):
                self.wall_ms, self.counter = wall, counter


def blanked(siblings: list[Version]) -> list[Version]:
    """The versions of a shredded case's sensitive field: the same writes, their content gone (a shred wins over
    every edit of the case, earlier or later; its coded fields stay, as they do in ``vault.shred``)."""
    return [Version(v.origin, v.seq, v.hlc, "", v.ctx) for v in siblings]
