"""The installations that the sync tests run in processes of their own (``installation.py``) start from one database
migrated once for the session: migrating is most of an installation's set-up, and a copy of a freshly migrated
database is what migrating makes (tables, triggers, migration records; nothing of an installation's own yet)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from installation import DATABASE


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home, copy = tmp_path_factory.mktemp("migrating"), tmp_path_factory.mktemp("migrated") / "home"
    env = os.environ | {"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(  # noqa: S603 - migrates, then copies the data folder with the database closed
        [sys.executable, str(Path(__file__).with_name("installation.py")), "snapshot", str(copy)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return copy / DATABASE
