"""The real benchmark scripts' smoke versions run in CI (issue 7: "CI runs a small smoke version of it (correctness
of the harness, not timings)"). Those that make their own data in seconds run here through ``waystation bench
--smoke``, from a copy in a temporary folder (their data and results go there, not into ``bench/``); the timings
are not judged, only that each script measured and reported every row it promises. The scripts that need the
100,000-person databases or a PostgreSQL load database are run by ``make bench`` only.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

BENCH = Path(__file__).resolve().parents[2] / "bench"
# script: the rows it reports
QUICK = {
    "case_page": {"case_page_vault_vs_plain", "case_page_field_vs_plain"},
}


@pytest.mark.parametrize("script", sorted(QUICK))
def test_a_real_script_runs_its_smoke_version_and_reports_its_rows(
    script: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the scripts' own SQLite databases, in either pass
    for name in ("_bench.py", f"{script}.py"):
        shutil.copy(BENCH / name, tmp_path / name)
    out, err = io.StringIO(), io.StringIO()

    call_command("bench", "--smoke", "--only", script, "--bench-dir", str(tmp_path), "--json", stdout=out, stderr=err)

    rows = json.loads(out.getvalue())
    assert {row["name"] for row in rows} == QUICK[script], err.getvalue()[-2000:]
    for row in rows:
        assert row["script"] == script and row["smoke"] is True
        assert isinstance(row["meets"], bool) and row["ratio"] > 0, row
