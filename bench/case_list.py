"""Goal: "Listing 50 cases with their names at 100,000 cases costs at most 1.5x the same at 1,000 cases."

A coordinator opens the case list (GET /cases/, the first page of 50, names decrypted) in two databases made by
``waystation.synth.generate``: one with 1,000 persons, one with 100,000. Each database has its own data folder
(``bench/.data/list-<size>/``), made once (100,000 persons take a few minutes) and reused by later runs; the
coordinator account is made before the generation, with a known password, so that synth wraps every case key for
it. Each size is served by a process of its own, signed in through the real forms; the two take turns, round
after round, and the ratio is of medians. Then one request at each size is traced: its queries, their times side
by side, and SQLite's plan of the slowest (to find what grows with the number of cases).

Results also go to ``bench/results-case_list.json``.

    .venv/bin/python bench/case_list.py [--rounds 20] [--per-round 5] [--regenerate] [--try-index]
                                        [--sizes 1000,100000]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from typing import Any

import _bench
from _bench import (
    ensure_generated,
    fetch,
    generate_into,
    home_for,
    log,
    ms,
    quartiles,
    setup_django,
    signed_in_client,
    verdict,
)

GOAL = 1.5
SIZES = (1_000, 100_000)  # --sizes: smaller for a smoke run
RESULTS = _bench.BENCH_DIR / "results-case_list.json"
COORDINATOR = "coordinator"  # synth_route.ROLE_ACCOUNTS names its coordinator so: synth reuses the account made here
MASK = "••••••"  # what a sealed value shows as: never on a page that revealed its names
NO_KEY = "key not yet held"  # what the list shows for a case whose key the user does not hold yet
PATH = "/cases/"
# The index proposed for the list's order (--try-index): SQLite then reads the first 50 in order and stops, instead
# of scanning and sorting every person. Made for the run in the benchmark's own databases, dropped at the end.
TRY_INDEX = "bench_person_list_order"
TRY_INDEX_SQL = f"CREATE INDEX IF NOT EXISTS {TRY_INDEX} ON cases_person (first_contact_month DESC, case_code)"


NAME = "list"  # its databases: bench/.data/list-<size>/


def generate(size: int) -> None:
    from _bench import coordinator_ensure

    made: dict[str, Any] = {}

    def before() -> None:
        # Made before the run, so that synth reuses it (it makes its other accounts with passwords nobody is told);
        # synth sets the vault up and gives every account with a key pair the index key and its case keys.
        made["coordinator"] = coordinator_ensure(COORDINATOR, set_up_vault=False)

    def after() -> None:
        from waystation.cases.models import Person
        from waystation.vault.models import CaseKeyWrap

        persons = Person.objects.count()
        held = CaseKeyWrap.objects.filter(holder=made["coordinator"]).count()
        if held != persons:
            raise SystemExit(f"bench: the coordinator holds {held} case keys of {persons}: synth did not wrap them all")

    generate_into(home_for(NAME, size), size, before=before, after=after)


# --- a worker: one database, one signed-in coordinator, answering the driver on stdin/stdout -----------------------

_CASE_LINK = re.compile(r'href="/cases/([0-9A-Z]{4}-[0-9A-Z]{4})/"')


def _check_page(body: bytes) -> None:
    text = body.decode()
    codes = set(_CASE_LINK.findall(text))
    if len(codes) != 50 or MASK in text or NO_KEY in text:
        raise SystemExit(f"bench: the case list shows {len(codes)} cases (not 50), or a name not decrypted")


def _normalised(sql: str) -> str:
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"X'[0-9A-Fa-f]*'", "?", sql)
    return re.sub(r"\b\d+\b", "?", sql)


def _explain(sql: str) -> tuple[float, list[str]]:
    """A SELECT as logged, run again (the fastest of three, finer than the log's milliseconds) and its plan."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                cursor.execute(sql)
                cursor.fetchall()
                best = min(best, time.perf_counter() - start)
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return best, [row[-1] for row in cursor.fetchall()]
    except Exception as exc:  # noqa: BLE001 - a query whose logged form SQLite cannot read again
        return float("nan"), [f"(not run again: {type(exc).__name__})"]


def _trace(client: Any) -> list[dict[str, Any]]:
    """The queries of one request, grouped by their normalised SQL: how many, their time, SQLite's plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fetch(client, PATH)
    groups: dict[str, dict[str, Any]] = {}
    for query in captured.captured_queries:
        sql = query["sql"]
        seconds = float(query["time"])  # the log's, in whole milliseconds: COMMITs and the like
        plan: list[str] = []
        if sql.lstrip().upper().startswith("SELECT"):
            seconds, plan = _explain(sql)
        group = groups.setdefault(_normalised(sql), {"sql": sql, "count": 0, "seconds": 0.0, "plan": plan})
        group["count"] += 1
        group["seconds"] += seconds
    return [{"key": key, **group} for key, group in groups.items()]


def _index(create: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(TRY_INDEX_SQL if create else f"DROP INDEX IF EXISTS {TRY_INDEX}")


def worker(size: int, try_index: bool) -> None:
    protocol, sys.stdout = sys.stdout, sys.stderr  # only answers to the driver go to the real stdout
    setup_django(home_for(NAME, size))
    _index(try_index)  # without --try-index, also drops one a stopped run left behind
    try:
        _serve(protocol)
    finally:
        _index(False)


def _serve(protocol: Any) -> None:
    from waystation.accounts.models import User

    client = signed_in_client(User.objects.get(username=COORDINATOR))
    _check_page(fetch(client, PATH))
    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "time":
            times = []
            for _ in range(int(arg)):
                start = time.perf_counter()
                fetch(client, PATH)
                times.append(time.perf_counter() - start)
            answer: Any = times
        elif command == "trace":
            answer = _trace(client)
        else:
            return
        print(json.dumps(answer), file=protocol, flush=True)


class Worker(_bench.Worker):
    def __init__(self, size: int, try_index: bool) -> None:
        super().__init__(__file__, size, *(["--try-index"] if try_index else []))

    def close(self, timeout: float = 60) -> None:
        super().close(timeout)


# --- the driver ----------------------------------------------------------------------------------------------------


def measure(workers: dict[int, Worker], rounds: int, per_round: int) -> tuple[dict[int, list[float]], list[float]]:
    """Rounds in which each size serves ``per_round`` pages, which size goes first alternating; one warm-up round."""
    times: dict[int, list[float]] = {size: [] for size in workers}
    round_ratios: list[float] = []
    order = list(workers)
    small, large = min(workers), max(workers)
    for index in range(rounds + 1):
        this_round = {size: workers[size].ask(f"time {per_round}") for size in order}
        order.reverse()
        if index == 0:
            continue
        for size, values in this_round.items():
            times[size].extend(values)
        round_ratios.append(statistics.median(this_round[large]) / statistics.median(this_round[small]))
        log(f"  round {index}/{rounds}")
    return times, sorted(round_ratios)


def report_trace(traces: dict[int, list[dict[str, Any]]]) -> None:
    """The queries of one request at each size, side by side, slowest at the large size first."""
    (small_size, small), (large_size, large) = sorted(traces.items())
    at_small = {group["key"]: group for group in small}
    print(
        f"\n  Queries of one request by kind: how many, total time at {small_size:,} / {large_size:,} "
        "(SELECTs re-run, best of 3)"
    )
    for size, groups in ((small_size, small), (large_size, large)):
        count, seconds = sum(g["count"] for g in groups), sum(g["seconds"] for g in groups)
        print(f"  {size:>7,} persons: {count} queries, {ms(seconds).strip()} in all")
    for group in sorted(large, key=lambda g: -g["seconds"])[:6]:
        before = at_small.get(group["key"])
        was = ms(before["seconds"]).strip() if before else "-"
        sql = re.sub(r'(?:"\w+"\."\w+", )+', "..., ", group["sql"])  # the plain columns left out
        sql = sql if len(sql) < 700 else sql[:700] + " ..."
        print(f"  {group['count']:>3} x  {was:>9} / {ms(group['seconds']).strip():>9}  {sql}")
        for step in group["plan"]:
            print(f"  {'':>28}plan: {step}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true", help="make both databases again")
    parser.add_argument("--try-index", action="store_true", help=f"measure with the proposed index ({TRY_INDEX})")
    _bench.add_sizes_option(parser, SIZES)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.worker:
        worker(args.worker, args.try_index)
        return

    small, large = args.sizes
    made = {size: ensure_generated(__file__, home_for(NAME, size), size, args.regenerate) for size in args.sizes}
    workers = {size: Worker(size, args.try_index) for size in args.sizes}
    try:
        log(f"bench: {args.rounds} rounds of {args.per_round} case-list pages per size, alternating ...")
        times, round_ratios = measure(workers, args.rounds, args.per_round)
        traces = {size: workers[size].ask("trace") for size in workers}
    finally:
        for w in workers.values():
            w.close()

    print(
        f"Case list (GET {PATH}, first page of 50, names decrypted), coordinator; "
        f"{args.rounds} rounds x {args.per_round}, alternating"
        + (f"; WITH the proposed index {TRY_INDEX} (--try-index)" if args.try_index else "")
    )
    for size in args.sizes:
        low, high = quartiles(times[size])
        print(
            f"  {size:>7,} persons: median {ms(statistics.median(times[size]))}  IQR {ms(low).strip()}-"
            f"{ms(high).strip()}  (database made {made[size]['made']}, {made[size]['persons']:,} persons)"
        )
    ratio = statistics.median(times[large]) / statistics.median(times[small])
    print(
        f"  ratio {large:,} / {small:,}: {ratio:.3f}x  (per-round ratios: median {statistics.median(round_ratios):.3f}"
        f", range {round_ratios[0]:.3f}-{round_ratios[-1]:.3f})  {verdict(ratio, GOAL)}"
    )
    report_trace(traces)
    result = {
        "name": "case_list_growth",
        "small": small,
        "large": large,
        "small_median_s": round(statistics.median(times[small]), 5),
        "large_median_s": round(statistics.median(times[large]), 5),
        "rounds": args.rounds,
        "per_round": args.per_round,
        "try_index": args.try_index,
        "ratio": round(ratio, 4),
        "goal": GOAL,
        "meets": ratio <= GOAL,
    }
    RESULTS.write_text(json.dumps([result], indent=1) + "\n")
    print(f"  results written to {RESULTS.relative_to(_bench.BENCH_DIR.parent)}")


if __name__ == "__main__":
    main()
