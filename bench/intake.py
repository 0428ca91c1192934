"""Goal (issue 5): "Importing 100,000 rows with validation and encryption takes at most 3x the time of inserting the
same rows with the ORM's bulk insert and no validation or encryption (same run)."

A fresh database (``bench/.data/intake/``, remade every run) with a coordinator (production Argon2id key pair), the
vault set up, and two stations, one with a keeper (so that each new case key is wrapped for the coordinator, the
keeper and the recovery key, as in a real network). A CSV of ``--rows`` clearly fictional rows (names made of
가상/허구/모의 and common syllables, dates written five ways, Korean headers) is written once. Variants take
turns, in a random order each round:

- ``import``: what ``waystation import FILE`` does: ``intake.services.source_open`` (read, detect the format and
  encoding, digest) and ``import_run`` (validate every row, look stations and earlier imports up, then in one
  transaction: persons with every sensitive field encrypted under a new per-case key, intake movements, blind-index
  digests, import records, key wraps for every holder and the recovery key, the audit event). Each call imports
  its own copy of the CSV (the same rows under other ids, written before the timing) under a new register name, so
  that every row is created each time: the import recognises the very same bytes imported before, whatever the
  register, and would create nobody.
- ``bulk_create``: the same persons, their values already parsed (outside the timing), inserted with
  ``Person.objects.bulk_create`` in one transaction: coded fields only, no validation, no encryption, no movement,
  index, wrap or audit. (The names cannot be inserted unencrypted through the ORM at all: the sensitive field types
  refuse plaintext. Leaving them empty makes the baseline faster, so the ratio is, if anything, pessimistic.)

A third variant, for information only and only with ``--with-movements`` (the verdict is on ``bulk_create``):
``bulk_create+movements``, the persons and their intake movements, the two rows ``person_register`` writes for a
registration. (Until 2026-11 it ran in every suite: a third of this script's time, 112 s of the suite's 1,205 s,
for a figure no goal reads.)

Every timed call starts from the same database: the state ``prepare`` left (accounts, vault, stations), copied
aside once and put back before each call, outside the timing. (Until 2026-11, the variants added rows to one
database that grew by 300,000 persons a round; the import writes into many indexes with random keys, which a growing
database made slower round after round than the baseline's one table, so the ratio depended on the rounds' order
and number rather than on the two kinds of work.) Reported: medians, the
ratio import / bulk_create (goal <= 3), PASS or FAIL, and where the import's time goes (its phases, from the
service's progress callback, in the last timed import). Results go to ``bench/results-intake.json``.

    .venv/bin/python bench/intake.py [--rows 100000] [--rounds 2] [--with-movements]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import _bench  # noqa: E402
from _bench import log, setup_django, verdict  # noqa: E402

GOAL = 3.0
HOME = _bench.DATA_DIR / "intake"
RESULTS = BENCH_DIR / "results-intake.json"
HEADER = ["번호", "성명", "성별", "출생년도", "출신지", "탈북 시기", "첫 접촉", "언어", "비고", "거점"]
SURNAMES = ["가상", "허구", "모의"]
SYLLABLES = ["하", "나", "두", "리", "세", "온", "다", "여", "일", "곱", "열", "매", "솔", "빛", "누", "리"]
PROVINCES = ["함경북도", "량강도", "North Hamgyong", "평안남도", "자강도", "", "모름"]
LEFT = ["2018.3", "2018년 3월", "03/2018", "2018-03", "2017", "", "2019/11"]


def write_csv(path: Path, rows: int, seed: int = 5, prefix: str = "B") -> None:
    """``rows`` fictional rows with mixed scripts and date forms; a third carry a romanized form as well. ``prefix``
    starts every row's id: files that differ only in it have the same rows under other ids (and other bytes)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not a secret
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            given = "".join(rng.choice(SYLLABLES) for _ in range(2))
            name = rng.choice(SURNAMES) + given
            if i % 3 == 0:
                name += " (Gasang " + rng.choice(["Hana", "Duri", "Sena", "Onda"]) + ")"
            out.writerow(
                [
                    f"{prefix}-{i:06d}",
                    name,
                    rng.choice(["여", "F", "남", "M", "女"]),
                    str(rng.randint(1960, 2005)),
                    rng.choice(PROVINCES),
                    rng.choice(LEFT),
                    f"2020-{rng.randint(1, 12):02d}",
                    rng.choice(["한국어", "ko, zh", ""]),
                    "[SYNTHETIC] 가상 메모" if i % 10 == 0 else "",
                    "ALDER" if i % 2 else "BIRCH",
                ]
            )


def prepare() -> tuple[Any, Path, int]:
    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.network import services as network
    from waystation.network.models import Country, StationKind

    coordinator = _bench.coordinator_ensure("coordinator")
    keeper, _password = user_create(actor=coordinator, username="keeper", role=Role.KEEPER, password=_bench.PASSWORD)
    for code, keepers in (("ALDER", [keeper]), ("BIRCH", [])):
        network.station_create(
            actor=coordinator,
            code_name=code,
            country=Country.CHINA,
            region="Yunnan",
            kind=StationKind.SAFE_HOUSE,
            capacity=50,
            keepers=keepers,
        )
    return coordinator, HOME / "register.csv", 0


class StartState:
    """The database as it is now, kept aside (a copy of the SQLite file, made once), put back by ``restore``."""

    def __init__(self) -> None:
        from django.db import connection

        self.database = Path(connection.settings_dict["NAME"])
        self.saved = self.database.with_name("start-state.sqlite3")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        shutil.copyfile(self.database, self.saved)

    def restore(self) -> None:
        from django.db import connection

        connection.close()
        for suffix in ("-wal", "-shm"):
            self.database.with_name(self.database.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(self.saved, self.database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)  # 100,000 rows each way a round: the suite has 20 minutes
    parser.add_argument("--with-movements", action="store_true", help="also time bulk_create+movements (information)")
    args = parser.parse_args()
    shutil.rmtree(HOME, ignore_errors=True)
    setup_django(HOME)

    from django.db import transaction
    from django.utils import timezone

    from waystation.cases.models import Person
    from waystation.intake.services import import_run, source_open
    from waystation.interop.columns import Mapping
    from waystation.interop.rows import validate
    from waystation.network.models import Movement, Station

    coordinator, path, _unused = prepare()
    station = Station.objects.get(code_name="BIRCH")
    write_csv(path, args.rows)
    log(f"bench: {args.rows:,} rows written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    # One file per timed import, written now: the import recognises the very same bytes imported before (whatever
    # the register's name) and would create nobody; these differ in their ids only, the same rows otherwise.
    copies = [path.with_name(f"register-{n}.csv") for n in range(1, args.rounds + 1)]
    for n, copy in enumerate(copies, start=1):
        write_csv(copy, args.rows, prefix=f"B{n}")
    today = dt.datetime.now(dt.UTC).date()
    table = source_open(path).table
    parsed = validate(table, Mapping.auto(table.header), today)
    assert not parsed.errors, parsed.errors[:3]  # noqa: S101 - the generated file must be valid
    values = [row.person for row in parsed.rows]
    coded = ("sex", "birth_year", "origin_province", "left_nk_month", "first_contact_month", "languages")
    calls = {"n": 0, "bulk": 0}
    if args.rows > 100_000:
        raise SystemExit("bench: at most 100,000 rows (the baseline's case codes are numbered within that)")
    phases: dict[str, float] = {}

    def do_import() -> None:
        calls["n"] += 1
        marks: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            marks.setdefault(phase, time.perf_counter())

        copy = copies[calls["n"] - 1]
        start = time.perf_counter()
        source = source_open(copy)
        read = time.perf_counter()
        report = import_run(
            actor=coordinator,
            source=source,
            mapping=Mapping.auto(source.table.header),
            source_key=f"bench-{calls['n']}",
            progress=progress,
        )
        end = time.perf_counter()
        assert report.created == args.rows  # noqa: S101
        # Each phase from its first progress report (the service reports 0 done as it starts one) to the next's.
        times = [start, read, marks["write"], marks["keys"], end]
        phases.clear()
        for name, (a, b) in zip(["read", "check+lookups", "write", "keys+audit"], pairwise(times), strict=True):
            phases[name] = b - a

    def do_bulk(with_movements: bool = False) -> None:
        # Case codes outside the app's alphabet ("Z" is never drawn), unique per call: no lookup needed, and no
        # collision with the random codes the imports draw (100,000 random codes among 100,000 taken collide once
        # in eight runs; the import checks its codes, a plain bulk insert cannot).
        calls["bulk"] += 1
        first = today.replace(day=1)
        persons = []
        for i, v in enumerate(values):
            person = _coded_person(Person, v, coded, first)
            person.case_code = f"Z{calls['bulk']:02d}{i // 10_000}-{i % 10_000:04d}"
            persons.append(person)
        with transaction.atomic():
            Person.objects.bulk_create(persons)
            if with_movements:
                now = timezone.now()
                Movement.objects.bulk_create(
                    [
                        Movement(person=p, to_station=station, status="arrived", planned_at=now, arrived_at=now,
                                 recorded_by=coordinator)
                        for p in persons
                    ]
                )  # fmt: skip

    variants: dict[str, Callable[[], None]] = {"import": do_import, "bulk_create": do_bulk}
    if args.with_movements:
        variants["bulk_create+movements"] = lambda: do_bulk(True)
    start_state = StartState()
    samples = _bench.interleaved(
        variants,
        before=start_state.restore,
        rounds=args.rounds,
        per_round=1,
        warmup=0,
    )
    ratio = samples.ratio("import", "bulk_create")
    print(
        f"Import of {args.rows:,} rows (read, validate, encrypt, index, wrap keys, audit) against "
        f"Person.objects.bulk_create of the same persons (coded fields, no validation or encryption); "
        f"{args.rounds} rounds, random order"
    )
    for name in variants:
        print(
            f"  {name:<12} median {samples.median(name):8.2f} s   "
            f"all: {', '.join(f'{t:.2f}' for t in samples.times[name])}"
        )
    print("  import's phases (last run): " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
    ratios = samples.round_ratios("import", "bulk_create")
    print(
        f"  import / bulk_create: {ratio:.2f}x (per round: {', '.join(f'{r:.2f}' for r in ratios)})  "
        f"{verdict(ratio, GOAL)}"
    )
    if args.with_movements:
        print(
            f"  for information, import / bulk_create of the persons and their intake movements (the rows "
            f"person_register writes): {samples.ratio('import', 'bulk_create+movements'):.2f}x"
        )
    result: dict[str, Any] = {
        "name": "intake_import_vs_bulk_create",
        "rows": args.rows,
        "rounds": args.rounds,
        "import_median_s": round(samples.median("import"), 3),
        "bulk_create_median_s": round(samples.median("bulk_create"), 3),
        "import_phases_s": {k: round(v, 3) for k, v in phases.items()},
        "ratio": round(ratio, 3),
        "round_ratios": [round(r, 3) for r in ratios],
        "goal": GOAL,
        "meets": ratio <= GOAL,
        "measured_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "per_call_s": {k: [round(t, 3) for t in v] for k, v in samples.times.items()},
        "median_ratio_of_rounds": round(statistics.median(ratios), 3),
    }
    if args.with_movements:
        result["bulk_create_with_movements_median_s"] = round(samples.median("bulk_create+movements"), 3)
        result["ratio_to_persons_and_movements"] = round(samples.ratio("import", "bulk_create+movements"), 3)
    RESULTS.write_text(json.dumps([result], indent=1, ensure_ascii=False) + "\n")
    print(f"  results written to {RESULTS.relative_to(BENCH_DIR.parent)}")


def _coded_person(model: Any, values: dict[str, Any], coded: tuple[str, ...], first: dt.date) -> Any:
    fields = {name: values[name] for name in coded}
    fields["first_contact_month"] = fields["first_contact_month"] or first
    return model(**fields)


if __name__ == "__main__":
    main()
