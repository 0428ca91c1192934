"""Goal (issue 7): "case list (50 rows with names) and case page, at 1,000 and 100,000 persons, on SQLite and
PostgreSQL: the cost ratio between the two sizes (goal <= 1.5) and against a bare signed-in page of the same app
(goal <= 4)."

A coordinator, signed in through the real forms, opens three pages in each database:

- ``list``: the case list (GET /cases/, the first page of 50, names decrypted: checked);
- ``case``: a case page (GET /cases/<code>/), in turn each of 50 cases spread evenly over the whole register (every
  n-th by id), so that both sizes open cases of the same mix of histories, not only the newest;
- ``bare``: the own-password page (GET /accounts/security/password/): a signed-in page of the same app through the
  same middleware (session, second factor, key agent, audit), that reads no case. What every page costs anyway.

Databases: SQLite, the case-list benchmark's (``bench/.data/list-<size>/``, ``case_list.py`` makes them); PostgreSQL,
the load test's (``waystation_load_<size>`` on 127.0.0.1:5432, ``load.py`` makes them, with their data folders
``bench/.data/load-<size>/``). Both are made once by ``waystation.synth.generate`` with the coordinator account made
before, so that synth wraps every case key for it, and reused. Each (database, size) is served by a process of its
own; in every round each process serves each page ``--per-round`` times in a random order, the processes taking
turns (the order alternating round after round), and ratios are of medians. Results: ``bench/results-pages.json``.

    .venv/bin/python bench/pages.py [--databases sqlite,postgresql] [--sizes 1000,100000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _bench
import case_list
import load
from _bench import BENCH_DIR, ensure_generated, fetch, home_for, log, ms, quartiles, setup_django, signed_in_client

GOAL_GROWTH = 1.5
GOAL_BARE = 4.0
PAGES = {"list": "/cases/", "case": "/cases/{code}/", "bare": "/accounts/security/password/"}
MEASURED = ("list", "case")  # each against its own size's other size, and against ``bare``
CASES = 50
DATABASES = ("sqlite", "postgresql")
RESULTS = BENCH_DIR / "results-pages.json"


def _home(database: str, size: int) -> Path:
    return home_for("list", size) if database == "sqlite" else home_for("load", size)


def ensure(database: str, size: int, regenerate: bool) -> dict[str, Any]:
    """The database of ``size`` persons, generated first when missing (by the benchmark whose database it is)."""
    if database == "sqlite":
        return ensure_generated(case_list.__file__, _home(database, size), size, regenerate)
    summary: dict[str, Any] = json.loads(_bench.marker(load.ensure_database(size, regenerate)).read_text())
    return summary


# --- a worker: one database, one signed-in coordinator ---------------------------------------------------------------


def _spread_codes() -> list[str]:
    """``CASES`` case codes spread evenly over the register by id (merged records left out: they have no page)."""
    from waystation.cases.models import Person

    ids = list(Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True))
    step = max(1, len(ids) // CASES)
    chosen = ids[::step][:CASES]
    codes = dict(Person.objects.filter(pk__in=chosen).values_list("pk", "case_code"))
    return [codes[pk] for pk in chosen]


def worker(size: int, database: str) -> None:
    protocol, sys.stdout = sys.stdout, sys.stderr  # only answers to the driver go to the real stdout
    if database == "postgresql":
        os.environ["DATABASE_URL"] = f"{load.PG}/{load.database_name(size)}"
    setup_django(_home(database, size))
    from waystation.accounts.models import User

    client = signed_in_client(User.objects.get(username=case_list.COORDINATOR))
    codes = _spread_codes()
    case_list._check_page(fetch(client, PAGES["list"]))
    for code in codes:  # every case page opens (200) and is the case asked for
        if code.encode() not in fetch(client, PAGES["case"].format(code=code)):
            raise SystemExit(f"bench: the page of case {code} does not show its code")
    fetch(client, PAGES["bare"])
    turn = {"case": 0}

    def path(page: str) -> str:
        if page != "case":
            return PAGES[page]
        turn["case"] += 1
        return PAGES["case"].format(code=codes[turn["case"] % len(codes)])

    rng = random.Random(size)  # noqa: S311 - the order of the requests, not a secret
    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command != "round":
            return
        times: dict[str, list[float]] = {page: [] for page in PAGES}
        for _ in range(int(arg)):
            order = list(PAGES)
            rng.shuffle(order)
            for page in order:
                start = time.perf_counter()
                fetch(client, path(page))
                times[page].append(time.perf_counter() - start)
        print(json.dumps(times), file=protocol, flush=True)


# --- the driver ----------------------------------------------------------------------------------------------------


def measure(
    workers: dict[tuple[str, int], _bench.Worker], rounds: int, per_round: int
) -> dict[tuple[str, int], dict[str, list[float]]]:
    """One warm-up round, then ``rounds``; in each, every worker serves every page ``per_round`` times, the workers
    taking turns in an order reversed every round."""
    times: dict[tuple[str, int], dict[str, list[float]]] = {key: {page: [] for page in PAGES} for key in workers}
    order = list(workers)
    for index in range(rounds + 1):
        for key in order:
            answer = workers[key].ask(f"round {per_round}")
            if index:
                for page, values in answer.items():
                    times[key][page].extend(values)
        order.reverse()
        log(f"  round {index}/{rounds}" if index else "  warm-up round")
    return times


def results(
    times: dict[tuple[str, int], dict[str, list[float]]], databases: list[str], small: int, large: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    median = {key: {page: statistics.median(v) for page, v in pages.items()} for key, pages in times.items()}
    for database in databases:
        for page in MEASURED:
            at_small, at_large = median[(database, small)], median[(database, large)]
            growth = at_large[page] / at_small[page]
            figures = {
                f"{page}_{small}_median_s": round(at_small[page], 5),
                f"{page}_{large}_median_s": round(at_large[page], 5),
            }
            rows.append(
                {"name": f"pages_{database}_{page}_growth", **figures, "ratio": round(growth, 4), "goal": GOAL_GROWTH}
                | {"meets": growth <= GOAL_GROWTH}
            )
            # Against the bare page at each size; the goal holds when it holds at both.
            vs_bare = {
                size: median[(database, size)][page] / median[(database, size)]["bare"] for size in (small, large)
            }
            bare = {f"bare_{size}_median_s": round(median[(database, size)]["bare"], 5) for size in (small, large)}
            rows.append(
                {
                    "name": f"pages_{database}_{page}_vs_bare",
                    **figures,
                    **bare,
                    f"ratio_at_{small}": round(vs_bare[small], 4),
                }
                | {"ratio": round(vs_bare[large], 4), "goal": GOAL_BARE, "meets": max(vs_bare.values()) <= GOAL_BARE}
            )
    return rows


def report(
    times: dict[tuple[str, int], dict[str, list[float]]], rows: list[dict[str, Any]], made: dict[Any, Any]
) -> None:
    print("Pages: a signed-in coordinator's case list (50 names), case pages (50 cases spread over the register) and")
    print("the bare own-password page, each (database, size) in a process of its own, taking turns")
    for (database, size), pages in times.items():
        cells = []
        for page, values in pages.items():
            low, high = quartiles(values)
            cells.append(f"{page} {ms(statistics.median(values)).strip()} (IQR {ms(low).strip()}-{ms(high).strip()})")
        print(
            f"  {database:<10} {size:>7,} persons (made {made[(database, size)].get('made', '?')}): " + ", ".join(cells)
        )
    for row in rows:
        verdict = "PASS" if row["meets"] else "FAIL"
        print(f"  {row['name']:<34} {row['ratio']:7.3f}x  {verdict} (goal <= {row['goal']:g}x)")
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"  results written to {RESULTS.relative_to(BENCH_DIR.parent)}")


class Worker(_bench.Worker):
    def __init__(self, size: int, database: str) -> None:
        super().__init__(__file__, size, "--database", database)


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default=",".join(DATABASES), help="sqlite, postgresql or both (default)")
    _bench.add_sizes_option(parser, (1_000, 100_000))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=3)
    parser.add_argument("--regenerate", action="store_true", help="make the databases again")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", choices=DATABASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.database)
        return
    databases = _listed(args.databases)
    if unknown := [d for d in databases if d not in DATABASES]:
        parser.error(f"unknown database {unknown[0]!r}: use sqlite, postgresql or both")
    small, large = args.sizes
    keys = [(database, size) for database in databases for size in (small, large)]
    made = {key: ensure(*key, args.regenerate) for key in keys}
    workers = {(database, size): Worker(size, database) for database, size in keys}
    try:
        log(f"bench: {args.rounds} rounds of {args.per_round} requests of each page, per database and size ...")
        times = measure(workers, args.rounds, args.per_round)
    finally:
        for w in workers.values():
            w.close()
    report(times, results(times, databases, small, large), made)


if __name__ == "__main__":
    main()
