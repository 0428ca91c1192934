"""A coordinator imports a station's spreadsheet in a real Chromium: upload (sent by the page's script), map the
columns, check every row, import, watch the progress, read the result. No inline script, no console error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from waystation.cases.models import Person
from waystation.intake.models import ImportRun

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "intake"))
from intake_helpers import MESSY_ROWS  # noqa: E402

from waystation.testing.spreadsheets import csv_bytes  # noqa: E402

pytestmark = pytest.mark.browser
STATIONS = {"ALDER": "Lilac", "alder": "lilac", "BIRCH": "Birch"}


def test_coordinator_imports_a_register(cast: Any, open_page: Any, watch: Any, tmp_path: Path) -> None:
    rows = [[STATIONS.get(cell, cell) for cell in row] for row in MESSY_ROWS]
    register = tmp_path / "명부 2026.csv"
    register.write_bytes(csv_bytes(rows))

    page = open_page(cast.coordinator)
    page.get_by_role("link", name="Import a spreadsheet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import a spreadsheet")
    page.get_by_label("Spreadsheet (CSV or XLSX)").set_input_files(str(register))
    page.get_by_role("button", name="Upload and map the columns").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Map the columns")
    expect(page.get_by_label("D: 출생년도")).to_have_value("birth_year")
    page.get_by_role("button", name="Check every row").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check before importing")
    expect(page.locator("#counts")).to_contain_text("Persons to create: 5.")
    assert Person.objects.count() == 0
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Import result", timeout=60_000)
    expect(page.locator("#import-result")).to_contain_text("Persons created: 5.")
    assert Person.objects.count() == 5
    assert ImportRun.objects.get().actor == cast.coordinator
    watch.assert_clean()
