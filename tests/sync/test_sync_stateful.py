"""Offline sync proved on three real installations: a hub and two stations (ALDER and BIRCH), each its own data
folder and SQLite database in a long-lived process of its own (``installation.py serve``), enrolled with one another,
each with a coordinator whose keys open the cases. Hypothesis drives the real services on every side (registering,
editing coded and sensitive fields, moving women between stations and arriving, merging duplicate records,
shredding) and real bundle files (the services and file writer of ``waystation sync export|import``), carried in
any order, duplicated and dropped. After a full exchange:

- every installation holds the same data for what it holds in scope: the records field by field (sensitive values
  decrypted with the coordinator's keys), each field's versions, and the open conflicts;
- inside each installation every record shows what its replicated state says, and every field in conflict has an
  open conflict (and no other has): a change refused by a database rule would show here as a state without a record;
- no edit is lost: every write made anywhere is at the hub, one of a field's current versions or seen by one;
- a station never holds a case that was not in its scope at the hub when a bundle for it was built (or that it
  registered itself), and its view of its scope agrees with the hub's;
- a shredded case is shredded everywhere, and none of its sensitive values is left in a record, a state, the log or
  an open conflict of any installation.

Cost: the installations are set up once for the module (from the session's migrated database, ``conftest``) and
copied back before each example; each example is a few
seconds. In CI a few short examples run (profile ``sync-stateful-ci``); for a longer search run

    WAYSTATION_SYNC_STATEFUL=long .venv/bin/pytest -q -p no:cacheprovider tests/sync/test_sync_stateful.py

(profile ``sync-stateful-long``: 60 examples of up to 40 steps, 7 to 10 minutes). The installations use SQLite
whatever ``DATABASE_URL`` says (each its own file), so the test runs in the SQLite pass only.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from installation import Served, new_home

from waystation.testing.passes import own_sqlite_installations

HUB, S1, S2 = "hub", "ALDER", "BIRCH"
STATIONS = (S1, S2)
ELSEWHERE = "CEDAR"  # a station no installation serves: a woman moved there leaves both stations' scope
ACCOUNTS = {
    HUB: ("hubcoord", "fictional-hub-passphrase-1"),
    S1: ("aldercoord", "fictional-alder-passphrase-2"),
    S2: ("birchcoord", "fictional-birch-passphrase-3"),
}
NAMES = ["가상 하나", "가상 둘", "가상 셋", "가상 넷"]  # clearly fictional
EDITS = [
    ("birth_year", 1988),
    ("birth_year", 1992),
    ("sex", "M"),
    ("name_hangul", NAMES[0]),
    ("name_hangul", "가상 다섯"),
]
PAIRS = [(S1, HUB), (S2, HUB), (HUB, S1), (HUB, S2)]

SLOW_STEPS_ALLOWED: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("sync-stateful-ci", max_examples=4, stateful_step_count=14, **SLOW_STEPS_ALLOWED)
settings.register_profile("sync-stateful-long", max_examples=60, stateful_step_count=40, **SLOW_STEPS_ALLOWED)
PROFILE = f"sync-stateful-{os.environ.get('WAYSTATION_SYNC_STATEFUL', 'ci')}"

pytestmark = own_sqlite_installations


class Installation(Served):
    """One installation's long-lived process, with its coordinator's account."""

    def __init__(self, name: str, home: Path, log: IO[str]) -> None:
        self.home = home
        self.user, self.password = ACCOUNTS[name]
        env = os.environ | {"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1", "LANGUAGE": "en"}
        env.pop("DATABASE_URL", None)  # each its own SQLite file: three installations, not three views of one
        super().__init__(name, env, log)

    def as_user(self, step: str, *args: Any) -> Any:
        return self(step, self.user, self.password, *args)


class Network:
    def __init__(self, folder: Path, migrated: Path) -> None:
        self.folder = folder
        self.log = (folder / "installations.log").open("w", encoding="utf-8")
        self.at = {name: Installation(name, new_home(folder / name.lower(), migrated), self.log) for name in ACCOUNTS}
        self.bundles = itertools.count(1)
        self._set_up()

    def _set_up(self) -> None:
        hub = self.at[HUB]
        keys = {name: inst("setup", inst.user, inst.password)["key"] for name, inst in self.at.items()}
        for code in (S1, S2, ELSEWHERE):
            hub.as_user("station", code)
        for code in STATIONS:
            hub("command", "enrol", "--name", code, "--key", keys[code], "--station", code, "--yes")
            self.at[code]("command", "enrol", "--name", "hub", "--key", keys[HUB], "--hub", "--yes")
        for code in STATIONS:  # the stations learn their stations from the hub
            self.carry(HUB, code)
            self.carry(code, HUB)
        for name, inst in self.at.items():
            inst("snapshot", str(self.folder / f"template-{name.lower()}"))

    def restore(self) -> None:
        for name, inst in self.at.items():
            inst("restore", str(self.folder / f"template-{name.lower()}"))

    def export(self, sender: str, to: str) -> dict[str, Any]:
        path = self.folder / f"bundle-{next(self.bundles)}-{sender}-to-{to}.bundle".lower()
        exported = self.at[sender].as_user("export", to, str(path))  # the peers are named hub, ALDER, BIRCH
        return {"path": str(path), "from": sender, "to": to, "scope": exported["scope"]}

    def deliver(self, bundle: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.at[bundle["to"]].as_user("import", bundle["path"])
        return answer

    def carry(self, sender: str, to: str) -> dict[str, Any]:
        answer = self.deliver(self.export(sender, to))
        assert "refused" not in answer, answer
        return answer

    def close(self) -> None:
        for inst in self.at.values():
            inst.close()
        self.log.close()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory, migrated_database: Path) -> Iterator[Network]:
    made = Network(tmp_path_factory.mktemp("sync-stateful"), migrated_database)
    yield made
    made.close()


def _in_scope(hold: dict[str, Any], persons: set[str]) -> dict[str, Any]:
    """The part of what an installation holds that concerns these cases (and the stations, which all hold)."""
    rows = {
        label: {gid: row for gid, row in held.items() if row["case"] is None or row["case"] in persons}
        for label, held in hold["rows"].items()
    }
    gids = {(label, gid) for label, held in rows.items() for gid in held}
    states = {
        label: {gid: fields for gid, fields in held.items() if (label, gid) in gids}
        for label, held in hold["states"].items()
        if label != "vault.shred"
    }
    conflicts = [c for c in hold["conflicts"] if (c[0], c[1]) in gids]
    return {"rows": rows, "states": states, "conflicts": conflicts}


class SyncMachine(RuleBasedStateMachine):
    def __init__(self, network: Network) -> None:
        super().__init__()
        self.net = network
        network.restore()
        self.held: dict[str, list[str]] = {name: [] for name in network.at}
        self.created_at: dict[str, str] = {}
        self.ever_in_scope: dict[str, set[str]] = {code: set() for code in STATIONS}
        self.in_flight: list[dict[str, Any]] = []
        self.writes: list[list[Any]] = []
        self.shredded: set[str] = set()

    @initialize()
    def two_women_known_to_all(self) -> None:
        """The hub registers a woman at each station and sends them: every example starts with shared cases."""
        for code in STATIONS:
            self.created_at[self._act(HUB, "register", code, NAMES[0])["id"]] = HUB
        for code in STATIONS:
            bundle = self.net.export(HUB, code)
            self._note_scope(bundle)
            self._import(bundle)

    # --- acting --------------------------------------------------------------------------------------------------

    def _act(self, where: str, action: str, *args: Any) -> dict[str, Any]:
        done: dict[str, Any] = self.net.at[where].as_user("act", action, *args)
        if done["done"]:
            self.writes.extend(done["writes"])
        self.held[where] = self.net.at[where]("persons")["persons"]
        return done

    def _pick(self, where: str, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.held[where]), label=f"person at {where}")

    @rule(where=st.sampled_from([HUB, S1, S2]), data=st.data(), name=st.sampled_from(NAMES))
    def register(self, where: str, data: st.DataObject, name: str) -> None:
        code = data.draw(st.sampled_from([S1, S2, ELSEWHERE]), label="station") if where == HUB else where
        done = self._act(where, "register", code, name)
        assert done["done"], done
        self.created_at[done["id"]] = where

    @precondition(lambda self: any(self.held.values()))
    @rule(
        where=st.sampled_from([HUB, S1, S2]),
        data=st.data(),
        change=st.sampled_from(EDITS),
    )
    def edit(self, where: str, data: st.DataObject, change: tuple[str, Any]) -> None:
        if self.held[where]:
            self._act(where, "edit", self._pick(where, data), *change)

    @precondition(lambda self: any(self.held.values()))
    @rule(where=st.sampled_from([HUB, S1, S2]), data=st.data(), to=st.sampled_from([S1, S2, ELSEWHERE]))
    def move(self, where: str, data: st.DataObject, to: str) -> None:
        if self.held[where]:
            self._act(where, "move", self._pick(where, data), to)

    @precondition(lambda self: any(self.held.values()))
    @rule(where=st.sampled_from([HUB, S1, S2]), data=st.data())
    def arrive(self, where: str, data: st.DataObject) -> None:
        if self.held[where]:
            self._act(where, "arrive", self._pick(where, data))

    @precondition(lambda self: any(len(held) >= 2 for held in self.held.values()))
    @rule(where=st.sampled_from([HUB, S1, S2]), data=st.data())
    def merge_duplicates(self, where: str, data: st.DataObject) -> None:
        if len(self.held[where]) >= 2:
            kept, absorbed = data.draw(st.permutations(self.held[where]), label="kept, absorbed")[:2]
            self._act(where, "merge", kept, absorbed)

    @precondition(lambda self: any(self.held.values()))
    @rule(where=st.sampled_from([HUB, S1, S2]), data=st.data())
    def shred(self, where: str, data: st.DataObject) -> None:
        if self.held[where]:
            person = self._pick(where, data)
            if self._act(where, "shred", person)["done"]:
                self.shredded.add(person)

    # --- carrying bundles ----------------------------------------------------------------------------------------

    @rule(pair=st.sampled_from(PAIRS))
    def export(self, pair: tuple[str, str]) -> None:
        bundle = self.net.export(*pair)
        self._note_scope(bundle)
        self.in_flight.append(bundle)

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), keep=st.booleans())
    def deliver(self, data: st.DataObject, keep: bool) -> None:
        """A bundle in flight, any of them, is imported; ``keep``: it may be carried again later (then refused as
        imported already)."""
        bundle = data.draw(st.sampled_from(self.in_flight), label="bundle")
        if not keep:
            self.in_flight.remove(bundle)
        self._import(bundle)

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        self.in_flight.remove(data.draw(st.sampled_from(self.in_flight), label="lost bundle"))

    def _note_scope(self, bundle: dict[str, Any]) -> None:
        if bundle["to"] in STATIONS:
            self.ever_in_scope[bundle["to"]] |= set(bundle["scope"])

    def _import(self, bundle: dict[str, Any]) -> dict[str, Any]:
        answer = self.net.deliver(bundle)
        if "refused" in answer:
            # The one refusal expected here: a bundle carried twice. Anything else (a merge the receiver cannot
            # apply, a clash of database rules) is a bug of the sync.
            assert "imported already" in answer["refused"], answer
        self.held[bundle["to"]] = self.net.at[bundle["to"]]("persons")["persons"]
        return answer

    @invariant()
    def a_station_holds_only_cases_it_was_entitled_to(self) -> None:
        for code in STATIONS:
            own = {p for p, where in self.created_at.items() if where == code}
            leaked = set(self.held[code]) - self.ever_in_scope[code] - own
            assert not leaked, f"{code} holds cases never in its scope: {sorted(leaked)}"

    # --- the end -------------------------------------------------------------------------------------------------

    def teardown(self) -> None:
        self._full_exchange()
        holds = {name: inst.as_user("hold") for name, inst in self.net.at.items()}
        for name, hold in holds.items():
            assert not hold["problems"], f"{name}: {hold['problems']}"
        hub = holds[HUB]
        for code in STATIONS:
            scope = set(self.net.at[HUB]("scope", code)["persons"])
            assert set(self.net.at[code]("scope", code)["persons"]) == scope, f"{code} sees another scope"
            assert _in_scope(holds[code], scope) == _in_scope(hub, scope), f"{code} differs from the hub"
        for model, gid, field, origin, seq in self.writes:
            if model == "vault.shred":
                continue
            versions = hub["states"][model][gid][field]
            seen = [v for v in versions if (v[0], v[1]) == (origin, seq) or v[4].get(origin, 0) >= seq]
            assert seen, f"the write {origin}:{seq} of {model} {gid}.{field} was lost"
        for name, hold in holds.items():
            persons = set(hold["rows"]["cases.person"])
            # Shreds reach every installation, whether or not it holds the case.
            assert self.shredded <= set(hold["shredded"]), f"{name} missed a shred"
            for person in persons & set(hold["shredded"]):
                fields = hold["rows"]["cases.person"][person]["fields"]
                assert fields["name_hangul"] == "", f"{name} keeps a shredded name"

    def _full_exchange(self) -> None:
        """Every pair exchanges until a round applies nothing new (at most five rounds)."""
        for _round in range(5):
            applied = 0
            for sender, to in [(S1, HUB), (S2, HUB), (HUB, S1), (HUB, S2)]:
                bundle = self.net.export(sender, to)
                self._note_scope(bundle)
                answer = self._import(bundle)
                assert "refused" not in answer, answer
                applied += answer["counts"]["applied"]
            self.a_station_holds_only_cases_it_was_entitled_to()
            if applied == 0:
                return
        raise AssertionError("the installations did not settle after five rounds of exchange")


def test_three_installations_converge(network: Network) -> None:
    run_state_machine_as_test(lambda: SyncMachine(network), settings=settings.get_profile(PROFILE))
