"""Faults: the real commands killed with SIGKILL half way (no handler runs, no rollback is asked for), and a backup
that runs out of disk. Afterwards the data is consistent, nothing half-written stands where a reader looks, and the
same command runs again to its end.

Each test has an installation of its own (``fault_home.py``, SQLite) and runs ``waystation ...`` in a child process,
as an operator would. The moment to kill is found from outside: a progress line (import), the backup's temporary
file appearing (backup), or the database's write lock being held (shred: the whole shred is one write transaction;
sync import: its one transaction, held for a while).
PostgreSQL restarting under load: ``test_pg_restart.py``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from waystation.interop.backup import unseal
from waystation.ops.doctor import Options, check_backups
from waystation.testing.passes import own_sqlite_installations
from waystation.testing.spreadsheets import csv_bytes

pytestmark = own_sqlite_installations

HERE = Path(__file__).parent
WAYSTATION = str(Path(sys.executable).with_name("waystation"))
PASSWORD = "fictional-coordinator-pw-5"  # fault_home.py's coordinator
PASSPHRASE = "fictional-backup-passphrase-77"


def make_home(tmp_path: Path, persons: int = 3, *, name: str = "home", mode: str = "") -> tuple[Path, list[str]]:
    home = tmp_path / name
    home.mkdir(mode=0o700)
    made = subprocess.run(  # noqa: S603
        [sys.executable, str(HERE / "fault_home.py"), str(home), str(persons), *([mode] if mode else [])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    return home, json.loads(made.stdout.strip().splitlines()[-1])["case_codes"]


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYSTATION_") and k != "DATABASE_URL"}
    return env | {
        "WAYSTATION_HOME": str(home),
        "WAYSTATION_DEV_HTTP": "1",
        "WAYSTATION_PASSWORD": PASSWORD,
        "LANGUAGE": "en",
        "PYTHONUNBUFFERED": "1",
    }


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    """The command in a child process; its stderr (progress) readable, its stdout dropped (a pipe nobody reads
    would fill and stop it)."""
    return subprocess.Popen(  # noqa: S603
        [WAYSTATION, *args], env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def run(home: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [WAYSTATION, *args], env=env_for(home), capture_output=True, text=True, timeout=600, check=False, **kwargs
    )


def kill_when(child: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILL ``child`` as soon as ``ready()``; False when it ended first (nothing was killed)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                return False
            if ready():
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
                return True
            time.sleep(0.0005)
        raise AssertionError("the moment to kill never came")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.communicate()


def query(home: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(home / "waystation.sqlite3")
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def count(home: Path, table: str) -> int:
    return int(query(home, f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608 - table names from this file


def intact(home: Path) -> bool:
    return query(home, "PRAGMA integrity_check") == [("ok",)]


# --- import ----------------------------------------------------------------------------------------------------------


def register_rows(count_: int) -> list[list[str]]:
    """Clearly fictional rows: 가상 ("imaginary") and the row's number spelt in syllables."""
    syllables = "가나다라마바사아자차"
    rows = [["번호", "성명", "성별", "출생년도", "거점"]]
    for i in range(count_):
        name = "가상" + "".join(syllables[int(d)] for d in f"{i:04d}")
        rows.append([f"F-{i:05d}", name, "여", str(1960 + i % 40), "ALDER"])
    return rows


def test_a_killed_import_leaves_nothing_and_runs_again(tmp_path: Path) -> None:
    home, codes = make_home(tmp_path)
    register = tmp_path / "register.csv"
    register.write_bytes(csv_bytes(register_rows(3000)))
    tables = ("cases_person", "network_movement", "vault_casekeywrap", "intake_importrun", "intake_importedrecord")
    before = {table: count(home, table) for table in tables}

    child = start(home, "import", str(register), "--as", "coord")
    assert child.stderr is not None
    stderr = child.stderr
    seen: list[str] = []

    def writing() -> bool:  # progress goes to stderr, one line per tenth: "writing persons: 300/3,000 (4 s)"
        seen.append(stderr.readline())
        done = seen[-1].removeprefix("writing persons: ").split("/")[0].replace(",", "")
        return seen[-1].startswith("writing persons:") and done.isdigit() and int(done) > 0

    assert kill_when(child, writing), "".join(seen)
    assert child.returncode == -signal.SIGKILL

    assert intact(home)
    assert {table: count(home, table) for table in tables} == before  # not one person of the file, no import run

    again = run(home, "import", str(register), "--as", "coord")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "3000 persons created" in again.stdout
    assert count(home, "cases_person") == len(codes) + 3000
    assert count(home, "intake_importedrecord") == 3000 and count(home, "intake_importrun") == 1


# --- backup ----------------------------------------------------------------------------------------------------------


def backed_up_once(tmp_path: Path) -> tuple[Path, Path, tuple[str, ...]]:
    """An installation of 40 persons with one backup: its home, the backup's path, and the command that wrote it."""
    home, _codes = make_home(tmp_path, persons=40)
    backups, secret = tmp_path / "backups", tmp_path / "passphrase"
    backups.mkdir(mode=0o700)
    secret.write_text(PASSPHRASE + "\n")
    target = backups / "waystation.backup"
    args = ("backup", "--out", str(target), "--passphrase-file", str(secret))
    first = run(home, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    return home, target, args


def test_a_killed_backup_leaves_the_previous_one_and_runs_again(tmp_path: Path) -> None:
    home, target, args = backed_up_once(tmp_path)
    backups = target.parent
    previous = target.read_bytes()

    def half_written() -> bool:  # the new backup is being written beside the old one
        return any(backups.glob(".waystation.backup.*.partial"))

    for _attempt in range(5):  # the temporary file lives for a fraction of a second: try until the kill lands in it
        if kill_when(start(home, *args), half_written):
            break
        previous = target.read_bytes()  # it finished first: that is the previous backup now
    else:
        pytest.fail("the backup always finished before it could be killed half way")

    assert target.read_bytes() == previous  # the final name still holds a whole backup, the previous one
    assert unseal(previous, PASSPHRASE)  # ... which still opens
    assert [f.status for f in check_backups(Options(backups=backups))][0] == "WARN"  # leftover

    again = run(home, *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert target.read_bytes() != previous and unseal(target.read_bytes(), PASSPHRASE)


def test_a_full_disk_during_a_backup_leaves_the_previous_one(tmp_path: Path) -> None:
    home, target, args = backed_up_once(tmp_path)
    backups = target.parent
    previous = target.read_bytes()
    query(home, "PRAGMA wal_checkpoint(TRUNCATE)")  # the child's own database writes stay far below the limit
    limit = len(previous) // 2

    def small_disk() -> None:  # any file the child writes may not grow past `limit` bytes: a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = run(home, *args, preexec_fn=small_disk)

    assert full.returncode != 0
    assert "Cannot write the backup" in full.stderr and "Nothing was replaced" in full.stderr, full.stderr[-2000:]
    assert target.read_bytes() == previous and unseal(previous, PASSPHRASE)
    assert list(backups.glob(".*.partial")) == []  # the unfinished file was removed
    assert intact(home)


# --- shred -----------------------------------------------------------------------------------------------------------


def shred_state(home: Path, case_code: str) -> dict[str, bool]:
    person_id, narrative = query(home, "SELECT id, narrative FROM cases_person WHERE case_code = ?", (case_code,))[0]
    ledger = home / "shred-ledger"
    wraps = query(home, "SELECT count(*) FROM vault_casekeywrap WHERE person_id = ?", (person_id,))[0][0]
    return {
        "recorded": query(home, "SELECT count(*) FROM vault_shredrecord WHERE person_id = ?", (person_id,))[0][0] == 1,
        "keys_gone": wraps == 0,
        "blanked": not narrative,
        "audited": query(
            home, "SELECT count(*) FROM audit_auditevent WHERE action = 'vault.shred' AND case_id = ?", (person_id,)
        )[0][0]
        == 1,
        "in_ledger_file": ledger.exists() and person_id.replace("-", "") in ledger.read_text().replace("-", ""),
    }


def write_lock_probe(home: Path) -> tuple[sqlite3.Connection, Callable[[], bool]]:
    """A connection, and whether another process holds the database's write lock now (from its first write in a
    transaction to its commit)."""
    probe = sqlite3.connect(home / "waystation.sqlite3", timeout=0, isolation_level=None)

    def writing() -> bool:
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        probe.execute("ROLLBACK")
        return False

    return probe, writing


def test_a_killed_shred_happened_fully_or_not_at_all(tmp_path: Path) -> None:
    home, codes = make_home(tmp_path)
    code = codes[1]
    untouched = shred_state(home, code)
    assert not any(untouched.values())
    probe, writing = write_lock_probe(home)  # the shred is one write transaction: the lock is held throughout

    killed = False
    for _attempt in range(5):
        killed = kill_when(start(home, "vault", "shred", code, "--yes", "--json"), writing)
        if killed:
            break
    probe.close()

    state = shred_state(home, code)
    assert len(set(state.values())) == 1, f"a shred half done: {state}"
    assert intact(home)
    if state["recorded"]:  # killed after the commit: done, nothing to run again
        return
    assert killed, "the shred finished before it could be killed, but is not done"
    again = run(home, "vault", "shred", code, "--yes", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert all(shred_state(home, code).values())
    assert not any(shred_state(home, codes[0]).values())  # the other cases untouched


# --- sync import -----------------------------------------------------------------------------------------------------

SYNC_TABLES = (
    "cases_person", "network_station", "vault_casekeywrap", "sync_changes_change", "sync_changes_rowstate",
    "sync_receivedbundle", "sync_changes_peerstate",
)  # fmt: skip


def sync_state(home: Path) -> dict[str, int]:
    applied = "SELECT count(*) FROM audit_auditevent WHERE action = 'sync.import'"
    return {table: count(home, table) for table in SYNC_TABLES} | {"audited": query(home, applied)[0][0]}


def test_a_killed_sync_import_applied_all_or_nothing_and_runs_again(tmp_path: Path) -> None:
    """A station's laptop importing the hub's first bundle (its stations and 150 women), killed while the one
    transaction of the import holds the write lock: after the restart the station holds all of it or nothing, and
    the same file imports to its end."""
    hub, codes = make_home(tmp_path, persons=150, name="hub", mode="varied")
    station, _none = make_home(tmp_path, persons=0, name="station", mode="bare")
    keys = {}
    for home in (hub, station):
        shown = run(home, "sync", "identity", "--json", "--as", "coord")
        assert shown.returncode == 0, shown.stderr[-2000:]
        keys[home] = json.loads(shown.stdout)["key"]
    for home, args in ((hub, ("--station", "ALDER")), (station, ("--hub",))):
        other = station if home == hub else hub
        name = "ALDER" if home == hub else "hub"
        done = run(home, "sync", "enrol", "--name", name, "--key", keys[other], *args, "--yes", "--as", "coord")
        assert done.returncode == 0, done.stderr[-2000:]
    bundle = tmp_path / "to-alder.bundle"
    exported = run(hub, "sync", "export", "--peer", "ALDER", "--out", str(bundle), "--as", "coord")
    assert exported.returncode == 0, exported.stderr[-2000:]
    empty = sync_state(station)
    assert empty["cases_person"] == 0 and empty["sync_receivedbundle"] == 0

    probe, writing = write_lock_probe(station)
    held_since: list[float] = []

    def applying() -> bool:  # the lock held for a while: the import's transaction, not a short write before it
        if not writing():
            held_since.clear()
            return False
        held_since.append(time.monotonic())
        return held_since[-1] - held_since[0] > 0.2

    killed = False
    for _attempt in range(3):
        killed = kill_when(start(station, "sync", "import", str(bundle), "--as", "coord"), applying)
        if killed:
            break
    probe.close()

    assert intact(station)
    after = sync_state(station)
    if after["sync_receivedbundle"]:  # killed after the commit: all of it is there, nothing to run again
        assert after["cases_person"] == len(codes) and after["audited"] == 1
        return
    assert killed, (
        "the import ended before it could be killed, applying nothing: "
        + run(station, "sync", "import", str(bundle), "--as", "coord").stderr[-2000:]
    )
    assert after == empty, "an import half applied"

    again = run(station, "sync", "import", str(bundle), "--as", "coord")
    assert again.returncode == 0, again.stderr[-2000:]
    done = sync_state(station)
    assert done["cases_person"] == len(codes) and done["sync_receivedbundle"] == 1 and done["audited"] == 1
    assert sorted(r[0] for r in query(station, "SELECT case_code FROM cases_person")) == sorted(codes)
