"""Benchmark of duplicate detection (issue 5): quality and speed, every comparison made in the same run.

Quality (precision, recall, F1 of the pairs judged the same person, against the ground truth):

- FEBRL3 (dedup, 5,000 records) and FEBRL4 (link, 5,000 + 5,000), the datasets that ship with ``recordlinkage``:
  our Splink pipeline (DuckDB, the standard Splink comparisons for these English names and addresses, trained
  unsupervised as ``linkage.matching`` trains: u from a seeded random sample, m by EM on two blocks) beside
  recordlinkage's own unsupervised ECM classifier on the same candidate pairs. Goal: F1 >= 0.99 for ours.
- The generated Korean set (``linkage.korean_set``): ours (``linkage.matching`` over the Korean name keys, as
  ``waystation dedup --input`` runs it) beside plain Splink on the same records and coded fields, the names compared
  by Jaro-Winkler and Levenshtein only. Goal: F1 >= 0.95 for ours.

Speed: ``waystation dedup``'s file path (reading the CSV, name keys, training, scoring) on a generated Korean set of
10,000 and of 100,000 persons, in turns; goal: 100,000 under 10x the time of 10,000. Peak memory: each size once
in a fresh process (its peak resident set; DuckDB's memory is native, so tracemalloc would miss it).

    .venv/bin/python bench/linkage.py [--rounds 2] [--korean-persons 5000] [--skip-speed]

Prints PASS or FAIL per goal and writes ``bench/results-linkage.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _bench import log, setup_django  # noqa: E402

RESULTS = BENCH_DIR / "results-linkage.json"
DATA = BENCH_DIR / ".data" / "linkage"
GOAL_FEBRL, GOAL_KOREAN, GOAL_GROWTH = 0.99, 0.95, 10.0
DEFAULT_THRESHOLD = 0.5  # linkage.matching.DEFAULT_THRESHOLD (imported after Django is set up, checked in main)
STRICT_THRESHOLD = 0.9
SMALL, LARGE = 10_000, 100_000
SEED = 20260501


def scores(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "pairs": len(found)}


def pair(a: object, b: object) -> tuple[str, str]:
    x, y = str(a), str(b)
    return (x, y) if x < y else (y, x)


# --- FEBRL ---------------------------------------------------------------------------------------------------------


def febrl_settings(link_type: str) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="rec_id",
        probability_two_random_records_match=5000 / (5000 * 4999 / 2 if link_type == "dedupe_only" else 5000 * 5000),
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
            cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9]),
            cl.LevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=FEBRL_BLOCKS(),
        retain_matching_columns=False,
    )


def FEBRL_BLOCKS() -> list[Any]:  # noqa: N802 - a constant built lazily (Splink imported inside)
    from splink import block_on

    return [
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("postcode", "street_number"),
    ]


def splink_febrl(frames: list[Any], link_type: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]], float]:
    """(pairs judged one person at the default threshold, every candidate pair from the blocks, seconds)."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    started = time.perf_counter()
    connection = duckdb.connect()
    db_api = DuckDBAPI(connection=connection)
    tables = [db_api.register(frame.reset_index().astype(str).replace({"nan": None})) for frame in frames]
    linker = Linker(tables if len(tables) > 1 else tables[0], febrl_settings(link_type), log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=SEED)
    for rule in (block_on("date_of_birth"), block_on("surname")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    rows = linker.inference.predict(threshold_match_probability=0.0).as_record_list()
    elapsed = time.perf_counter() - started
    connection.close()
    judged = {pair(r["rec_id_l"], r["rec_id_r"]) for r in rows if r["match_probability"] >= DEFAULT_THRESHOLD}
    candidates = {pair(r["rec_id_l"], r["rec_id_r"]) for r in rows}
    return judged, candidates, elapsed


def ecm_febrl(frames: list[Any], candidates: set[tuple[str, str]]) -> tuple[set[tuple[str, str]], float]:
    """recordlinkage's unsupervised ECM classifier on the same candidate pairs, binary features as in its
    documentation's FEBRL examples (exact or Jaro-Winkler >= 0.85 agreement)."""
    import pandas as pd
    import recordlinkage as rl

    started = time.perf_counter()
    left = frames[0]
    right = frames[-1]
    in_left = set(left.index)
    ordered = [(a, b) if len(frames) == 1 or a in in_left else (b, a) for a, b in candidates]
    index = pd.MultiIndex.from_tuples(ordered)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    compare.exact("street_number", "street_number", label="street_number")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85, label="address_1")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("postcode", "postcode", label="postcode")
    compare.exact("state", "state", label="state")
    features = compare.compute(index, left, right if len(frames) > 1 else None)
    matches = rl.ECMClassifier(binarize=None).fit_predict(features)
    elapsed = time.perf_counter() - started
    return {pair(a, b) for a, b in matches}, elapsed


def febrl() -> dict[str, Any]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    results: dict[str, Any] = {}
    dedup, links3 = load_febrl3(return_links=True)
    a, b, links4 = load_febrl4(return_links=True)
    for name, frames, links, link_type in (
        ("febrl3", [dedup], links3, "dedupe_only"),
        ("febrl4", [a, b], links4, "link_only"),
    ):
        truth = {pair(x, y) for x, y in links}
        log(f"bench: {name}: our Splink pipeline ...")
        ours, candidates, ours_s = splink_febrl(frames, link_type)
        log(f"bench: {name}: recordlinkage ECM on the same {len(candidates):,} candidate pairs ...")
        ecm, ecm_s = ecm_febrl(frames, candidates)
        results[name] = {
            "ours": scores(ours, truth) | {"seconds": round(ours_s, 2)},
            "ecm": scores(ecm, truth) | {"seconds": round(ecm_s, 2)},
            "true_pairs": len(truth),
            "candidate_recall": scores(candidates, truth)["recall"],
        }
    return results


# --- the Korean set ------------------------------------------------------------------------------------------------


def write_set(path: Path, persons: int, seed: int, duplicate_share: float) -> frozenset[tuple[str, str]]:
    from waystation.linkage import korean_set

    data = korean_set.generate(persons, seed=seed, duplicate_share=duplicate_share)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, korean_set.COLUMNS)
        writer.writeheader()
        writer.writerows(r.row() for r in data.records)
    return data.true_pairs


def plain_splink(path: Path) -> set[tuple[str, str]]:
    """Splink without the Korean keys: the name as written (lower case, no punctuation) compared by Jaro-Winkler
    and Levenshtein; the coded fields exactly as ours compares them; blocks on the name, on birth year and sex, and
    on the month left; trained the same way; judged at the same threshold."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from waystation.linkage import matching
    from waystation.linkage.people_file import read_people

    people = read_people(path)  # the coded fields parsed as ours parses them
    with path.open(encoding="utf-8") as handle:
        names = {r["id"]: "".join(ch for ch in r["name"].lower() if ch.isalnum()) for r in csv.DictReader(handle)}
    import pyarrow as pa

    table = matching._table(people).append_column("name", pa.array([names[p.id] or None for p in people], pa.string()))
    settings = matching.MatchSettings()
    comparisons = [
        cl.CustomComparison(
            [
                {"sql_condition": "name_l IS NULL OR name_r IS NULL", "is_null_level": True},
                {"sql_condition": "name_l = name_r", "label_for_charts": "exact"},
                {"sql_condition": "jaro_winkler_similarity(name_l, name_r) >= 0.92", "label_for_charts": "jw92"},
                {"sql_condition": "levenshtein(name_l, name_r) <= 2", "label_for_charts": "lev2"},
                {"sql_condition": "jaro_winkler_similarity(name_l, name_r) >= 0.8", "label_for_charts": "jw80"},
                {"sql_condition": "ELSE", "label_for_charts": "else"},
            ],
            output_column_name="name",
        ),
        *[
            matching._comparison(name, levels)
            for name, levels in matching.comparisons(settings).items()
            if name != "name"
        ],
    ]
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="id",
        probability_two_random_records_match=matching._prior(len(people), settings.duplicate_share),
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[
            block_on("name"),
            block_on("birth_year", "sex"),
            block_on("left_month"),
        ],
    )
    connection = duckdb.connect()
    linker = Linker(DuckDBAPI(connection=connection).register(table), creator, log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=matching.U_SAMPLE_PAIRS, seed=settings.seed)
    for rule, prior in ((block_on("birth_year", "left_month"), True), (block_on("name"), False)):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule,
            estimate_without_term_frequencies=True,
            populate_probability_two_random_records_match_from_trained_values=prior,
        )
    rows = linker.inference.predict(threshold_match_probability=settings.threshold).as_record_list()
    connection.close()
    return {pair(r["id_l"], r["id_r"]) for r in rows}


def korean(persons: int) -> dict[str, Any]:
    from waystation.linkage.matching import find_pairs
    from waystation.linkage.people_file import read_people

    path = DATA / f"korean-{persons}.csv"
    truth = set(write_set(path, persons, SEED, duplicate_share=0.3))
    log(f"bench: Korean set, {persons:,} persons: ours ...")
    started = time.perf_counter()
    found = find_pairs(read_people(path))
    ours_s = time.perf_counter() - started
    ours = {(p.id_a, p.id_b) for p in found}
    strict = {(p.id_a, p.id_b) for p in found if p.score >= STRICT_THRESHOLD}
    log("bench: Korean set: plain Splink (Jaro-Winkler and Levenshtein on the names) ...")
    started = time.perf_counter()
    plain = plain_splink(path)
    plain_s = time.perf_counter() - started
    return {
        "persons": persons,
        "true_pairs": len(truth),
        "ours": scores(ours, truth) | {"seconds": round(ours_s, 2)},
        "plain_splink": scores(plain, truth) | {"seconds": round(plain_s, 2)},
        f"ours_at_{STRICT_THRESHOLD}": scores(strict, truth),
    }


# --- speed and memory ----------------------------------------------------------------------------------------------


def dedup_once(persons: int) -> float:
    """Seconds for the file path of ``waystation dedup`` on the speed set of ``persons`` (name-key cache cold)."""
    from waystation.linkage import keys
    from waystation.linkage.people_file import dedup_file

    keys._keys_of_name.cache_clear()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        dedup_file(speed_set(persons), Path(folder) / "pairs.csv")
        return time.perf_counter() - started


def speed_set(persons: int) -> Path:
    path = DATA / f"speed-{persons}.csv"
    if not path.exists():
        write_set(path, persons, SEED + persons, duplicate_share=0.05)
    return path


def speed(rounds: int) -> dict[str, Any]:
    for size in (SMALL, LARGE):
        speed_set(size)
    times: dict[int, list[float]] = {SMALL: [], LARGE: []}
    for number in range(rounds):
        order = (SMALL, LARGE) if number % 2 == 0 else (LARGE, SMALL)
        for size in order:
            log(f"bench: speed round {number + 1}/{rounds}: {size:,} persons ...")
            times[size].append(dedup_once(size))
    peaks = {size: peak_memory(size) for size in (SMALL, LARGE)}
    best = {size: min(values) for size, values in times.items()}
    return {
        "seconds": {str(size): [round(t, 2) for t in values] for size, values in times.items()},
        "best_s": {str(size): round(value, 2) for size, value in best.items()},
        "growth": round(best[LARGE] / best[SMALL], 3),
        "peak_rss_mib": {str(size): peaks[size] for size in peaks},
    }


def peak_memory(persons: int) -> float:
    """Peak resident set (MiB) of a fresh process that runs the file path once on ``persons``."""
    answer = subprocess.run(  # noqa: S603 - this same script, with fixed arguments
        [sys.executable, __file__, "--memory", str(persons)], capture_output=True, text=True, check=True
    )
    return float(answer.stdout.strip().splitlines()[-1])


def memory(persons: int) -> None:
    setup_django(DATA / "home")
    dedup_once(persons)
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec, so a
    # child of a large benchmark process would report the parent's peak.
    status = Path("/proc/self/status").read_text()
    peak_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(round(peak_kib / 1024, 1))


# --- report --------------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--korean-persons", type=int, default=5000)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        memory(args.memory)
        return
    setup_django(DATA / "home")
    from waystation.linkage import matching

    assert matching.DEFAULT_THRESHOLD == DEFAULT_THRESHOLD, "bench/linkage.py: update DEFAULT_THRESHOLD"  # noqa: S101
    febrl_results = febrl()
    korean_results = korean(args.korean_persons)
    speed_results = None if args.skip_speed else speed(args.rounds)

    results: list[dict[str, Any]] = []
    print(
        "Duplicate detection: quality (precision / recall / F1 of the pairs judged one person, match probability >= "
        f"{DEFAULT_THRESHOLD})"
    )
    for name in ("febrl3", "febrl4"):
        row = febrl_results[name]
        ours, ecm = row["ours"], row["ecm"]
        ok = ours["f1"] >= GOAL_FEBRL
        print(
            f"  {name}: ours P {ours['precision']:.4f} R {ours['recall']:.4f} F1 {ours['f1']:.4f}  |  "
            f"recordlinkage ECM P {ecm['precision']:.4f} R {ecm['recall']:.4f} F1 {ecm['f1']:.4f}  "
            f"(blocks find {row['candidate_recall']:.4f} of {row['true_pairs']:,} true pairs)  goal F1 >= "
            f"{GOAL_FEBRL}: {verdict(ok)}"
        )
        results.append({"name": f"linkage_{name}", **row, "goal": GOAL_FEBRL, "meets": ok})
    ours, plain = korean_results["ours"], korean_results["plain_splink"]
    ok = ours["f1"] >= GOAL_KOREAN
    print(
        f"  Korean set ({korean_results['persons']:,} persons, {korean_results['true_pairs']:,} true pairs): ours P "
        f"{ours['precision']:.4f} R {ours['recall']:.4f} F1 {ours['f1']:.4f}  |  plain Splink P "
        f"{plain['precision']:.4f} R {plain['recall']:.4f} F1 {plain['f1']:.4f}  goal F1 >= {GOAL_KOREAN}: "
        f"{verdict(ok)}"
    )
    at_strict = korean_results[f"ours_at_{STRICT_THRESHOLD}"]
    print(
        f"    (ours at match probability >= {STRICT_THRESHOLD}: P {at_strict['precision']:.4f} R "
        f"{at_strict['recall']:.4f} F1 {at_strict['f1']:.4f})"
    )
    results.append({"name": "linkage_korean", **korean_results, "goal": GOAL_KOREAN, "meets": ok})
    if speed_results:
        growth = speed_results["growth"]
        ok = growth < GOAL_GROWTH
        best = speed_results["best_s"]
        print(
            f"Speed: waystation dedup --input (read, keys, train, score), best of {args.rounds}: {SMALL:,} persons "
            f"{best[str(SMALL)]:.1f} s, {LARGE:,} persons {best[str(LARGE)]:.1f} s: {growth:.2f}x  goal < "
            f"{GOAL_GROWTH:.0f}x: {verdict(ok)}"
        )
        peaks = speed_results["peak_rss_mib"]
        print(
            f"  peak memory (fresh process): {SMALL:,}: {peaks[str(SMALL)]:.0f} MiB, "
            f"{LARGE:,}: {peaks[str(LARGE)]:.0f} MiB"
        )
        results.append({"name": "linkage_speed", **speed_results, "goal": GOAL_GROWTH, "meets": ok})
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"  results written to {RESULTS.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    main()
