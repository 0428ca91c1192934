"""``waystation bench --smoke`` on stand-in scripts in a folder of their own: each runs in a process with its
smallest options, and the results (or the reason there are none) are gathered into results.json and results.md."""

from __future__ import annotations

import io
import json
from pathlib import Path

from django.core.management import call_command

# A stand-in for bench/intake.py: the options the real one has, results in its format, the arguments it got.
INTAKE = """
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, default=100_000)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()
here = pathlib.Path(__file__).parent
result = {"name": "intake_import_vs_bulk_create", "rows": args.rows, "rounds": args.rounds,
          "import_median_s": 0.5, "ratio": 2.5, "goal": 3.0, "meets": True}
(here / "results-intake.json").write_text(json.dumps([result]))
"""
# A stand-in for a script that breaks: no results file, exit status 3.
BROKEN = "import sys; print('failing on purpose'); sys.exit(3)\n"


def test_smoke_run_gathers_results_and_names_what_was_not_measured(tmp_path: Path) -> None:
    (tmp_path / "intake.py").write_text(INTAKE)
    (tmp_path / "linkage.py").write_text(BROKEN)
    (tmp_path / "results-linkage.json").write_text('[{"name": "stale", "meets": true}]')  # from an older run
    out, err = io.StringIO(), io.StringIO()

    call_command("bench", "--smoke", "--bench-dir", str(tmp_path), "--json", stdout=out, stderr=err)

    rows = json.loads((tmp_path / "results.json").read_text())
    assert rows == json.loads(out.getvalue())
    linkage, intake = rows  # in the suite's order
    assert intake["name"] == "intake_import_vs_bulk_create" and intake["script"] == "intake"
    assert (intake["rows"], intake["rounds"]) == (200, 1)  # the smallest options reached the script
    assert (intake["ratio"], intake["goal"], intake["meets"]) == (2.5, 3.0, True)
    assert linkage["script"] == "linkage" and linkage["meets"] is None and "exit status 3" in linkage["problem"]
    assert all(row["name"] != "stale" for row in rows)  # an old results file is not taken for this run's
    assert "linkage.py has no --rounds" in err.getvalue()  # smoke options a script lacks are said

    table = (tmp_path / "results.md").read_text()
    assert "smoke run" in table
    assert "| benchmark | script | ratio | goal | result | figures |" in table
    assert "| intake_import_vs_bulk_create | intake | 2.5 | 3 | PASS |" in table
    assert "| linkage | linkage | — | — | not measured | exit status 3 |" in table
    machine = next(line for line in table.splitlines() if line.startswith("Machine:"))
    for part in ("cores", "GiB RAM", "Python", "SQLite"):
        assert part in machine


def test_only_runs_the_scripts_named(tmp_path: Path) -> None:
    (tmp_path / "intake.py").write_text(INTAKE)
    (tmp_path / "linkage.py").write_text(BROKEN)
    call_command("bench", "--bench-dir", str(tmp_path), "--only", "intake", stdout=io.StringIO(), stderr=io.StringIO())
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["script"], r["rows"]) for r in rows] == [("intake", 100_000)]  # no --smoke: the script's own sizes
