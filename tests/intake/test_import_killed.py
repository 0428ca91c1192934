"""An import killed half way (SIGKILL: no handler runs, no rollback is asked for) leaves nothing behind.

A child process imports 6,000 rows into an installation of its own (an SQLite file) and is killed once 4,000
persons are written inside the import's transaction. The database is then read as the next process would read it:
no person, movement, index entry, key wrap, import record or run, and an intact file. The same import then runs to
the end. (On PostgreSQL the same holds by the server's own transaction handling; this test uses SQLite, whose
recovery from a killed writer is the case worth proving.)
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("import_child.py")
TABLES = (
    "cases_person",
    "network_movement",
    "vault_nameindex",
    "vault_casekeywrap",
    "intake_importrun",
    "intake_importedrecord",
)


def counts(database: Path) -> dict[str, int]:
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}  # noqa: S608
    finally:
        connection.close()


def test_a_killed_import_leaves_no_partial_records(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, str(CHILD), str(home), "6000", "--stall-after", "4000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "writing", child.stderr.read() if child.stderr else line
        # 4,000 persons are in the database's journal now, uncommitted.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    assert counts(home / "waystation.sqlite3") == dict.fromkeys(TABLES, 0)

    again = subprocess.run(  # noqa: S603
        [sys.executable, str(CHILD), str(home), "6000"], capture_output=True, text=True, timeout=300, check=False
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "created 6000" in again.stdout
    after = counts(home / "waystation.sqlite3")
    assert after["cases_person"] == after["intake_importedrecord"] == after["network_movement"] == 6000
    assert after["intake_importrun"] == 1
