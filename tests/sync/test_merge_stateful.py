"""The merge core, proved with three replicas: a hub and two stations, each a model of one installation (its state,
its change log, its peers' acknowledgements, the scope rule) built on the very functions the database layer calls
(``waystation.sync.changes.merge``). Hypothesis drives random creations, edits, moves, merges of duplicate records
and shreds on every side, and payloads exchanged in random order, duplicated and dropped. After a full exchange:

- every installation holds the same state for what it holds in scope (field by field, conflicts included);
- no write is lost: every write of a field is either one of its current versions (shown, or in a recorded
  conflict) or was seen by the writer of one of them (a sequential overwrite);
- a station never received a case that was not, at the hub, at its station when a payload was built;
- a shredded case's sensitive values are gone everywhere.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from waystation.sync.changes import merge

HUB, S1, S2 = "hub", "s1", "s2"
STATIONS = (S1, S2)
SENSITIVE = {"name"}
SHRED = "shred"


@dataclass
class Replica:
    name: str
    origin: str
    seq: int = 0
    clock: merge.Clock = field(default_factory=merge.Clock)
    rows: dict[tuple[str, str], dict[str, list[merge.Version]]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    acked: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> (bundle, log length) it acknowledged
    received: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> its (bundle, upto) we received
    built: dict[str, int] = field(default_factory=dict)
    whole: dict[str, dict[str, int]] = field(default_factory=dict)  # peer -> person -> first bundle sent whole
    now: int = 1_000

    def shredded(self, person: str) -> bool:
        return (SHRED, person) in self.rows

    def write(self, kind: str, gid: str, values: dict[str, Any]) -> None:
        self.now += 1
        self.seq += 1
        hlc = self.clock.tick(self.origin, self.now)
        fields = self.rows.setdefault((kind, gid), {})
        ctx = merge.row_vector(fields)
        if kind == "person" and self.shredded(gid):
            values = {k: ("" if k in SENSITIVE else v) for k, v in values.items()}
        merge.local_write(fields, values, origin=self.origin, seq=self.seq, hlc=hlc)
        self.log.append({"o": self.origin, "n": self.seq, "h": hlc, "m": kind, "g": gid, "x": ctx, "f": dict(values)})
        if kind == SHRED:
            self.forget(gid)

    def forget(self, person: str) -> None:
        fields = self.rows.get(("person", person), {})
        for name in SENSITIVE & set(fields):
            fields[name] = merge.blanked(fields[name])
        for entry in self.log:
            if entry["m"] == "person" and entry["g"] == person:
                entry["f"] = {k: ("" if k in SENSITIVE else v) for k, v in entry["f"].items()}

    def value(self, person: str, name: str) -> Any:
        versions = self.rows.get(("person", person), {}).get(name)
        return merge.winner(versions).value if versions else None

    def persons(self) -> set[str]:
        return {gid for kind, gid in self.rows if kind == "person"}

    # --- the payload protocol (payload.build_payload / receive_payload) --------------------------------------

    def scope(self, station: str) -> set[str]:
        return {p for p in self.persons() if self.value(p, "station") == station}

    def build(self, peer: str) -> dict[str, Any]:
        self.built[peer] = self.built.get(peer, 0) + 1
        bundle = self.built[peer]
        acked_bundle, acked_upto = self.acked.get(peer, (0, 0))
        pending = self.log[acked_upto:]
        if self.name == HUB and peer in STATIONS:
            persons = self.scope(peer)
            sent = {p: b for p, b in self.whole.get(peer, {}).items() if p in persons}  # left: whole again on return
            self.whole[peer] = sent
            for p in persons:
                sent.setdefault(p, bundle)
            whole = {p for p in persons if sent[p] > acked_bundle}
            changes = [e for e in pending if e["m"] == SHRED or (e["g"] in persons and e["g"] not in whole)]
            for (kind, gid), fields in self.rows.items():
                if gid in whole:
                    by_dot: dict[tuple[str, int], dict[str, Any]] = {}
                    for name, versions in fields.items():
                        for v in versions:
                            e = by_dot.setdefault((v.origin, v.seq), {"o": v.origin, "n": v.seq, "h": v.hlc, "m": kind,
                                                                      "g": gid, "x": dict(v.ctx), "f": {}})  # fmt: skip
                            e["f"][name] = v.value
                    changes.extend(by_dot.values())
        else:
            changes = list(pending)
        return {"from": self.name, "bundle": bundle, "upto": len(self.log), "ack": self.received.get(peer),
                "changes": copy.deepcopy(changes)}  # fmt: skip

    def receive(self, payload: dict[str, Any]) -> None:
        peer = payload["from"]
        self.clock.receive(e["h"] for e in payload["changes"])
        shreds = []
        for e in payload["changes"]:
            fields = self.rows.setdefault((e["m"], e["g"]), {})
            fresh = {}
            for name, value in e["f"].items():
                if e["m"] == "person" and name in SENSITIVE and self.shredded(e["g"]):
                    value = ""
                merged, changed = merge.merge(
                    fields.get(name, []), merge.Version(e["o"], e["n"], e["h"], value, e["x"])
                )
                if changed:
                    fields[name] = merged
                    fresh[name] = value
            if fresh:
                self.log.append({**e, "f": fresh})
                if e["m"] == SHRED:
                    shreds.append(e["g"])
        for person in shreds:
            self.forget(person)
        if payload["ack"] is not None and payload["ack"][0] > self.acked.get(peer, (0, 0))[0]:
            self.acked[peer] = payload["ack"]
        if payload["bundle"] > self.received.get(peer, (0, 0))[0]:
            self.received[peer] = (payload["bundle"], payload["upto"])


PAIRS = [(S1, HUB), (S2, HUB), (HUB, S1), (HUB, S2)]
VALUES = st.sampled_from(["a", "b", "c"])


class Network(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.replicas = {n: Replica(n, o) for n, o in ((HUB, "0hub"), (S1, "1sta"), (S2, "2stb"))}
        self.in_flight: list[dict[str, Any]] = []
        self.counter = itertools.count(1)
        self.writes: list[tuple[str, str, str, int]] = []  # (person, field, origin, seq): every write ever made
        self.ever_in_scope: dict[str, set[str]] = {S1: set(), S2: set()}
        self.created_at: dict[str, str] = {}

    def _write(self, replica: Replica, kind: str, gid: str, values: dict[str, Any]) -> None:
        replica.write(kind, gid, values)
        if kind == "person":
            self.writes.extend((gid, name, replica.origin, replica.seq) for name in values)

    @rule(where=st.sampled_from([HUB, S1, S2]), name=VALUES)
    def create(self, where: str, name: str) -> None:
        person = f"p{next(self.counter)}"
        station = where if where in STATIONS else S1
        self.created_at[person] = where
        self._write(self.replicas[where], "person", person, {"name": name, "status": "new", "station": station})

    @precondition(lambda self: any(r.persons() for r in self.replicas.values()))
    @rule(data=st.data(), where=st.sampled_from([HUB, S1, S2]), name=st.sampled_from(["name", "status"]), value=VALUES)
    def edit(self, data: st.DataObject, where: str, name: str, value: str) -> None:
        replica = self.replicas[where]
        if replica.persons():
            person = data.draw(st.sampled_from(sorted(replica.persons())))
            self._write(replica, "person", person, {name: value})

    @precondition(lambda self: any(r.persons() for r in self.replicas.values()))
    @rule(data=st.data(), where=st.sampled_from([HUB, S1, S2]), to=st.sampled_from([S1, S2, "kr"]))
    def move(self, data: st.DataObject, where: str, to: str) -> None:
        replica = self.replicas[where]
        if replica.persons():
            self._write(replica, "person", data.draw(st.sampled_from(sorted(replica.persons()))), {"station": to})

    @precondition(lambda self: len(self.replicas[HUB].persons()) >= 2)
    @rule(data=st.data(), where=st.sampled_from([HUB, S1, S2]))
    def merge_duplicates(self, data: st.DataObject, where: str) -> None:
        replica = self.replicas[where]
        persons = sorted(replica.persons())
        if len(persons) >= 2:
            first, second = data.draw(st.permutations(persons))[:2]
            self._write(replica, "person", first, {"merged_into": second})

    @precondition(lambda self: any(r.persons() for r in self.replicas.values()))
    @rule(data=st.data(), where=st.sampled_from([HUB, S1, S2]))
    def shred(self, data: st.DataObject, where: str) -> None:
        replica = self.replicas[where]
        if replica.persons():
            person = data.draw(st.sampled_from(sorted(replica.persons())))
            replica.write(SHRED, person, {"shredded": True})

    @rule(pair=st.sampled_from(PAIRS))
    def send(self, pair: tuple[str, str]) -> None:
        sender, to = pair
        payload = self.replicas[sender].build(to)
        self._note_sent(payload, to)
        self.in_flight.append({**payload, "to": to})

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), keep=st.booleans())
    def deliver(self, data: st.DataObject, keep: bool) -> None:
        """A payload, any of those in flight, arrives; ``keep``: it may arrive again later (a duplicate)."""
        payload = data.draw(st.sampled_from(self.in_flight))
        if not keep:
            self.in_flight.remove(payload)
        self.replicas[payload["to"]].receive(copy.deepcopy(payload))

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        self.in_flight.remove(data.draw(st.sampled_from(self.in_flight)))

    def _note_sent(self, payload: dict[str, Any], to: str) -> None:
        """What the hub may send a station: the cases at its station at the hub when the payload is built."""
        if to in STATIONS:
            self.ever_in_scope[to] |= self.replicas[HUB].scope(to)
            sent = {e["g"] for e in payload["changes"] if e["m"] == "person"}
            assert sent <= self.replicas[HUB].scope(to), (to, sent - self.replicas[HUB].scope(to))

    @invariant()
    def stations_hold_only_what_was_in_their_scope(self) -> None:
        for station in STATIONS:
            own = {p for p, where in self.created_at.items() if where == station}
            assert self.replicas[station].persons() <= self.ever_in_scope[station] | own

    def teardown(self) -> None:
        self._full_exchange()
        hub = self.replicas[HUB]
        # Everything written anywhere reached the hub, and no write was lost without a trace.
        for person, name, origin, seq in self.writes:
            versions = hub.rows[("person", person)][name]
            probe = merge.Version(origin, seq, "", None, {})
            assert any(probe.seen_by(v) for v in versions), (person, name, origin, seq)
        for station in STATIONS:
            replica = self.replicas[station]
            for person in hub.scope(station):
                assert replica.rows.get(("person", person)) == hub.rows[("person", person)], (station, person)
                assert replica.shredded(person) == hub.shredded(person)
            # Shreds reach every station: a case it held and that left its scope is forgotten there too.
            for person in replica.persons():
                if hub.shredded(person):
                    assert replica.shredded(person)
                    assert all(v.value == "" for v in replica.rows[("person", person)].get("name", []))
        for (kind, gid), fields in hub.rows.items():
            if kind == "person" and hub.shredded(gid):
                assert all(v.value == "" for v in fields.get("name", []))

    def _full_exchange(self) -> None:
        for _round in range(3):
            for sender, to in PAIRS:
                payload = self.replicas[sender].build(to)
                self._note_sent(payload, to)
                self.replicas[to].receive(payload)
        self.stations_hold_only_what_was_in_their_scope()


Network.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestNetwork = Network.TestCase


def test_concurrent_writes_are_kept_side_by_side_and_a_later_write_settles_them() -> None:
    a, b = merge.Version("A", 1, "1A", "x", {}), merge.Version("B", 1, "2B", "y", {})
    state, changed = merge.merge([a], b)
    assert changed and state == [a, b] and merge.in_conflict(state) and merge.winner(state) is b
    settle = merge.Version("A", 2, "3A", "x", {"A": 1, "B": 1})
    state, changed = merge.merge(state, settle)
    assert state == [settle] and not merge.in_conflict(state)
    assert merge.merge(state, a) == (state, False) and merge.merge(state, b) == (state, False)


def test_the_clock_never_goes_back_and_moves_past_what_it_receives() -> None:
    clock = merge.Clock()
    first = clock.tick("A", 100)
    second = clock.tick("A", 50)  # the wall clock went back
    assert second > first
    clock.receive([merge.hlc_format(900, 3, "B")])
    assert clock.tick("A", 100) > merge.hlc_format(900, 3, "B")


def test_a_case_that_leaves_a_stations_scope_and_returns_arrives_whole_again() -> None:
    """Edits made while the case was elsewhere were never sent to the station: they reach it when she is back."""
    hub, station = Replica(HUB, "0hub"), Replica(S1, "1sta")

    def exchange() -> None:
        station.receive(hub.build(S1))
        hub.receive(station.build(HUB))  # carries the station's acknowledgement

    hub.write("person", "p1", {"name": "a", "status": "new", "station": S1})
    exchange()
    hub.write("person", "p1", {"station": S2})
    hub.write("person", "p1", {"status": "moved on", "name": "b"})
    exchange()
    assert station.value("p1", "status") == "new"  # out of its scope: not sent
    hub.write("person", "p1", {"station": S1})
    exchange()
    assert station.rows[("person", "p1")] == hub.rows[("person", "p1")]
    assert station.value("p1", "status") == "moved on"
