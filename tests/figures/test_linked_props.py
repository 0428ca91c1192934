"""Figures of different indicators that count the same persons are protected together.

"People ever in care" by sex, "share of women" (women / everyone else) and "share of women who were trafficked"
(whose denominator is the women) are three releases of the same three numbers F, M and U. Protected each on its own,
"everyone else" (M + U) can be hidden in one while the total and F are shown in another: subtraction gives it back.
The attacker here knows every shown count exactly (not rounded) and searches every (F, M, U) of whole numbers that
agrees with everything shown in all three releases; a hidden non-zero cell whose value is the same in every such
world is worked out. The search is brute force, independent of the linear algebra ``protect`` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waystation.figures.disclosure import Cell, Key, Policy, Table, protect
from waystation.figures.releases import FiguresInconsistent, _joint_table, _scoped

POLICY = Policy()
SEARCH = range(0, 61)  # every count the attacker tries for F, M and U

# The cells of the three indicators as functions of (F, M, U).
CELLS: dict[str, dict[Key, Callable[[int, int, int], int]]] = {
    "persons_ever": {
        (): lambda f, m, u: f + m + u,
        (("sex", "F"),): lambda f, m, u: f,
        (("sex", "M"),): lambda f, m, u: m,
        (("sex", "U"),): lambda f, m, u: u,
    },
    "share_women": {
        (): lambda f, m, u: f + m + u,
        (("group", "yes"),): lambda f, m, u: f,
        (("group", "no"),): lambda f, m, u: m + u,
    },
    "share_women_trafficked": {(): lambda f, m, u: f},
}


def tables(f: int, m: int, u: int) -> dict[str, Table]:
    return {
        "persons_ever": Table.from_counts({"sex": ["F", "M", "U"]}, {("F",): f, ("M",): m, ("U",): u}),
        "share_women": Table.from_counts({"group": ["yes", "no"]}, {("yes",): f, ("no",): m + u}),
        "share_women_trafficked": Table(counts={(): f}),
    }


def separately(f: int, m: int, u: int) -> dict[str, Mapping[Key, Cell]]:
    return {name: protect(table, POLICY) for name, table in tables(f, m, u).items()}


def together(f: int, m: int, u: int) -> dict[str, Mapping[Key, Cell]]:
    joint = protect(_joint_table(tables(f, m, u)), POLICY)
    return {name: {key: joint[_scoped(name, key)] for key in cells} for name, cells in CELLS.items()}


def worked_out(released: dict[str, Mapping[Key, Cell]], truth: tuple[int, int, int]) -> list[str]:
    """The hidden non-zero cells that every world agreeing with the shown cells gives the same value."""
    shown = [
        (CELLS[name][key], cell.raw)
        for name, cells in released.items()
        for key, cell in cells.items()
        if cell.value is not None
    ]
    hidden = [
        (name, key)
        for name, cells in released.items()
        for key, cell in cells.items()
        if cell.value is None and cell.raw > 0
    ]
    values: dict[tuple[str, Key], set[int]] = {cell: set() for cell in hidden}
    for world in ((f, m, u) for f in SEARCH for m in SEARCH for u in SEARCH):
        if all(of(*world) == raw for of, raw in shown):
            for name, key in hidden:
                values[(name, key)].add(CELLS[name][key](*world))
    assert all(CELLS[n][k](*truth) in v for (n, k), v in values.items()), "the true world must agree with itself"
    return [f"{name}{dict(key)}" for (name, key), found in values.items() if len(found) == 1]


def test_protected_each_on_its_own_they_give_hidden_counts_away() -> None:
    # 30 women, 4 men, 1 of unknown sex. Apart: the sex table hides the women too (4 + 1 would otherwise be "total
    # minus women"), but the share of women who were trafficked shows the women as its denominator; and the share of
    # women hides "everyone else" (5) and the women, which the shown total and that denominator give back.
    given_away = sorted(worked_out(separately(30, 4, 1), (30, 4, 1)))
    assert given_away == ["persons_ever{'sex': 'F'}", "share_women{'group': 'no'}", "share_women{'group': 'yes'}"]
    assert worked_out(together(30, 4, 1), (30, 4, 1)) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 30), st.integers(0, 20), st.integers(0, 12))
def test_released_together_no_hidden_count_of_any_of_them_can_be_worked_out(f: int, m: int, u: int) -> None:
    assert worked_out(together(f, m, u), (f, m, u)) == []


def test_linked_counts_that_disagree_stop_the_release() -> None:
    broken = tables(30, 4, 1)
    broken["share_women_trafficked"] = Table(counts={(): 29})  # not the women of the sex table any more
    with pytest.raises(FiguresInconsistent, match="linked figures disagree") as refused:
        _joint_table(broken)
    assert not any(ch.isdigit() for ch in str(refused.value)), "the message names the figures, never a count"


def test_a_link_to_a_cell_an_indicator_no_longer_has_stops_the_release() -> None:
    renamed = tables(30, 4, 1)
    renamed["share_women"] = Table.from_counts({"group": ["women", "others"]}, {("women",): 30, ("others",): 5})
    with pytest.raises(FiguresInconsistent, match="missing"):
        _joint_table(renamed)
