"""A coordinator finds one woman recorded twice, compares the two records side by side, merges them from the queue
and undoes the merge, in a real Chromium. No inline script, no console error, no request off the server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from waystation.linkage.models import Merge

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "linkage"))
from merge_helpers import NAMES, TWICE  # noqa: E402

pytestmark = pytest.mark.browser


def test_coordinator_merges_a_pair_from_the_queue_and_undoes_it(
    cast: Any, make_person: Any, open_page: Any, watch: Any
) -> None:
    hangul, romanized, _mr = NAMES
    one = make_person(**TWICE, name_hangul=hangul, name_romanized="")
    other = make_person(**TWICE, name_hangul="", name_romanized=romanized)
    left, right = sorted([one, other], key=lambda p: p.case_code)

    page = open_page(cast.coordinator)
    page.get_by_role("link", name="Possible duplicates").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Possible duplicates")
    expect(page.get_by_text("No pair to review.")).to_be_visible()
    page.get_by_role("button", name="Look for duplicates now").click()
    row = page.get_by_role("row").filter(has_text=left.case_code)
    expect(row).to_contain_text(right.case_code)
    expect(row).to_contain_text("Same name in Hangul")
    row.get_by_role("link", name="Compare").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Compare two records")
    expect(page.locator("main")).to_contain_text(hangul)
    expect(page.locator("main")).to_contain_text(romanized)
    page.get_by_role("button", name=f"Same person: merge into {right.case_code} (right)").click()

    expect(page.get_by_role("status")).to_contain_text(f"Case {left.case_code} was merged into case {right.case_code}.")
    page.get_by_role("link", name="Cases", exact=True).click()
    expect(page.locator("#case-rows")).to_contain_text(right.case_code)
    expect(page.locator("#case-rows")).not_to_contain_text(left.case_code)

    page.goto(f"/cases/{left.case_code}/")
    expect(page.locator("main")).to_contain_text(f"This record was merged into {right.case_code}")
    expect(page.locator("main")).to_contain_text(f"This record is read-only: record anything new on {right.case_code}.")
    page.get_by_role("link", name=right.case_code).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(right.case_code)

    page.goto("/duplicates/merges/")
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text(f"case {left.case_code} is a record of its own again")
    expect(page.get_by_role("cell", name="Undone by coord-hana", exact=False)).to_be_visible()
    assert Merge.objects.get().undone_by == cast.coordinator
    page.get_by_role("link", name="Cases", exact=True).click()
    expect(page.locator("#case-rows")).to_contain_text(left.case_code)
    watch.assert_clean()
