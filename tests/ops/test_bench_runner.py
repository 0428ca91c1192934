"""``waystation bench --smoke`` on stand-in scripts in a folder of their own: each runs in a process with its
smallest options, and the results (or the reason there are none) are gathered into results.json and results.md."""

from __future__ import annotations

import io
import json
import os
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


def _intake_with_ratio(ratio: float) -> str:
    return INTAKE.replace('"ratio": 2.5', f'"ratio": {ratio}')


# A stand-in for bench/linkage.py that measures: one result.
LINKAGE = """
import json, pathlib
here = pathlib.Path(__file__).parent
result = {"name": "linkage_f1_febrl3", "f1": 0.995, "ratio": None, "goal": 0.99, "meets": True}
(here / "results-linkage.json").write_text(json.dumps([result]))
"""


def test_only_replaces_that_scripts_rows_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "intake.py").write_text(INTAKE)
    (tmp_path / "linkage.py").write_text(LINKAGE)
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("bench", "--bench-dir", str(tmp_path), **quiet)
    first = json.loads((tmp_path / "results.json").read_text())
    assert [(r["name"], r["ratio"]) for r in first[:2]] == [
        ("linkage_f1_febrl3", None),
        ("intake_import_vs_bulk_create", 2.5),
    ]
    assert first[2]["name"] == "suite_time_vs_20_minutes"  # a full run's own row

    (tmp_path / "intake.py").write_text(_intake_with_ratio(2.75))
    (tmp_path / "linkage.py").write_text(BROKEN)  # would replace its row with a failure, were it run
    call_command("bench", "--bench-dir", str(tmp_path), "--only", "intake", **quiet)

    rows = json.loads((tmp_path / "results.json").read_text())
    linkage, intake, suite = rows  # the suite's order kept
    assert linkage == first[0]  # the earlier run's row, untouched, with when it was measured
    assert suite == first[2]  # the suite's time is a full run's: --only keeps the last one's
    assert intake["ratio"] == 2.75 and intake["measured"] >= linkage["measured"]
    table = (tmp_path / "results.md").read_text()
    assert "| linkage_f1_febrl3 | linkage | — | 0.99 | PASS |" in table
    assert "| intake_import_vs_bulk_create | intake | 2.75 | 3 | PASS |" in table
    assert "Not run for these results: case_page, case_list, pages, figures, sync, load." in table


# A stand-in for a script that makes its database first (bench/_bench.py's marker) and takes a moment.
GENERATES = """
import json, pathlib, time
here = pathlib.Path(__file__).parent
(here / ".data" / "figures-1000").mkdir(parents=True)
(here / ".data" / "figures-1000" / "bench-ready.json").write_text("{}")
(here / ".data" / "load-1000" / "bench-ready.json").write_text("{}")  # made again
time.sleep(0.3)
(here / "results-figures.json").write_text(json.dumps([{"name": "x", "ratio": 1, "goal": 1, "meets": True}]))
"""


def test_a_full_run_times_the_suite_against_its_goal_and_names_what_it_generated(tmp_path: Path) -> None:
    (tmp_path / "figures.py").write_text(GENERATES)
    (tmp_path / "intake.py").write_text(INTAKE)
    for earlier in ("list-1000", "load-1000"):  # made by an earlier run
        (tmp_path / ".data" / earlier).mkdir(parents=True)
        (tmp_path / ".data" / earlier / "bench-ready.json").write_text("{}")
        os.utime(tmp_path / ".data" / earlier / "bench-ready.json", ns=(10**18, 10**18))
    call_command("bench", "--bench-dir", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())

    suite = json.loads((tmp_path / "results.json").read_text())[-1]
    assert suite["name"] == "suite_time_vs_20_minutes" and suite["script"] == "runner"
    assert suite["per_script_s"].keys() == {"figures", "intake"}
    assert suite["seconds"] + 2 >= sum(suite["per_script_s"].values()) and suite["seconds"] < 60  # each rounded
    assert suite["generated"] == ["figures-1000", "load-1000"]  # made, or made again; not list-1000
    assert (suite["goal"], suite["meets"]) == (1.0, True) and suite["ratio"] == round(suite["seconds"] / 1200, 2)
    assert "| suite_time_vs_20_minutes | runner |" in (tmp_path / "results.md").read_text()


def test_only_keeps_no_smoke_rows_in_a_full_run_nor_full_ones_in_a_smoke_run(tmp_path: Path) -> None:
    (tmp_path / "intake.py").write_text(INTAKE)
    (tmp_path / "linkage.py").write_text(LINKAGE)
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("bench", "--smoke", "--bench-dir", str(tmp_path), **quiet)
    assert all(row["smoke"] is True for row in json.loads((tmp_path / "results.json").read_text()))

    call_command("bench", "--bench-dir", str(tmp_path), "--only", "intake", **quiet)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["script"], r.get("smoke")) for r in rows] == [("intake", None)]  # the smoke linkage row is gone

    call_command("bench", "--smoke", "--bench-dir", str(tmp_path), "--only", "linkage", **quiet)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [(r["script"], r.get("smoke")) for r in rows] == [("linkage", True)]


def test_every_smoke_option_is_one_the_real_script_has() -> None:
    """Each real script's --help lists every option SMOKE_OPTIONS gives it: a smoke run never generates the full
    100,000-person databases because an option is misspelt or missing (sync's was --smoke for its --small)."""
    from waystation.ops import bench

    folder = bench.default_bench_dir()
    for script in bench.scripts_in(folder, []):
        chosen = bench.smoke_args(script)
        assert not bench.unsupported_smoke(script, chosen), (script.name, chosen)
    assert "--sizes" in bench.smoke_args(folder / "case_list.py")
    assert "--sizes" in bench.smoke_args(folder / "figures.py")
