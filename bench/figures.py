"""Goal: "A full release of every indicator over 100,000 persons takes no more than the time pandas needs to compute
the same tables from a CSV export of the same data (measured side by side in one run), and the time at 100,000
persons is no more than 20x the time at 1,000."

Two databases made by ``waystation.synth.generate`` (1,000 and 100,000 persons, ``bench/.data/figures-<size>/``,
made once and reused). For each, a CSV export of the coded columns the indicators read is written once beforehand
(``export/``: persons, consents, episodes, services, movements with their station's country; plain values, no
encrypted field). Then, in one process per size, two variants take turns round after round:

- ``app``: ``release_all`` as ``waystation figures`` runs it: every indicator counted in the database, disclosure
  control, the release stored and audited (the releases accumulate in the benchmark's database, as they would);
- ``pandas``: ``read_csv`` of the export and every indicator's table (all its cells, margins and zeros included, the
  persons left out for lack of consent, the services' mean), with the app's consent rule (a person's latest
  decision on statistics without a partner, by time then id).

Before timing, each size checks that pandas' tables equal the raw cells the app just released, cell for cell
(a benchmark of different work would be worthless); ``tests/figures/test_bench_figures.py`` checks the same on a
small population in the normal test suite. Reported: the medians, app/pandas at 100,000 (goal <= 1) and
app(100,000)/app(1,000) (goal <= 20), PASS or FAIL; the peak memory of each side, each measured alone in a fresh
process; the results also go to ``bench/results-figures.json``. Last, the app's queries at 100,000 persons, each
run again with SQLite's plan, slowest first: where a release's time goes.

    .venv/bin/python bench/figures.py [--rounds 7] [--per-round 1] [--regenerate] [--sizes 1000,100000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # imported by the tests: _bench lives beside this file
    sys.path.insert(0, str(BENCH_DIR))

import _bench  # noqa: E402
from _bench import generate_into, log, ms, quartiles, setup_django, verdict  # noqa: E402

GOAL_RATIO = 1.0  # app / pandas at the large size
GOAL_GROWTH = 20.0  # app at the large size / app at the small size
SIZES = (1_000, 100_000)  # --sizes: smaller for a smoke run
RESULTS = BENCH_DIR / "results-figures.json"

Key = tuple[tuple[str, str], ...]  # as waystation.figures.disclosure.Key: (dimension, code) pairs, sorted
# One indicator's numbers: its cells (every key, margins and zeros included), the persons left out for lack of
# consent, and (records, persons) of a mean where it has one.
Figures = dict[str, Any]


NAME = "figures"  # its databases: bench/.data/figures-<size>/, each with its CSV export in export/


def home_for(size: int) -> Path:
    return _bench.home_for(NAME, size)


# --- generating a database and its CSV export (in a process of their own: Django is bound to one data folder) --------


def generate(size: int) -> None:
    generate_into(home_for(size), size, after=lambda: export(home_for(size) / "export"))


def ensure_generated(size: int, regenerate: bool) -> dict[str, Any]:
    summary = _bench.ensure_generated(__file__, home_for(size), size, regenerate)
    if not (home_for(size) / "export" / "done").exists():
        subprocess.run([sys.executable, __file__, "--export", str(size)], check=True)  # noqa: S603
    return summary


DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # every timestamp of the export, in UTC (the app's TIME_ZONE)
DATE = "%Y-%m-%d"
CONSENT = ("id", "person_id", "scope", "partner_id", "given", "recorded_at")
EPISODE = ("id", "person_id", "exploitation_type", "was_sold")


def _plain(value: object) -> object:
    """A value as the CSV holds it: timestamps in UTC as the database gives them, a UUID as SQLite stores it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime(DATETIME)
    if isinstance(value, dt.date):
        return value.strftime(DATE)
    if isinstance(value, uuid.UUID):
        return value.hex
    return value


def export(folder: Path) -> None:
    """The coded columns the indicators read, one CSV per table, as a data export would give them to an analyst:
    plain values, every row (the analyst applies the consent rule and the filters), no encrypted field."""
    from waystation.cases.models import Consent, ExploitationEpisode, Person, ServiceRecord
    from waystation.network.models import Movement

    folder.mkdir(parents=True, exist_ok=True)
    person = ("id", "sex", "origin_province", "first_contact_month", "left_nk_month", "status")
    tables: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {  # the query, its columns, the CSV's header
        "persons": (Person.objects, person, person),
        "consents": (Consent.objects, CONSENT, CONSENT),
        "episodes": (ExploitationEpisode.objects, EPISODE, EPISODE),
        "services": (ServiceRecord.objects, ("id", "person_id", "kind"), ("id", "person_id", "kind")),
        "movements": (
            Movement.objects,
            ("id", "person_id", "status", "arrived_at", "to_station__country"),
            ("id", "person_id", "status", "arrived_at", "to_country"),
        ),
    }
    for name, (manager, columns, header) in tables.items():
        with (folder / f"{name}.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for row in manager.order_by("pk").values_list(*columns).iterator(chunk_size=5000):
                writer.writerow([_plain(value) for value in row])
    (folder / "done").touch()


# --- the pandas side: every indicator's table from the CSV export -------------------------------------------------


def _key(pairs: Iterable[tuple[str, str]]) -> Key:
    return tuple(sorted(pairs))


def _cells(frame: pd.DataFrame, breakdowns: Sequence[tuple[str, ...]], levels: Mapping[str, Sequence[str]]) -> dict:
    """The total, and for each breakdown every cell of its levels (zeros included) and, for two dimensions, both
    margins: the cells of the app's ``Table.from_counts`` / ``Table.union``, keyed alike."""
    cells: dict[Key, int] = {(): len(frame)}
    for dims in breakdowns:
        if len(dims) == 1:
            (dim,) = dims
            counts = frame[dim].value_counts().reindex(levels[dim], fill_value=0)
            cells.update({((dim, code),): int(n) for code, n in counts.items()})
            continue
        first, second = dims
        grid = (
            frame.groupby([first, second], observed=True)
            .size()
            .unstack(fill_value=0)
            .reindex(index=levels[first], columns=levels[second], fill_value=0)
        )
        for a, row in grid.iterrows():
            for b, n in row.items():
                cells[_key([(first, str(a)), (second, str(b))])] = int(n)
        cells.update({((first, str(a)),): int(n) for a, n in grid.sum(axis=1).items()})
        cells.update({((second, str(b)),): int(n) for b, n in grid.sum(axis=0).items()})
    return cells


def _years(years: pd.Series) -> list[str]:
    """Every year from the first to the last seen (a year with nobody is a zero cell)."""
    if years.empty:
        return []
    return [str(y) for y in range(int(years.min()), int(years.max()) + 1)]


def pandas_figures(folder: Path) -> dict[str, Figures]:
    """Every indicator's numbers, computed by pandas from the CSV export in ``folder``.

    The definitions (which statuses are safe, the exploitation groups, the bands) are the app's own constants; the
    counting is pandas': the consent rule, the joins, the grouping, the margins.
    """
    from waystation.cases.choices import ENDED_STATUSES, ConsentScope, Province, ServiceKind, Sex
    from waystation.figures.indicators import (
        EXPLOITATION_GROUPS,
        IN_CARE_BREAKDOWNS,
        LABELS,
        MONTH_BANDS,
        OTHER,
        OUTCOMES,
        SAFE_STATUSES,
        UNKNOWN,
    )
    from waystation.network.models import Country, MovementStatus

    text = {"dtype": str, "keep_default_na": False, "na_values": [""]}
    persons = pd.read_csv(folder / "persons.csv", **text)
    consents = pd.read_csv(folder / "consents.csv", **text)
    episodes = pd.read_csv(folder / "episodes.csv", **text)
    services = pd.read_csv(folder / "services.csv", **text)
    movements = pd.read_csv(folder / "movements.csv", **text)

    # The consent rule: a person's latest decision on statistics without a partner (by time, then id) is "given".
    decisions = consents[(consents["scope"] == ConsentScope.STATISTICS) & consents["partner_id"].isna()]
    decisions = decisions.assign(id=decisions["id"].astype(int)).sort_values(["recorded_at", "id"])
    latest = decisions.drop_duplicates("person_id", keep="last")
    persons["counted"] = persons["id"].isin(latest.loc[latest["given"] == "True", "person_id"])

    contact = pd.to_datetime(persons["first_contact_month"], format=DATE)
    left_nk = pd.to_datetime(persons["left_nk_month"], format=DATE)
    persons["first_contact_year"] = contact.dt.year.astype("Int64").astype(str).where(contact.notna(), UNKNOWN)
    months = (contact.dt.year - left_nk.dt.year) * 12 + (contact.dt.month - left_nk.dt.month)
    band = pd.Series(UNKNOWN, index=persons.index)
    for code, low, high in MONTH_BANDS:
        band[(months >= low) & (months <= high)] = code
    persons["months_to_contact"] = band
    outcome = pd.Series(OTHER, index=persons.index)
    for code, statuses in OUTCOMES.items():
        outcome[persons["status"].isin(statuses)] = code
    persons["outcome"] = outcome

    fixed_levels = {"sex": list(Sex.values), "origin_province": list(Province.values)}

    def population(mask: pd.Series) -> tuple[pd.DataFrame, int]:
        everyone = persons[mask]
        counted = everyone[everyone["counted"]]
        return counted, len(everyone) - len(counted)

    def person_table(mask: pd.Series, breakdowns: Sequence[tuple[str, ...]]) -> Figures:
        counted, left_out = population(mask)
        years = _years(counted.loc[counted["first_contact_year"] != UNKNOWN, "first_contact_year"].astype(int))
        levels = {**fixed_levels, "first_contact_year": [*years, UNKNOWN]}
        return {"cells": _cells(counted, breakdowns, levels), "left_out": left_out}

    def share(mask: pd.Series, numerator: pd.Series) -> Figures:
        counted, left_out = population(mask)
        group = numerator[counted.index].map({True: "yes", False: "no"}).rename("group")
        return {"cells": _cells(group.to_frame(), [("group",)], {"group": ["yes", "no"]}), "left_out": left_out}

    def one_dimension(dim: str, values: pd.Series, counted: pd.DataFrame, left_out: int) -> Figures:
        table = values[counted.index].rename(dim).to_frame()
        return {"cells": _cells(table, [(dim,)], {dim: list(LABELS[dim])}), "left_out": left_out}

    def persons_with(rows: pd.DataFrame, counted: pd.DataFrame) -> int:
        return int(counted["id"].isin(rows["person_id"]).sum())

    everyone = pd.Series(True, index=persons.index)
    women = persons["sex"] == Sex.FEMALE
    result: dict[str, Figures] = {
        "persons_in_care_now": person_table(~persons["status"].isin(ENDED_STATUSES), IN_CARE_BREAKDOWNS),
        "persons_ever": person_table(everyone, (*IN_CARE_BREAKDOWNS, ("sex", "first_contact_year"))),
        "share_women": share(everyone, women),
        "share_women_trafficked": share(women, persons["id"].isin(episodes["person_id"])),
        "women_safe_now": person_table(women & persons["status"].isin(SAFE_STATUSES), ()),
    }

    counted, left_out = population(everyone)
    sold = episodes.loc[episodes["was_sold"] == "True", "person_id"].value_counts()
    times = persons["id"].map(sold).fillna(0)
    sales = pd.Series("three_plus", index=persons.index).mask(times == 2, "twice")
    sales = sales.mask(times == 1, "once").mask(times == 0, "never")
    result["times_sold"] = one_dimension("times_sold", sales, counted, left_out)
    result["months_to_contact"] = one_dimension("months_to_contact", persons["months_to_contact"], counted, left_out)
    result["route_outcomes"] = one_dimension("outcome", persons["outcome"], counted, left_out)

    cells: dict[Key, int] = {
        (("exploitation", group),): persons_with(episodes[episodes["exploitation_type"].isin(codes)], counted)
        for group, codes in EXPLOITATION_GROUPS.items()
    }
    every_code = [code for codes in EXPLOITATION_GROUPS.values() for code in codes]
    cells[()] = persons_with(episodes[episodes["exploitation_type"].isin(every_code)], counted)
    result["exploitation_types"] = {"cells": cells, "left_out": left_out}

    cells = {
        (("service", kind),): persons_with(services[services["kind"] == kind], counted) for kind in ServiceKind.values
    }
    cells[()] = len(counted)
    records = int(services["person_id"].isin(counted["id"]).sum())
    result["services_per_person"] = {"cells": cells, "left_out": left_out, "ratio": (records, len(counted))}

    arrived = movements[
        (movements["status"] == MovementStatus.ARRIVED)
        & (movements["to_country"] == Country.SOUTH_KOREA)
        & movements["arrived_at"].notna()
    ]
    first = pd.to_datetime(arrived["arrived_at"], format=DATETIME).groupby(arrived["person_id"]).min()
    arrivals = persons.merge(first.rename("arrived_kr"), left_on="id", right_index=True)
    counted_arrivals = arrivals[arrivals["counted"]]
    year = counted_arrivals["arrived_kr"].dt.year
    result["arrivals_kr"] = {
        "cells": _cells(
            counted_arrivals.assign(arrival_year=year.astype(str)),
            [("sex", "arrival_year")],
            {"sex": fixed_levels["sex"], "arrival_year": _years(year)},
        ),
        "left_out": len(arrivals) - len(counted_arrivals),
    }
    return result


# --- the app side: what a release stored ---------------------------------------------------------------------------


def released_figures(releases: Iterable[Any]) -> dict[str, Figures]:
    """The raw numbers of stored releases (never shown: compared here only), keyed as ``pandas_figures``."""
    figures: dict[str, Figures] = {}
    for release in releases:
        cells = {_key(stored["key"].items()): int(stored["raw"]) for stored in release.cells}
        figures[release.indicator] = {"cells": cells, "left_out": release.left_out_raw}
    return figures


def differences(app: Mapping[str, Figures], pandas: Mapping[str, Figures]) -> list[str]:
    """Every number on which the two sides disagree, named; empty when they compute the same tables."""
    found = [f"{name}: only the app released it" for name in app.keys() - pandas.keys()]
    found += [f"{name}: only pandas computed it" for name in pandas.keys() - app.keys()]
    for name in sorted(app.keys() & pandas.keys()):
        mine, theirs = app[name], pandas[name]
        for key in sorted(mine["cells"].keys() | theirs["cells"].keys()):
            a, b = mine["cells"].get(key), theirs["cells"].get(key)
            if a != b:
                found.append(f"{name} {dict(key) or 'total'}: app {a}, pandas {b}")
        if mine["left_out"] != theirs["left_out"]:
            found.append(f"{name} left out: app {mine['left_out']}, pandas {theirs['left_out']}")
        if "ratio" in mine and mine["ratio"] != theirs.get("ratio"):
            found.append(f"{name} mean (records, persons): app {mine['ratio']}, pandas {theirs.get('ratio')}")
    return found


def app_figures() -> dict[str, Figures]:
    """A full release now, its raw numbers, and the means' (records, persons) as the indicators compute them (a
    release stores the mean rounded, or held from the previous release)."""
    from waystation.figures.indicators import INDICATORS
    from waystation.figures.releases import release_all

    figures = released_figures(release_all(actor=None))
    for indicator in INDICATORS:
        ratio = indicator.compute().ratio
        if ratio is not None:
            figures[indicator.name]["ratio"] = ratio
    return figures


def check(size: int) -> None:
    """Stop the benchmark unless pandas' tables equal the app's, cell for cell."""
    found = differences(app_figures(), pandas_figures(home_for(size) / "export"))
    if found:
        raise SystemExit(f"bench: at {size:,} persons pandas and the app disagree:\n  " + "\n  ".join(found[:20]))


# --- a worker: one database, answering the driver on stdin/stdout --------------------------------------------------


def _run(side: str, size: int) -> object:
    if side == "app":
        from waystation.figures.releases import release_all

        return release_all(actor=None)
    return pandas_figures(home_for(size) / "export")


def worker(size: int) -> None:
    protocol, sys.stdout = sys.stdout, sys.stderr  # only answers to the driver go to the real stdout
    setup_django(home_for(size))
    check(size)
    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "trace":
            print(json.dumps(trace()), file=protocol, flush=True)
            continue
        if command != "time":
            return
        side, _, count = arg.partition(" ")
        times = []
        for _ in range(int(count)):
            start = time.perf_counter()
            _run(side, size)
            times.append(time.perf_counter() - start)
        print(json.dumps(times), file=protocol, flush=True)


def trace() -> list[dict[str, Any]]:
    """Where a release's time goes: each indicator's queries, run again (the best of three) with the database's
    plan of each (SQLite's EXPLAIN QUERY PLAN; none on another database)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from waystation.figures.indicators import INDICATORS

    found = []
    for indicator in INDICATORS:
        with CaptureQueriesContext(connection) as captured:
            indicator.compute()
        for query in captured.captured_queries:
            sql = query["sql"]  # as logged, with its parameters in place: run again as it is
            with connection.cursor() as cursor:
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    cursor.execute(sql)
                    cursor.fetchall()
                    best = min(best, time.perf_counter() - start)
                plan: list[str] = []
                if connection.vendor == "sqlite":
                    cursor.execute("EXPLAIN QUERY PLAN " + sql)
                    plan = [row[-1] for row in cursor.fetchall()]
            found.append({"indicator": indicator.name, "seconds": best, "plan": plan})
    return found


def memory(side: str, size: int) -> None:
    """One run of ``side`` alone in this fresh process: the peak resident size over what the process held before
    it (Django and pandas imported, the database open), and the peak of Python's own allocations (tracemalloc)."""
    setup_django(home_for(size))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    _run(side, size)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_before_kib": before, "rss_peak_kib": after, "python_peak_kib": peak // 1024}))


def measure_memory(side: str, size: int) -> dict[str, int]:
    command = [sys.executable, __file__, "--memory", side, str(size)]
    answer = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, int] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


class Worker(_bench.Worker):
    def __init__(self, size: int) -> None:
        super().__init__(__file__, size)

    def trace(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ask("trace")
        return found

    def time(self, side: str, count: int) -> list[float]:
        times: list[float] = self.ask(f"time {side} {count}")
        return times


# --- the driver ----------------------------------------------------------------------------------------------------


def variants(sizes: tuple[int, int]) -> list[tuple[str, int]]:
    return [(side, size) for size in sizes for side in ("app", "pandas")]


def measure(workers: dict[int, Worker], rounds: int, per_round: int, seed: int = 7) -> dict[tuple[str, int], Any]:
    """Rounds in which each variant (side and size) runs ``per_round`` times, in a new random order each round (so
    that a slow spell of the machine falls on all alike); one warm-up round first, not counted."""
    rng = random.Random(seed)  # noqa: S311 - the order of the runs, not a secret
    large = max(workers)
    times: dict[tuple[str, int], list[float]] = {variant: [] for variant in variants((min(workers), large))}
    round_ratios: list[float] = []
    order = list(times)
    for index in range(rounds + 1):
        rng.shuffle(order)
        this_round = {(side, size): workers[size].time(side, per_round) for side, size in order}
        if index == 0:
            log("  warm-up round")
            continue
        for variant, values in this_round.items():
            times[variant].extend(values)
        round_ratios.append(
            statistics.median(this_round[("app", large)]) / statistics.median(this_round[("pandas", large)])
        )
        log(f"  round {index}/{rounds}")
    return {"times": times, "round_ratios": sorted(round_ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true", help="make both databases and exports again")
    _bench.add_sizes_option(parser, SIZES)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--export", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.worker:
        worker(args.worker)
        return
    if args.export:
        setup_django(home_for(args.export))
        export(home_for(args.export) / "export")
        return
    if args.memory:
        memory(args.memory[0], int(args.memory[1]))
        return

    small, large = args.sizes
    made = {size: ensure_generated(size, args.regenerate) for size in args.sizes}
    log("bench: checking that pandas computes the app's tables, cell for cell, at each size ...")
    workers = {size: Worker(size) for size in args.sizes}
    try:
        log(f"bench: {args.rounds} rounds, each variant {args.per_round}x a round, in random order ...")
        measured = measure(workers, args.rounds, args.per_round)
        queries = workers[large].trace()
    finally:
        for w in workers.values():
            w.close()
    log("bench: peak memory, each side alone in a fresh process ...")
    peaks = {variant: measure_memory(*variant) for variant in variants(args.sizes)}
    report(made, measured, peaks, args.rounds, args.per_round, args.sizes)
    report_trace(queries, large)


def report(
    made: dict[int, Any],
    samples: dict[str, Any],
    peaks: dict[tuple[str, int], Any],
    rounds: int,
    per: int,
    sizes: tuple[int, int],
) -> None:
    """Print the medians, memory, ratios and verdicts; write them to ``RESULTS`` as issue 7's results expect."""
    small, large = sizes
    times = samples["times"]
    median = {variant: statistics.median(values) for variant, values in times.items()}
    print(
        f"Figures: a full release of every indicator (app: release_all, stored and audited) against pandas (read_csv "
        f"of the export + the same tables, checked equal cell for cell); {rounds} rounds x {per}, random order"
    )
    for side, size in variants(sizes):
        low, high = quartiles(times[(side, size)]) if len(times[(side, size)]) > 1 else (median[(side, size)],) * 2
        peak = peaks[(side, size)]
        print(
            f"  {side:<6} {size:>7,} persons: median {ms(median[(side, size)])}  IQR {ms(low).strip()}-"
            f"{ms(high).strip()}  peak memory +{(peak['rss_peak_kib'] - peak['rss_before_kib']) / 1024:.0f} MiB "
            f"resident (of {peak['rss_peak_kib'] / 1024:.0f}), Python {peak['python_peak_kib'] / 1024:.0f} MiB"
        )
    ratio = median[("app", large)] / median[("pandas", large)]
    growth = median[("app", large)] / median[("app", small)]
    ratios = samples["round_ratios"]
    print(
        f"  app / pandas at {large:,}: {ratio:.3f}x  (per-round: median {statistics.median(ratios):.3f}, "
        f"range {ratios[0]:.3f}-{ratios[-1]:.3f})  {verdict(ratio, GOAL_RATIO)}"
    )
    print(f"  app {large:,} / app {small:,}: {growth:.2f}x  {verdict(growth, GOAL_GROWTH)}")
    print(f"  (databases made {made[small]['made']} and {made[large]['made']})")
    measured: dict[str, Any] = {"small": small, "large": large}
    measured |= {f"{side}_{size}_median_s": round(median[(side, size)], 4) for side, size in variants(sizes)}
    measured |= {f"{side}_{size}_peak_rss_kib": peaks[(side, size)]["rss_peak_kib"] for side, size in variants(sizes)}
    measured |= {"rounds": rounds, "per_round": per}
    results = [
        {"name": "figures_release_vs_pandas", **measured, "ratio": round(ratio, 4), "goal": GOAL_RATIO}
        | {"meets": ratio <= GOAL_RATIO},
        {"name": "figures_release_growth", **measured, "ratio": round(growth, 4), "goal": GOAL_GROWTH}
        | {"meets": growth <= GOAL_GROWTH},
    ]
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"  results written to {RESULTS.relative_to(BENCH_DIR.parent)}")


def report_trace(queries: list[dict[str, Any]], large: int) -> None:
    """The app's queries at the large size, slowest first, each with its plan (repeated steps shown once)."""
    total = sum(query["seconds"] for query in queries)
    print(
        f"\n  The app's queries at {large:,} persons, run again (best of 3): {len(queries)}, {ms(total).strip()} in all"
    )
    for query in sorted(queries, key=lambda q: -q["seconds"]):
        print(f"  {ms(query['seconds'])}  {query['indicator']}")
        for step in dict.fromkeys(query["plan"]):
            print(f"  {'':>13}plan: {step}")


if __name__ == "__main__":
    main()
