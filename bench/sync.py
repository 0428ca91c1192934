"""Goals (issue 6): "A bundle with a week of a busy station's work (2,000 changes) is under 1 MB; applying a
100,000-change bundle takes at most 12x the time of a 10,000-change one."

A fresh database (``bench/.data/sync/``, remade every run): a coordinator (production Argon2id key pair), the vault
set up, one station with a keeper. Payloads are made as another installation would send them (origin ``b0b0...``):
a mix of clearly fictional registrations (every field, names made of 가상/허구/모의 and common syllables, a
narrative of a few hundred characters), intake movements, counselling notes and later edits of the coded fields
(each edit having seen its case's creation).

- Size: a 2,000-change payload is applied, then ``build_payload`` makes the payload for a new peer (the same
  2,000 changes, relayed, plaintext inside) as the transport would receive it: JSON, then zlib (level 9). The
  transport's encryption and signature add a few dozen bytes. Goal < 1 MB.
- Apply: ``receive_payload`` of the small and the large payload, interleaved round after round, each inside a
  transaction rolled back afterwards (every apply starts from the same database). Goal: large / small <= 12x for
  10,000 and 100,000 changes.

    .venv/bin/python bench/sync.py [--small] [--rounds 1]

``--small``: 1,000 and 10,000 changes (the same ratio goal), a quick check. Results: ``bench/results-sync.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import _bench  # noqa: E402
from _bench import log, ms, setup_django, verdict  # noqa: E402

SIZE_GOAL_BYTES = 1_000_000
RATIO_GOAL = 12.0
WEEK = 2_000
HOME = _bench.DATA_DIR / "sync"
RESULTS = BENCH_DIR / "results-sync.json"
REMOTE = "b0b0b0b0b0b0b0b0"
SURNAMES = ["가상", "허구", "모의"]
SYLLABLES = ["하", "나", "두", "리", "세", "온", "다", "여", "일", "곱", "열", "매", "솔", "빛", "누"]
WORDS = ["arrived", "tired", "safe", "asked", "about", "her", "son", "slept", "well", "fictional", "the", "route"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(SYLLABLES) for _ in range(2))


class PayloadMaker:
    """Payloads as another installation sends them: its own write numbers and clocks, every change new here."""

    def __init__(self, station_uid: uuid.UUID, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not a secret
        self.station_uid = str(station_uid)
        self.seq = 0
        self.wall = int(time.time() * 1000)

    def _entry(self, model: str, gid: str, case: str, fields: dict[str, Any], ctx: dict[str, int]) -> dict[str, Any]:
        from waystation.sync.changes import merge

        self.seq += 1
        self.wall += 1
        return {"o": REMOTE, "n": self.seq, "h": merge.hlc_format(self.wall, 0, REMOTE), "m": model, "g": gid,
                "c": case, "x": ctx, "f": fields}  # fmt: skip

    def payload(self, changes: int) -> dict[str, Any]:
        rng = self.rng
        entries: list[dict[str, Any]] = []
        persons: list[tuple[str, int]] = []  # (id, the write number that created it)
        now = dt.datetime.now(dt.UTC)
        while len(entries) < changes:
            kind = len(entries) % 10
            if kind < 4 or not persons:
                pid = str(uuid.uuid4())
                code = "".join(rng.choice("ACDEFHJKLMNPRTUVWXY3479") for _ in range(8))
                name = _name(rng)
                entries.append(self._entry("cases.person", pid, pid, {
                    "case_code": f"{code[:4]}-{code[4:]}", "sex": "F", "birth_year": rng.randint(1970, 2005),
                    "origin_province": "north_hamgyong", "left_nk_month": "2019-03-01",
                    "first_contact_month": "2024-05-01", "languages": ["ko"], "status": "sheltered",
                    "closed_at": None, "merged_into": None, "name_hangul": name,
                    "name_romanized": f"{name} (fictional)", "name_chinese": "", "aliases": "",
                    "date_of_birth": "", "contacts": "", "narrative": _text(rng, 60), "photo": "",
                }, {}))  # fmt: skip
                persons.append((pid, self.seq))
                continue
            pid, created = persons[-1 - rng.randrange(min(len(persons), 50))]
            seen = {REMOTE: created}
            if kind < 6:
                entries.append(self._entry("network.movement", str(uuid.uuid4()), pid, {
                    "person": pid, "from_station": None, "to_station": self.station_uid, "status": "arrived",
                    "planned_at": now.isoformat(), "departed_at": None, "expected_arrival": None,
                    "arrived_at": now.isoformat(), "ended_at": None, "note": "",
                }, {}))  # fmt: skip
            elif kind < 8:
                entries.append(self._entry("cases.casenote", str(uuid.uuid4()), pid, {
                    "person": pid, "kind": "counselling", "text": _text(rng, 40), "created_at": now.isoformat(),
                }, {}))  # fmt: skip
            else:
                entries.append(self._entry("cases.person", pid, pid, {"birth_year": rng.randint(1970, 2005)}, seen))
        return {"format": "waystation-changes/1", "origin": REMOTE, "bundle": 1, "upto": self.seq, "ack": None,
                "changes": entries}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="1,000 and 10,000 changes: a quick check")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    small, large = (1_000, 10_000) if args.small else (10_000, 100_000)
    shutil.rmtree(HOME, ignore_errors=True)
    setup_django(HOME)

    from django.db import transaction

    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.network import services as network_services
    from waystation.sync.changes.payload import build_payload, receive_payload
    from waystation.vault.keyring import keyring_for

    coordinator = _bench.coordinator_ensure("coordinator")
    keeper, _password = user_create(actor=coordinator, username="keeper", role=Role.KEEPER, password=_bench.PASSWORD)
    station = network_services.station_create(
        actor=coordinator, code_name="BIRCH", country="CN", region="Fictional region", kind="safe_house",
        capacity=50, keepers=[keeper],
    )  # fmt: skip

    def apply(payload: dict[str, Any], *, keep: bool = False) -> Any:
        with transaction.atomic():
            report = receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer="bench-peer")
            transaction.set_rollback(not keep)
        return report

    # Size: a week of a busy station's work, as the transport gets it.
    week = PayloadMaker(station.uid, seed=1).payload(WEEK)
    apply(week, keep=True)
    built = build_payload(keyring=keyring_for(coordinator), peer="bench-size", station_uids=None)
    relayed = [c for c in built["changes"] if c["o"] == REMOTE]
    raw = json.dumps(built, separators=(",", ":")).encode()
    packed = zlib.compress(raw, 9)
    log(f"bench: {len(relayed):,} changes: {len(raw) / 1e6:.2f} MB of JSON, {len(packed) / 1e6:.3f} MB compressed")

    # Apply: small and large, interleaved, each rolled back.
    payloads = {
        "small": PayloadMaker(station.uid, seed=2).payload(small),
        "large": PayloadMaker(station.uid, seed=3).payload(large),
    }
    log(f"bench: applying {small:,} and {large:,} changes, {args.rounds} round(s) ...")
    samples = _bench.interleaved(
        {name: (lambda p=p: apply(p)) for name, p in payloads.items()}, rounds=args.rounds, per_round=1, warmup=0
    )
    ratio = samples.ratio("large", "small")
    size_ok = len(packed) < SIZE_GOAL_BYTES
    print(f"payload of {len(relayed):,} changes, zlib: {len(packed):,} bytes  "
          f"{'PASS' if size_ok else 'FAIL'} (goal < {SIZE_GOAL_BYTES:,} bytes)")  # fmt: skip
    print(f"apply {small:>7,} changes: {ms(samples.median('small'))}")
    print(f"apply {large:>7,} changes: {ms(samples.median('large'))}")
    print(f"ratio large/small: {ratio:.2f}x (changes x{large // small})  {verdict(ratio, RATIO_GOAL)}")
    measured = {"rounds": args.rounds, "when": time.strftime("%F %T")}
    rows = [
        {
            "name": "sync_bundle_size",
            "changes": len(relayed),
            "json_bytes": len(raw),
            "zlib_bytes": len(packed),
            "ratio": None,
            "goal": SIZE_GOAL_BYTES,
            "meets": size_ok,
        },
        {
            "name": "sync_apply_growth",
            "small": small,
            "large": large,
            "small_s": round(samples.median("small"), 3),
            "large_s": round(samples.median("large"), 3),
            "ratio": round(ratio, 3),
            "goal": RATIO_GOAL,
            "meets": ratio <= RATIO_GOAL,
        }
        | measured,
    ]
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")  # the runner's format: a list of rows with a name


if __name__ == "__main__":
    main()
