"""Disclosure control over count tables: pure functions, no Django.

A table is a set of cells, each a count, and the linear constraints that tie them (a total is the sum of its cells,
a row margin the sum of its row). ``protect`` decides for every cell what may be shown:

1. primary suppression: a count from 1 to ``threshold - 1`` is hidden. A zero is shown as 0 (an empty category
   identifies nobody); where a zero would let a hidden cell be recovered, step 2 handles it like any shown cell.
2. secondary (complementary) suppression: while some constraint has exactly one hidden member, the smallest shown
   non-zero member of that constraint is hidden too; then, as a final check, no hidden cell may be determined by the
   shown cells and the constraints together (linear algebra over the hidden cells); if one is, another shown cell
   is hidden until none is.
3. rounding: shown counts are rounded to ``rounding_base`` (half up).
4. differencing: against the previous release of the same indicator, a cell whose count moved by less than the
   threshold since the count its last decision was made on (its ``basis``) keeps its previous released value, or
   stays hidden if it was hidden (status "held"), so that two releases side by side never show a change of a few
   persons, and a cell hidden last time is not shown now close to its hidden value. Cells held hidden take part
   in step 2 like primary ones. Unchanged cells are held too, so "held" does not tell whether a count moved.

Cells are keyed by a tuple of ``(dimension, code)`` pairs sorted by dimension; the grand total is ``()``; a 2-dim
table's row margin for sex F is ``(("sex", "F"),)``, the same key as the cell of a 1-dim table by sex, so tables of
the same indicator can be protected together (``Table.union``) and a total shown in one can never undo a
suppression in another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product

Key = tuple[tuple[str, str], ...]

SHOWN = "shown"
SUPPRESSED = "suppressed"
HELD = "held"

# Reasons, as codes (the CLI and the dashboard explain them).
PRIMARY = "primary"  # a count from 1 to threshold - 1
SECONDARY = "secondary"  # hidden so that a primary cell cannot be recovered by subtraction
HELD_CHANGE = "small_change"  # moved by less than the threshold since the previous release


@dataclass(frozen=True)
class Policy:
    threshold: int = 10
    rounding_base: int = 5
    min_denominator: int = 50

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.rounding_base < 1 or self.min_denominator < 1:
            raise ValueError("threshold, rounding base and minimum denominator must be at least 1")

    def as_dict(self) -> dict[str, int]:
        return {
            "threshold": self.threshold,
            "rounding_base": self.rounding_base,
            "min_denominator": self.min_denominator,
        }


class OutsideTable(ValueError):  # noqa: N818 - what the data holds, named for the reader of the message
    """Counts for a code the table does not list (a record holding a value outside its field's choices)."""


@dataclass(frozen=True)
class Constraint:
    """``total`` is the sum of ``parts``."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass
class Table:
    counts: dict[Key, int]
    constraints: list[Constraint] = field(default_factory=list)

    @classmethod
    def from_counts(cls, levels: Mapping[str, Sequence[str]], counts: Mapping[tuple[str, ...], int]) -> Table:
        """A 0-, 1- or 2-dimensional table with all its margins and its total.

        ``levels`` names the dimensions in order and the codes of each (every code gets a cell, zeros included);
        ``counts`` maps a tuple of codes (one per dimension) to its count; a missing combination counts 0.
        """
        dims = list(levels)
        if len(dims) > 2:
            raise ValueError("a table has at most two dimensions")
        unknown = [codes for codes in counts if len(codes) != len(dims) or not _known(codes, dims, levels)]
        if unknown:
            raise OutsideTable(f"counts for codes outside the table: {unknown[:3]}")
        if any(n < 0 for n in counts.values()):
            raise ValueError("counts cannot be negative")
        table = cls(counts={})
        for codes in product(*(levels[d] for d in dims)):
            table.counts[_key(zip(dims, codes, strict=True))] = counts.get(tuple(codes), 0)
        # Every subset of the dimensions is a margin: sum the interior cells into it.
        for keep in _subsets(dims):
            for codes in product(*(levels[d] for d in keep)):
                margin = _key(zip(keep, codes, strict=True))
                if margin in table.counts:
                    continue
                table.counts[margin] = sum(
                    n for key, n in table.counts.items() if len(key) == len(dims) and _within(key, margin)
                )
        # Each margin with one dimension fewer than a finer cell is the sum of those finer cells along one dimension.
        for dim in dims:
            coarse = {key for key in table.counts if dim not in dict(key)}
            for total in sorted(coarse):
                parts = tuple(_key([*total, (dim, code)]) for code in levels[dim])
                table.constraints.append(Constraint(total, parts))
        return table

    @classmethod
    def union(cls, tables: Iterable[Table]) -> Table:
        """Tables of the same population protected together: shared cells must agree."""
        merged = cls(counts={})
        seen: set[Constraint] = set()
        for table in tables:
            for key, n in table.counts.items():
                if merged.counts.setdefault(key, n) != n:
                    raise ValueError(f"tables disagree on {key}: {merged.counts[key]} and {n}")
            for constraint in table.constraints:
                if constraint not in seen:
                    seen.add(constraint)
                    merged.constraints.append(constraint)
        return merged


@dataclass(frozen=True)
class Cell:
    key: Key
    raw: int  # the true count now (never shown)
    value: int | None  # what is shown; None when hidden
    status: str  # SHOWN, SUPPRESSED or HELD
    reason: str
    basis: int  # the raw count of the decision shown (differs from raw when held); compared by the next release

    @property
    def rounded(self) -> bool:
        return self.status == SHOWN and self.value != self.raw


@dataclass(frozen=True)
class PreviousCell:
    value: int | None  # None when it was hidden
    basis: int


def round_to(n: int, base: int) -> int:
    return ((n + base // 2) // base) * base


def protect(
    table: Table, policy: Policy | None = None, previous: Mapping[Key, PreviousCell] | None = None
) -> dict[Key, Cell]:
    """Every cell of ``table`` as shown, suppressed or held, with the reason. See the module docstring."""
    policy = policy or Policy()
    previous = previous or {}
    counts = table.counts
    hidden = {key: PRIMARY for key, n in counts.items() if 0 < n < policy.threshold}
    held: dict[Key, PreviousCell] = {}
    for key, raw in counts.items():
        before = previous.get(key)
        if key in hidden or before is None:
            continue
        if abs(raw - before.basis) < policy.threshold:
            held[key] = before
            if before.value is None:
                hidden[key] = HELD_CHANGE  # hidden last time and barely moved: stays hidden
    # A cell held at the value it showed last time is public in effect (the reader has that value, and it has moved
    # by less than the threshold since): hiding it now would give a small cell no cover.
    public = {key for key, before in held.items() if before.value is not None}
    _complementary(table, hidden, threshold=policy.threshold, public=public)
    cells: dict[Key, Cell] = {}
    for key, raw in counts.items():
        reason = hidden.get(key)
        if reason == HELD_CHANGE:
            cells[key] = Cell(key, raw, None, HELD, reason, held[key].basis)
        elif reason is not None:
            cells[key] = Cell(key, raw, None, SUPPRESSED, reason, raw)
        elif key in held:
            cells[key] = Cell(key, raw, held[key].value, HELD, HELD_CHANGE, held[key].basis)
        else:
            cells[key] = Cell(key, raw, round_to(raw, policy.rounding_base), SHOWN, "", raw)
    return cells


def share(numerator: Cell, denominator: Cell, policy: Policy) -> int | None:
    """The percentage ``numerator / denominator`` (whole percent), or None when it could expose someone.

    Refused when either count is hidden, when the numerator or its complement (those not counted in it) is from 1
    to threshold - 1, or when the denominator is under ``policy.min_denominator``. It is computed from the counts
    the cells' released values were decided on (``basis``), so a held cell holds the percentage too.
    """
    if numerator.value is None or denominator.value is None:
        return None
    num, den = numerator.basis, denominator.basis
    complement = den - num
    if den < policy.min_denominator:
        return None
    if 0 < num < policy.threshold or 0 < complement < policy.threshold:
        return None
    return int(Fraction(100 * num, den) + Fraction(1, 2))


def determined(table: Table, hidden: Iterable[Key]) -> set[Key]:
    """The hidden cells whose value the constraints pin down, given every other cell's exact value.

    A hidden cell is determined when its unit vector lies in the row space of the constraints restricted to the
    hidden cells: reduce that matrix to row echelon form; a pivot column whose row has no other non-zero entry is
    fixed. (Shown values only move the right-hand side, which does not matter for whether a cell is fixed.)
    """
    columns = sorted(set(hidden))
    if not columns:
        return set()
    index = {key: i for i, key in enumerate(columns)}
    rows: list[list[Fraction]] = []
    for constraint in table.constraints:
        row = [Fraction(0)] * len(columns)
        for key in constraint.parts:
            if key in index:
                row[index[key]] += 1
        if constraint.total in index:
            row[index[constraint.total]] -= 1
        if any(row):
            rows.append(row)
    pivots = _row_reduce(rows, len(columns))
    return {columns[col] for r, col in pivots if sum(1 for x in rows[r] if x) == 1}


def _complementary(
    table: Table, hidden: dict[Key, str], *, threshold: int = 1, public: frozenset[Key] | set[Key] = frozenset()
) -> None:
    """Hide more cells until no hidden non-zero cell can be worked out, nor a small sum of hidden cells.

    Only hidden cells with a count above 0 give cover: a hidden 0 (a cell held hidden that dropped to 0) can be
    pinned by "no count is negative", which the linear check does not see, so it is treated as if shown. Cells in
    ``public`` (held at a value shown before) are not chosen as cover while another cell can be.

    Two rules per sum: a sum with exactly one hidden member gets a second one; a sum whose total is shown and whose
    hidden members add up to less than ``threshold`` (two hidden cells of 4 and 1 under a shown total: their 5 is
    "total minus the rest") gets one more, so that what subtraction gives is never a small count.
    """
    counts = table.counts

    def cover(members: tuple[Key, ...]) -> Key | None:
        candidates = [key for key in members if key not in hidden and counts[key] > 0]
        preferred = [key for key in candidates if key not in public] or candidates
        return min(preferred, key=lambda key: (counts[key], len(key) == 0, key)) if preferred else None

    while True:
        changed = False
        for constraint in table.constraints:
            members = constraint.members
            hidden_here = [key for key in members if key in hidden and counts[key] > 0]
            small_sum = (
                constraint.total not in hidden
                and len(hidden_here) >= 2
                and 0 < sum(counts[key] for key in hidden_here) < threshold
            )
            if len(hidden_here) != 1 and not small_sum:
                continue
            chosen = cover(members)
            if chosen is not None:
                hidden[chosen] = SECONDARY
                changed = True
        if changed:
            continue
        pinned = determined(table, _cover(table, hidden))
        if not pinned:
            return
        _unpin(table, hidden, pinned)


def _cover(table: Table, hidden: Iterable[Key]) -> list[Key]:
    return [key for key in hidden if table.counts[key] > 0]


def _unpin(table: Table, hidden: dict[Key, str], pinned: set[Key]) -> None:
    """Hide the smallest shown cell that frees a pinned one; failing that, hide the whole table."""
    counts = table.counts
    target = min(pinned)
    neighbours = {key for c in table.constraints if target in c.members for key in c.members}
    shown = sorted((key for key in counts if key not in hidden and counts[key] > 0), key=lambda k: (counts[k], k))
    for key in sorted(shown, key=lambda k: (k not in neighbours, counts[k], k)):
        if target not in determined(table, [*_cover(table, hidden), key]):
            hidden[key] = SECONDARY
            return
    for key in shown:
        hidden[key] = SECONDARY


def _row_reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduced row echelon form in place; returns (row, column) of each pivot."""
    pivots: list[tuple[int, int]] = []
    r = 0
    for col in range(width):
        pivot = next((i for i in range(r, len(rows)) if rows[i][col]), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][col]
        rows[r] = [x / lead for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][col]:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append((r, col))
        r += 1
        if r == len(rows):
            break
    return pivots


def _key(pairs: Iterable[tuple[str, str]]) -> Key:
    return tuple(sorted(pairs))


def _known(codes: tuple[str, ...], dims: list[str], levels: Mapping[str, Sequence[str]]) -> bool:
    return all(code in levels[dim] for dim, code in zip(dims, codes, strict=True))


def _within(key: Key, margin: Key) -> bool:
    return set(margin) <= set(key)


def _subsets(dims: list[str]) -> list[list[str]]:
    if len(dims) == 2:
        return [[dims[0]], [dims[1]], []]
    return [[]] if dims else []
