"""The benchmark suite's runner: every ``bench/*.py`` script in a process of its own, their results gathered.

Each script writes ``bench/results-<name>.json`` (a list of objects: ``name``, the measured figures, ``ratio``,
``goal``, ``meets``). The runner collects the files written during this run into ``bench/results.json`` (one list,
each object with its ``script``) and ``bench/results.md`` (a table, with the machine it ran on). A script that fails,
or writes no results file, is listed too, with ``meets`` null and the reason: the suite's result says what was not
measured rather than leaving it out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The scripts, in the order they run (sync only where bench/sync.py exists). load needs PostgreSQL on 127.0.0.1:5432.
SCRIPTS = ("case_page", "case_list", "pages", "figures", "linkage", "intake", "sync", "load")
# --smoke: each script's smallest sizes and fewest rounds, among the options it has (checked against its --help).
SMOKE_OPTIONS: dict[str, list[str]] = {
    "case_page": ["--rounds", "2", "--per-round", "1"],  # its quartiles need two rounds
    "case_list": ["--rounds", "2", "--per-round", "1", "--sizes", "200,1000"],
    "pages": ["--databases", "sqlite", "--sizes", "200,1000", "--rounds", "2", "--per-round", "1"],
    "figures": ["--rounds", "1", "--per-round", "1", "--sizes", "200,1000"],
    "linkage": ["--rounds", "1", "--korean-persons", "200", "--skip-speed"],
    "intake": ["--rows", "200", "--rounds", "1"],
    "sync": ["--small", "--rounds", "1"],
    "load": ["--persons", "2000", "--seconds", "20", "--unloaded-seconds", "10", "--stress-seconds", "10"],
}
RESERVED = ("name", "script", "ratio", "goal", "meets", "measured", "smoke")
SUITE_GOAL_S = 20 * 60  # issue 7: "The suite must run in under 20 minutes on a 2-core machine"


def default_bench_dir() -> Path:
    """``bench/`` of the source checkout this package is installed from (editable), else of the current folder."""
    checkout = Path(__file__).resolve().parents[3] / "bench"
    return checkout if checkout.is_dir() else Path.cwd() / "bench"


@dataclass
class ScriptRun:
    script: str
    args: list[str]
    returncode: int | None = None
    seconds: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None


def smoke_args(script: Path) -> list[str]:
    """The smoke options of ``script`` that its ``--help`` lists (an option it lacks is left out)."""
    wanted = SMOKE_OPTIONS.get(script.stem, [])
    if not wanted:
        return []
    shown = subprocess.run(  # noqa: S603 - our own interpreter on a script of the checkout
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    chosen: list[str] = []
    for i, option in enumerate(wanted):
        if not option.startswith("--") or not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", shown):
            continue
        value = wanted[i + 1] if i + 1 < len(wanted) and not wanted[i + 1].startswith("--") else None
        chosen += [option] if value is None else [option, value]
    return chosen


def unsupported_smoke(script: Path, chosen: list[str]) -> list[str]:
    return [o for o in SMOKE_OPTIONS.get(script.stem, []) if o.startswith("--") and o not in chosen]


def scripts_in(bench_dir: Path, only: list[str]) -> list[Path]:
    names = only or [name for name in SCRIPTS if (bench_dir / f"{name}.py").is_file()]
    return [bench_dir / f"{name}.py" for name in names]


def run_script(script: Path, args: list[str], log: Callable[[str], None]) -> ScriptRun:
    """Run one script (its output passed through to ours) and read the results file it wrote in this run."""
    run = ScriptRun(script=script.stem, args=args)
    results_file = script.with_name(f"results-{script.stem}.json")
    results_file.unlink(missing_ok=True)  # only what this run writes is gathered
    started = time.monotonic()
    log(f"bench: {script.name} {' '.join(args)}".rstrip())
    completed = subprocess.run([sys.executable, str(script), *args], check=False)  # noqa: S603
    run.returncode = completed.returncode
    run.seconds = time.monotonic() - started
    if completed.returncode != 0:
        run.problem = f"exit status {completed.returncode}"
    if not results_file.is_file():
        run.problem = run.problem or f"wrote no {results_file.name}"
        return run
    try:
        loaded = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        run.problem = f"{results_file.name} is not readable JSON: {exc}"
        return run
    if not isinstance(loaded, list) or not all(isinstance(item, dict) and "name" in item for item in loaded):
        run.problem = f"{results_file.name} is not a list of objects with a name"
        return run
    run.results = loaded
    return run


def collect(runs: list[ScriptRun], *, measured: str, smoke: bool) -> list[dict[str, Any]]:
    """This run's rows, each with when it was ``measured`` (and ``smoke: true`` in a smoke run)."""
    stamp = {"measured": measured} | ({"smoke": True} if smoke else {})
    rows: list[dict[str, Any]] = []
    for run in runs:
        for item in run.results:
            rows.append(
                {"name": item["name"], "script": run.script}
                | {k: v for k, v in item.items() if k not in RESERVED}
                | {"ratio": item.get("ratio"), "goal": item.get("goal"), "meets": item.get("meets")}
                | stamp
            )
        if run.problem:
            rows.append(
                {"name": run.script, "script": run.script, "ratio": None, "goal": None, "meets": None}
                | {"problem": run.problem}
                | stamp
            )
    return rows


def ready_data(bench_dir: Path) -> dict[str, int]:
    """The benchmark databases present: the folders of ``bench/.data`` with their marker (``_bench.marker``,
    written last when a database is made), each with the marker's time: one made again has a new time."""
    markers = (bench_dir / ".data").glob("*/bench-ready.json")
    return {marker.parent.name: marker.stat().st_mtime_ns for marker in markers}


def generated_since(before: dict[str, int], after: dict[str, int]) -> set[str]:
    """The databases made (or made again) between the two readings of ``ready_data``."""
    return {name for name, made in after.items() if before.get(name) != made}


def suite_row(runs: list[ScriptRun], seconds: float, generated: set[str], *, measured: str) -> dict[str, Any]:
    """A full run's own row: how long the whole suite took against its goal, each script's share, and the
    databases it had to generate first (a run on databases made before is the shorter one)."""
    return {
        "name": "suite_time_vs_20_minutes",
        "script": "runner",
        "seconds": round(seconds),
        "per_script_s": {run.script: round(run.seconds) for run in runs},
        "generated": sorted(generated),
        "ratio": round(seconds / SUITE_GOAL_S, 2),
        "goal": 1.0,
        "meets": seconds < SUITE_GOAL_S,
        "measured": measured,
    }


def merged(bench_dir: Path, rows: list[dict[str, Any]], ran: list[str], *, smoke: bool) -> list[dict[str, Any]]:
    """``--only``: the rows of an existing ``results.json`` of the same kind (smoke or not) from the scripts that did
    not run, with this run's rows in place of those that did, in the suite's order of scripts."""
    try:
        loaded = json.loads((bench_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return rows
    if not isinstance(loaded, list):
        return rows
    kept = [
        row
        for row in loaded
        if isinstance(row, dict)
        and isinstance(row.get("script"), str)
        and row["script"] not in ran
        and bool(row.get("smoke")) == smoke
    ]
    order = {name: i for i, name in enumerate(SCRIPTS)}
    return sorted(kept + rows, key=lambda row: order.get(row["script"], len(order)))  # stable: each script's order


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": platform.platform(terse=True),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _figures(row: dict[str, Any]) -> str:
    """The measured figures that are single numbers, for the table (the JSON holds everything)."""
    shown = [
        f"{k} {_cell(v)}"
        for k, v in row.items()
        if k not in RESERVED and isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return ", ".join(shown[:6]) + (", ..." if len(shown) > 6 else "")


def markdown(rows: list[dict[str, Any]], info: dict[str, Any], *, smoke: bool) -> str:
    verdict = {True: "PASS", False: "FAIL", None: "not measured"}
    earlier = sorted({str(row["measured"]) for row in rows if row.get("measured", info["date"]) != info["date"]})
    lines = [
        "# Benchmark results" + (" (smoke run: harness only, the figures mean nothing)" if smoke else ""),
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM; {info['system']}; Python "
        f"{info['python']}, SQLite {info['sqlite']}; {info['date']}.",
        "",
        "| benchmark | script | ratio | goal | result | figures | measured |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    if earlier:  # --only kept the other scripts' rows of an earlier run, maybe on another machine
        lines[3:3] = [f"Some rows are from earlier runs ({', '.join(earlier)}): see their `measured` column.", ""]
    absent = [name for name in SCRIPTS if name not in {row["script"] for row in rows}]
    if absent:  # --only, with no earlier rows of theirs to keep
        lines[3:3] = [f"Not run for these results: {', '.join(absent)}.", ""]
    for row in rows:
        figures = row.get("problem") or _figures(row)
        lines.append(
            f"| {_cell(row['name'])} | {row['script']} | {_cell(row.get('ratio'))} | {_cell(row.get('goal'))} | "
            f"{verdict.get(row.get('meets'), _cell(row.get('meets')))} | {_cell(figures)} | "
            f"{_cell(row.get('measured'))} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(bench_dir: Path, rows: list[dict[str, Any]], info: dict[str, Any], *, smoke: bool) -> None:
    (bench_dir / "results.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (bench_dir / "results.md").write_text(markdown(rows, info, smoke=smoke), encoding="utf-8")
