"""``waystation bench [--smoke]``: run the benchmark suite and write bench/results.json and bench/results.md."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.ops import bench


class Command(BaseCommand):
    help = (
        "Run every benchmark script of bench/ (case_page, case_list, figures, linkage, intake, and sync where it "
        "exists), each in a process of its own, then gather their results into bench/results.json and "
        "bench/results.md (with the machine they ran on). --smoke gives each script its smallest sizes and fewest "
        "rounds, where it has such options: it checks the harness, and its figures mean nothing. The first full run "
        "generates 100,000-person databases under bench/.data (see bench/README.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--smoke", action="store_true", help="smallest sizes and fewest rounds (for CI)")
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="NAME",
            help="run only this script (repeatable); its rows replace its old ones in bench/results.json and .md, "
            "the other scripts' rows stay",
        )
        parser.add_argument(
            "--bench-dir", metavar="DIR", help="the benchmarks' folder (default: bench/ of the checkout)"
        )
        parser.add_argument("--json", action="store_true", help="print the gathered results as JSON")

    def handle(self, *args: Any, smoke: bool, only: list[str], bench_dir: str | None, **options: Any) -> None:
        folder = Path(bench_dir) if bench_dir else bench.default_bench_dir()
        scripts = bench.scripts_in(folder, only)
        missing = [s.name for s in scripts if not s.is_file()]
        if missing or not scripts:
            raise CommandError(f"No benchmark script {', '.join(missing) or '*.py'} in {folder}.")
        started = time.monotonic()
        data_before = bench.ready_data(folder)
        runs = []
        for script in scripts:
            extra = bench.smoke_args(script) if smoke else []
            if smoke and bench.unsupported_smoke(script, extra):
                self.stderr.write(
                    f"bench: {script.name} has no {', '.join(bench.unsupported_smoke(script, extra))}: "
                    "it runs at its usual size there"
                )
            run = bench.run_script(script, extra, self.stderr.write)
            self.stderr.write(
                f"bench: {script.name} done in {run.seconds:.0f} s"
                + (f" ({run.problem})" if run.problem else f", {len(run.results)} results")
            )
            runs.append(run)
        info = bench.machine()
        rows = bench.collect(runs, measured=info["date"], smoke=smoke)
        if only:  # the other scripts' rows of the last run stay (the suite's time among them)
            rows = bench.merged(folder, rows, [run.script for run in runs], smoke=smoke)
        elif not smoke:
            generated = bench.generated_since(data_before, bench.ready_data(folder))
            rows.append(bench.suite_row(runs, time.monotonic() - started, generated, measured=info["date"]))
        bench.write_outputs(folder, rows, info, smoke=smoke)
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False))
        else:
            for row in rows:
                verdict = {True: "PASS", False: "FAIL"}.get(row["meets"], "not measured")
                self.stdout.write(f"{verdict:<13} {row['name']}  ratio {row['ratio']}  goal {row['goal']}")
            self.stdout.write(
                f"{len(rows)} results from {len(runs)} scripts in {time.monotonic() - started:.0f} s: "
                f"{folder / 'results.json'}, {folder / 'results.md'}"
            )
