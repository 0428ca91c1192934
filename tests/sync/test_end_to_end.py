"""A hub and a station, two installations in folders of their own, exchanging bundle files through the real
commands (`waystation sync enrol|export|import`), as a coordinator carrying a USB stick would: the station learns
its stations from the hub, registers a woman, and the hub reads her name under its own keys; a replayed bundle
changes nothing; the same field edited on both sides becomes the same conflict on both. Then the hub pulls its kill
switch: its notice, carried as a file, pulls the station's too, and the station's edit made after the kill opens
nothing at the hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from installation import Served, new_home

from waystation.testing.passes import own_sqlite_installations

pytestmark = own_sqlite_installations

HUB, STATION = ("hubcoord", "fictional-hub-passphrase-1"), ("stcoord", "fictional-station-passphrase-2")
CANARY = "가상 카나리아 E2E-7Q"  # a fictional name; its bytes must not travel in the clear


class Installation:
    def __init__(self, home: Path, account: tuple[str, str]) -> None:
        self.home, (self.user, self.password) = home, account
        self.env = os.environ | {"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1", "LANGUAGE": "en"}
        self.env.pop("DATABASE_URL", None)  # each its own SQLite file: two installations, not two views of one
        self.served: Served | None = None

    def step(self, name: str, *args: str, as_user: bool = False) -> dict[str, Any]:
        """One step of ``installation.py`` in the installation's own process (started once: Django is slow to start)."""
        if self.served is None:
            self.served = Served(self.home.name, self.env)
        who = (self.user, self.password) if as_user else ()
        result: dict[str, Any] = self.served(name, *who, *args)
        return result

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = self.env | {"WAYSTATION_PASSWORD": self.password}
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", "waystation.cli", "sync", *args, "--as", self.user],
            env=env,
            capture_output=True,
            text=True,
        )

    def ok(self, *args: str) -> str:
        done = self.command(*args)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


def test_a_station_and_the_hub_exchange_bundle_files(tmp_path: Path, migrated_database: Path) -> None:
    hub = Installation(new_home(tmp_path / "hub", migrated_database), HUB)
    station = Installation(new_home(tmp_path / "station", migrated_database), STATION)
    hub_key = hub.step("setup", hub.user, hub.password)["key"]
    station_key = station.step("setup", station.user, station.password)["key"]
    hub.step("station", "ALDER", as_user=True)

    hub.ok("enrol", "--name", "ALDER", "--key", station_key, "--station", "ALDER", "--yes")
    station.ok("enrol", "--name", "hub", "--key", hub_key, "--hub", "--yes")

    # The hub's first bundle gives the station its stations, with the same identities.
    first = tmp_path / "to-station-1.bundle"
    hub.ok("export", "--peer", "ALDER", "--out", str(first))
    station.ok("import", str(first))
    assert station.step("stations") == hub.step("stations")

    # The station registers a woman; her name travels encrypted and the hub reads it under its own keys.
    woman = station.step("register", "ALDER", CANARY, as_user=True)
    second = tmp_path / "to-hub-1.bundle"
    station.ok("export", "--peer", "hub", "--out", str(second))
    carried = second.read_bytes()
    for form in (CANARY.encode(), CANARY.encode("utf-16-le"), json.dumps(CANARY).encode()):
        assert form not in carried
    assert hub.step("read", woman["id"], as_user=True)["person"] is None
    hub.ok("import", str(second))
    assert hub.step("read", woman["id"], as_user=True)["name_hangul"] == CANARY

    # The same bundle again: refused with a message, nothing changes.
    replay = hub.command("import", str(second))
    assert replay.returncode != 0 and "already" in (replay.stderr + replay.stdout).lower()
    assert hub.step("read", woman["id"], as_user=True)["name_hangul"] == CANARY

    # Both sides change her birth year without having seen the other's change: after the exchange both hold the
    # same open conflict and show the same value meanwhile; neither edit was lost silently.
    station.step("edit", woman["id"], "1991", as_user=True)
    hub.step("edit", woman["id"], "1992", as_user=True)
    to_station, to_hub = tmp_path / "to-station-2.bundle", tmp_path / "to-hub-2.bundle"
    hub.ok("export", "--peer", "ALDER", "--out", str(to_station))
    station.ok("export", "--peer", "hub", "--out", str(to_hub))
    station.ok("import", str(to_station))
    hub.ok("import", str(to_hub))
    at_hub, at_station = hub.step("conflicts", woman["id"]), station.step("conflicts", woman["id"])
    assert at_hub == at_station
    assert at_hub["fields"] == ["birth_year"] and at_hub["birth_year"] in (1991, 1992)

    # The hub pulls its kill switch. The station, not knowing yet, edits her; its bundle cannot be opened at the hub
    # (refused, nothing changes), and the export for the station writes the hub's kill notice instead of a bundle.
    assert hub.step("kill", as_user=True) == {"user_wraps": 0}
    station.step("edit", woman["id"], "1993", as_user=True)
    late = tmp_path / "to-hub-late.bundle"
    station.ok("export", "--peer", "hub", "--out", str(late))
    refused = hub.command("import", str(late))
    assert refused.returncode != 0 and "keys" in refused.stderr
    at_hub = hub.step("read", woman["id"], as_user=True)
    assert at_hub["locked"] and at_hub["name_hangul"] == "" and at_hub["birth_year"] != 1993
    notice = tmp_path / "kill-notice.bundle"
    assert "kill notice" in hub.ok("export", "--peer", "ALDER", "--out", str(notice))

    # At the station, the notice pulls the kill switch: nothing of hers is readable any more, even signed in again.
    assert "pulled the kill switch" in station.ok("import", str(notice))
    assert station.step("read", woman["id"], as_user=True)["locked"]
