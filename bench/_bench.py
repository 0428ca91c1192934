"""What the benchmarks share: Django set up on a data folder of their own, a coordinator signed in through the real
forms, and interleaved timing (these machines are shared and noisy: the variants take turns, round after round,
and only medians and ratios measured side by side in one run are reported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"  # ignored by git (bench/.gitignore)
SEED, STATIONS = 20240501, 12  # every benchmark's synthetic network: the same seed and number of stations
# The password of every account the benchmarks make, in their own throwaway databases of synthetic data.
PASSWORD = "bench-lantern-river-42"  # noqa: S105


def setup_django(home: Path) -> None:
    """Point Waystation at ``home`` (its own SQLite database and secret key) and start Django. Once a process."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ["WAYSTATION_HOME"] = str(home)
    os.environ["WAYSTATION_DEV_HTTP"] = "1"  # the test client speaks plain HTTP
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the benchmarks' databases: made once by ``waystation.synth.generate``, reused by later runs ---------------------


def home_for(name: str, size: int) -> Path:
    """The data folder of benchmark ``name``'s database of ``size`` persons."""
    return DATA_DIR / f"{name}-{size}"


def marker(home: Path) -> Path:
    """Written last by ``generate_into``: a folder without it is an interrupted generation, made again."""
    return home / "bench-ready.json"


def generate_into(
    home: Path, size: int, *, before: Callable[[], None] | None = None, after: Callable[[], None] | None = None
) -> None:
    """Make ``home`` afresh with ``size`` persons (the benchmarks' seed and network), then write its marker with a
    summary. ``before`` runs once Django is set up and before the generation (accounts synth should reuse),
    ``after`` once it is done (checks, exports). Run in a process of its own: Django is bound to one data folder."""
    shutil.rmtree(home, ignore_errors=True)
    setup_django(home)
    from waystation import synth
    from waystation.cases.models import Person

    if before is not None:
        before()
    start = time.perf_counter()
    counts = synth.generate(persons=size, seed=SEED, stations=STATIONS, progress=log).counts
    seconds = time.perf_counter() - start
    settle()
    if after is not None:
        after()
    persons = Person.objects.count()
    summary = {"persons": persons, "seconds": round(seconds, 1), "counts": counts, "made": time.strftime("%F %T")}
    marker(home).write_text(json.dumps(summary, indent=1))
    log(f"bench: {persons:,} persons generated in {seconds:.0f} s into {home}")


def settle() -> None:
    """On PostgreSQL, ``VACUUM ANALYZE`` the new database, as autovacuum does to a production one soon after a bulk
    load (the planner's statistics, the visibility map that index-only counts need). This machine's PostgreSQL runs
    with autovacuum off: without this, the planner guessed 1,226 persons of 100,000 and a count read every row's
    page (570 ms instead of about 10). SQLite keeps no such state."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def two_sizes(text: str) -> tuple[int, int]:
    """``--sizes SMALL,LARGE``: two numbers of persons, the smaller first."""
    try:
        small, large = (int(part.strip().replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give two numbers of persons, SMALL,LARGE (e.g. 200,1000), not {text!r}"
        ) from None
    if not 0 < small < large:
        raise argparse.ArgumentTypeError(f"SMALL must be above 0 and below LARGE, not {text!r}")
    return small, large


def add_sizes_option(parser: argparse.ArgumentParser, default: tuple[int, int]) -> None:
    """The two database sizes a benchmark compares (``--sizes``): smaller ones for a smoke run of the harness."""
    parser.add_argument(
        "--sizes",
        type=two_sizes,
        default=default,
        metavar="SMALL,LARGE",
        help=f"the two numbers of persons compared (default {default[0]},{default[1]}); each database is made once",
    )


def ensure_generated(script: str, home: Path, size: int, regenerate: bool) -> dict[str, Any]:
    """The summary of ``home``'s database, generated first (by ``script --generate size`` in a process of its own)
    when it is missing, was interrupted, or ``regenerate`` is asked."""
    if regenerate or not marker(home).exists():
        log(f"bench: generating {size:,} persons into {home} (once; reused by later runs) ...")
        subprocess.run([sys.executable, script, "--generate", str(size)], check=True)  # noqa: S603
    summary: dict[str, Any] = json.loads(marker(home).read_text())
    return summary


# --- accounts and sessions -----------------------------------------------------------------------------------------


def coordinator_ensure(username: str, *, set_up_vault: bool = True) -> Any:
    """The coordinator ``username`` with ``PASSWORD``, a key pair (production Argon2id) and a confirmed TOTP device;
    unless told otherwise, the vault set up (which gives every user with a key pair the index key); the user's keys
    held in the agent as a sign-in would hold them, so that services called directly act with them."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from waystation.accounts.models import Role, User
    from waystation.accounts.services import user_create
    from waystation.vault import setup, userkeys
    from waystation.vault.agent import AGENT

    user = User.objects.filter(username=username).first()
    if user is None:
        user, _password = user_create(actor=None, username=username, role=Role.COORDINATOR, password=PASSWORD)
    if set_up_vault and not setup.is_initialised():
        setup.initialise(actor=user, shares=3, threshold=2)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    AGENT.put(f"bench:{user.pk}", user.pk, userkeys.unlock(user, PASSWORD))
    return user


def _totp_code(user: Any) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    while totp.t() <= device.last_t:  # a code is single use: this process may sign in twice in one time step
        totp.time += device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in_client(user: Any) -> Any:
    """A test client signed in as ``user`` through the password form and the second factor, as a browser would."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")  # an allowed host without the test environment's template hooks
    answer = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    if answer.status_code != 302:
        raise SystemExit(f"bench: the password step failed for {user.username} ({answer.status_code})")
    answer = client.post(answer["Location"], {"token": _totp_code(user)})
    if answer.status_code != 302:
        raise SystemExit(f"bench: the second factor failed for {user.username} ({answer.status_code})")
    return client


def fetch(client: Any, path: str) -> bytes:
    """GET ``path``; anything but a 200 stops the benchmark (a redirect to sign-in would measure the wrong page)."""
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"bench: GET {path} answered {response.status_code}, not 200")
    return bytes(response.content)


# --- timing --------------------------------------------------------------------------------------------------------


@dataclass
class Samples:
    times: dict[str, list[float]]  # seconds, per variant, every timed call
    rounds: list[dict[str, float]]  # per round, the median of each variant in that round

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, base: str) -> float:
        return self.median(name) / self.median(base)

    def round_ratios(self, name: str, base: str) -> list[float]:
        return sorted(r[name] / r[base] for r in self.rounds)


def interleaved(
    variants: dict[str, Callable[[], object]],
    *,
    rounds: int,
    per_round: int,
    warmup: int = 1,
    seed: int = 7,
    before: Callable[[], object] | None = None,
) -> Samples:
    """Run each variant ``per_round`` times in every round, the variants in a new random order each time (so that
    a slow spell of the machine falls on all of them alike); ``warmup`` rounds first, not counted. ``before``, if
    given, runs before every call, outside its timing (to put a database back in the same state)."""
    order = list(variants)
    rng = random.Random(seed)  # noqa: S311 - the order of the runs, not a secret
    times: dict[str, list[float]] = {name: [] for name in order}
    per_round_medians: list[dict[str, float]] = []
    for index in range(warmup + rounds):
        this_round: dict[str, list[float]] = {name: [] for name in order}
        for _ in range(per_round):
            rng.shuffle(order)
            for name in order:
                if before is not None:
                    before()
                start = time.perf_counter()
                variants[name]()
                this_round[name].append(time.perf_counter() - start)
        if index >= warmup:
            for name, values in this_round.items():
                times[name].extend(values)
            per_round_medians.append({name: statistics.median(v) for name, v in this_round.items()})
        log(f"  round {index + 1 - warmup}/{rounds}" if index >= warmup else "  warm-up round")
    return Samples(times, per_round_medians)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def verdict(ratio: float, goal: float) -> str:
    return f"PASS (goal <= {goal:g}x)" if ratio <= goal else f"FAIL (goal <= {goal:g}x)"


# --- a benchmark's worker processes ----------------------------------------------------------------------------------


class Worker:
    """A process of the benchmark script's own, bound to the data folder of one size (Django's settings are bound
    to one folder a process): it answers one line of JSON for each command line it is sent."""

    def __init__(self, script: str, size: int, *extra: str) -> None:
        self.size = size
        command = [sys.executable, script, "--worker", str(size), *extra]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
        if self._read() != "ready":
            raise SystemExit(f"bench: the {size:,} worker did not start")

    def _read(self) -> str:
        assert self.process.stdout is not None  # noqa: S101 - made with a pipe
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench: the {self.size:,} worker stopped")
        return line.strip()

    def ask(self, command: str) -> Any:
        """Send ``command``; its answer, read as JSON."""
        assert self.process.stdin is not None  # noqa: S101 - made with a pipe
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self._read())

    def close(self, timeout: float = 120) -> None:
        assert self.process.stdin is not None  # noqa: S101 - made with a pipe
        self.process.stdin.close()
        self.process.wait(timeout=timeout)
