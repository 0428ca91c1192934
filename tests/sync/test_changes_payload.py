"""Payloads: what a peer is sent (scope, acknowledgements, plaintext only inside), and applying what a peer sent
(recreating rows under this installation's keys, duplicates, refusing bad input without changing anything)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from waystation.audit.models import AuditEvent
from waystation.cases.models import CaseNote, Person
from waystation.cases.services import person_update
from waystation.linkage.models import Candidate, Merge
from waystation.network import services as network_services
from waystation.network.models import Movement, Station
from waystation.sync.changes import log, merge
from waystation.sync.changes.models import Change, Conflict, Installation, PeerCase, PeerState, RowState
from waystation.sync.changes.payload import BadPayload, CannotExport, build_payload, receive_payload
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap, ShredRecord
from waystation.vault.reveal import reveal

HUB = "hub0fingerprint"
STATION = "station0fingerprint"
REMOTE = "b0b0b0b0"


def names_of(user: Any, person: Person) -> dict[str, object]:
    return reveal(user=user, items=[(person, ["name_hangul", "name_romanized"])], purpose="test")[0]


def forget_everything_replicated() -> None:
    """This database becomes a new, empty installation (its stations' rows kept: the hub sends those too)."""
    Person.objects.update(merged_into=None)
    Merge.objects.all().delete()  # the review of duplicates is this installation's own: not replicated
    Candidate.objects.all().delete()
    Person.objects.all().delete()
    for model in (Change, RowState, Conflict, PeerState, PeerCase, Installation):
        model.objects.all().delete()


def stamp(seq: int, origin: str = REMOTE) -> str:
    return merge.hlc_format(int(time.time() * 1000) + 1000 + seq, 0, origin)


def entry(model: str, gid: Any, case: Any, fields: dict[str, Any], *, seq: int, ctx: dict[str, int]) -> dict[str, Any]:
    return {"o": REMOTE, "n": seq, "h": stamp(seq), "m": model, "g": str(gid), "c": str(case) if case else None,
            "x": ctx, "f": fields}  # fmt: skip


def remote(*entries: dict[str, Any], bundle: int = 1) -> dict[str, Any]:
    return {"format": "waystation-changes/1", "origin": REMOTE, "bundle": bundle, "upto": bundle, "ack": None,
            "changes": list(entries)}  # fmt: skip


def seen_here(gid: Any) -> dict[str, int]:
    """The context of a write made by someone who has seen everything this installation logged of the row."""
    state = RowState.objects.get(gid=str(gid))
    return merge.row_vector(log.versions_of(state.fields))


def snapshot() -> list[Any]:
    return sorted(RowState.objects.values_list("model", "gid", "fields")) + sorted(
        Change.objects.values_list("origin", "origin_seq", "model", "gid")
    )


def test_a_payload_recreates_the_cases_in_an_empty_installation(world: SimpleNamespace) -> None:
    coordinator = world.coordinator
    person = world.person_at_a
    keyring = keyring_for(coordinator)
    payload = json.loads(json.dumps(build_payload(keyring=keyring, peer=HUB, station_uids=None)))  # as it travels
    assert "Gasang Hana (fictional)" in repr(payload)  # plaintext inside: the transport encrypts it whole
    before = names_of(coordinator, person)
    code, movements = person.case_code, Movement.objects.filter(person=person).count()

    forget_everything_replicated()
    report = receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)

    assert report.applied == len(payload["changes"]) and report.conflicts == report.refused == 0
    again = Person.objects.get(case_code=code)
    assert again.id == person.id and names_of(coordinator, again) == before
    assert Movement.objects.filter(person=again).count() == movements
    assert CaseKeyWrap.objects.filter(person=again, holder=coordinator).exists()
    # The values are stored encrypted under this installation's keys, in the rows, the state and the log.
    assert "Gasang Hana" not in repr(list(RowState.objects.values_list("fields", flat=True)))
    assert "Gasang Hana" not in repr(list(Change.objects.values_list("fields", flat=True)))
    # Applied again: nothing new.
    state = snapshot()
    report = receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)
    assert report.applied == 0 and report.duplicates == len(payload["changes"])
    assert snapshot() == state


def test_applied_changes_keep_their_origin_and_are_not_logged_again_as_local(world: SimpleNamespace) -> None:
    person = world.person_at_a
    created = Change.objects.filter(gid=str(person.id)).order_by("seq").first()
    payload = remote(entry("cases.person", person.id, person.id, {"birth_year": 1980}, seq=1,
                           ctx={created.origin: created.origin_seq}))  # fmt: skip
    before = Change.objects.count()
    receive_payload(payload, keyring=keyring_for(world.coordinator), actor=world.coordinator, peer=HUB)
    assert Change.objects.count() == before + 1
    relayed = Change.objects.order_by("-seq").first()
    assert (relayed.origin, relayed.origin_seq, relayed.fields) == (REMOTE, 1, {"birth_year": 1980})
    person.refresh_from_db()
    assert person.birth_year == 1980


def test_concurrent_edits_of_a_field_become_a_conflict_and_sequential_ones_do_not(world: SimpleNamespace) -> None:
    coordinator, person = world.coordinator, world.person_at_a
    seen_creation = seen_here(person.id)
    person_update(actor=coordinator, person=person, birth_year=1991)  # here, after the creation
    keyring = keyring_for(coordinator)
    # Elsewhere, having seen only the creation: concurrent with the edit here.
    values = {"birth_year": 1985, "name_romanized": "X (fictional)"}
    concurrent = remote(entry("cases.person", person.id, person.id, values, seq=1, ctx=seen_creation))
    report = receive_payload(concurrent, keyring=keyring, actor=coordinator, peer=HUB)
    assert report.conflicts == 1  # birth year; the name was not changed here: applied
    conflict = Conflict.objects.get(gid=str(person.id), field="birth_year", resolved_at__isnull=True)
    assert sorted(v[3] for v in conflict.versions) == [1985, 1991]
    person.refresh_from_db()
    assert person.birth_year == 1985  # the later clock shows, the same at every installation
    assert names_of(coordinator, person)["name_romanized"] == "X (fictional)"
    # Elsewhere again, having seen both: sequential, settles the conflict.
    later = remote(entry("cases.person", person.id, person.id, {"birth_year": 1986}, seq=2, ctx=seen_here(person.id)),
                   bundle=2)  # fmt: skip
    report = receive_payload(later, keyring=keyring, actor=coordinator, peer=HUB)
    assert report.conflicts == 0
    conflict.refresh_from_db()
    assert conflict.resolved_at is not None and conflict.outcome == Conflict.Outcome.SUPERSEDED
    person.refresh_from_db()
    assert person.birth_year == 1986


def test_concurrent_sensitive_values_are_kept_encrypted_in_the_conflict(world: SimpleNamespace) -> None:
    coordinator, person = world.coordinator, world.person_at_a
    seen_creation = seen_here(person.id)
    person_update(actor=coordinator, person=person, name_romanized="Here Name (fictional)")
    payload = remote(entry("cases.person", person.id, person.id, {"name_romanized": "There Name (fictional)"},
                           seq=1, ctx=seen_creation))  # fmt: skip
    receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)
    conflict = Conflict.objects.get(gid=str(person.id), field="name_romanized")
    assert len(conflict.versions) == 2
    assert "Name (fictional)" not in repr(conflict.versions)
    assert all(v[3].startswith("w1:") for v in conflict.versions)


def test_the_order_of_two_peers_payloads_does_not_matter(world: SimpleNamespace, django_db_blocker: Any) -> None:
    from django.db import transaction

    person = world.person_at_a
    ctx = seen_here(person.id)
    one = remote(
        entry("cases.person", person.id, person.id, {"birth_year": 1970, "status": "sheltered"}, seq=1, ctx=ctx)
    )
    other = copy.deepcopy(one)
    other["origin"] = "c0c0c0c0"
    other["changes"][0].update(o="c0c0c0c0", h=stamp(5, "c0c0c0c0"), f={"birth_year": 1971, "status": "sheltered"})
    keyring = keyring_for(world.coordinator)
    results = []
    for order in ((one, other, one), (other, one, other, other)):
        with transaction.atomic():
            for payload in order:
                receive_payload(copy.deepcopy(payload), keyring=keyring, actor=world.coordinator, peer=HUB)
            person.refresh_from_db()
            conflicts = sorted(Conflict.objects.filter(resolved_at__isnull=True).values_list("field", "versions"))
            results.append(
                (
                    person.birth_year,
                    person.status,
                    conflicts,
                    sorted(RowState.objects.values_list("fields", flat=True).iterator(), key=repr),
                )
            )
            transaction.set_rollback(True)
    assert results[0] == results[1]
    assert results[0][0] == 1971 and [f for f, _v in results[0][2]] == ["birth_year"]


def test_a_received_shred_forgets_the_case_and_wins_over_later_edits(world: SimpleNamespace) -> None:
    coordinator, person = world.coordinator, world.person_at_a
    keyring = keyring_for(coordinator)
    ctx = seen_here(person.id)
    shred_it = remote(entry("vault.shred", person.id, person.id, {"shredded": True}, seq=1, ctx={}))
    receive_payload(shred_it, keyring=keyring, actor=coordinator, peer=HUB)
    assert ShredRecord.objects.filter(person_id=person.id).exists()
    assert not CaseKeyWrap.objects.filter(person_id=person.id).exists()
    values = {"name_romanized": "Late (fictional)", "birth_year": 1979}
    late = remote(entry("cases.person", person.id, person.id, values, seq=2, ctx=ctx), bundle=2)
    receive_payload(late, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)
    person.refresh_from_db()
    assert person.birth_year == 1979  # coded fields stay, as a shred leaves them
    assert person.name_romanized == "" and not CaseKeyWrap.objects.filter(person_id=person.id).exists()
    assert "Late (fictional)" not in repr(list(Change.objects.values_list("fields", flat=True)))


BAD: list[tuple[str, Any]] = [
    ("not a dict", ["nope"]),
    ("wrong format", {"format": "other"}),
    ("no bundle number", {"bundle": 0}),
    ("changes not a list", {"changes": "x"}),
    ("unknown model", {"m": "accounts.user"}),
    ("unknown field", {"f": {"statistics_consent": True}}),
    ("bad id", {"g": "not-a-uuid"}),
    ("bad clock", {"h": "yesterday"}),
    ("wrong case", {"c": str(uuid.uuid4())}),
    ("bad choice", {"f": {"status": "on the moon"}}),
    ("sensitive not text", {"f": {"name_hangul": 5}}),
    ("bad date", {"f": {"left_nk_month": "March"}}),
    ("ack never sent", {"ack": {"bundle": 99, "upto": 5}}),
]


@pytest.mark.parametrize(("what", "damage"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_payload_is_refused_with_a_message_and_changes_nothing(
    world: SimpleNamespace, what: str, damage: Any
) -> None:
    person = world.person_at_a
    good = remote(entry("cases.person", person.id, person.id, {"birth_year": 1960}, seq=1, ctx=seen_here(person.id)))
    if isinstance(damage, list):
        payload: Any = damage
    elif set(damage) & {"format", "bundle", "changes", "ack"}:
        payload = {**good, **damage}
    else:
        payload = copy.deepcopy(good)
        payload["changes"][0].update(damage)
    before = snapshot()
    with pytest.raises(BadPayload) as raised:
        receive_payload(payload, keyring=keyring_for(world.coordinator), actor=world.coordinator, peer=HUB)
    assert str(raised.value)
    assert snapshot() == before
    person.refresh_from_db()
    assert person.birth_year != 1960


def test_a_station_is_sent_only_its_cases_and_a_case_coming_into_scope_whole(world: SimpleNamespace) -> None:
    coordinator = world.coordinator
    keyring = keyring_for(coordinator)
    at_a, at_b, heading = world.person_at_a, world.person_at_b, world.person_heading_to_a
    payload = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})
    cases = {c["c"] for c in payload["changes"] if c["m"] != "network.station"}
    assert cases == {str(at_a.id), str(heading.id)}
    assert {c["g"] for c in payload["changes"] if c["m"] == "network.station"} == {
        str(s.uid) for s in Station.objects.all()
    }
    assert "Gasang Dul" not in repr(payload)
    # The station acknowledges; person_at_b is then sent towards A: she comes into scope, whole.
    ack = {**remote(), "ack": {"bundle": payload["bundle"], "upto": payload["upto"]}}
    receive_payload(ack, keyring=keyring, actor=coordinator, peer=STATION)
    network_services.movement_plan(actor=coordinator, person=at_b, to_station=world.station_a, depart_now=True)
    second = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})
    of_b = [c for c in second["changes"] if c["c"] == str(at_b.id)]
    assert any(c["m"] == "cases.person" and c["f"].get("name_romanized") == "Gasang Dul (fictional)" for c in of_b)
    assert not [c for c in second["changes"] if c["c"] == str(at_a.id)]  # acknowledged, unchanged since


def test_acknowledged_entries_are_trimmed_and_not_sent_again(world: SimpleNamespace) -> None:
    keyring = keyring_for(world.coordinator)
    first = build_payload(keyring=keyring, peer=HUB, station_uids=None)
    assert first["changes"] and log.trim() == 0  # nothing acknowledged yet
    ack = {**remote(), "ack": {"bundle": first["bundle"], "upto": first["upto"]}}
    receive_payload(ack, keyring=keyring, actor=world.coordinator, peer=HUB)
    acknowledged = Change.objects.filter(seq__lte=first["upto"]).count()  # seq need not start at 1 (PostgreSQL)
    assert acknowledged == len(first["changes"]) and log.trim() == acknowledged
    assert not Change.objects.filter(seq__lte=first["upto"]).exists()
    second = build_payload(keyring=keyring, peer=HUB, station_uids=None)
    assert second["changes"] == [] and second["ack"] == {"bundle": 1, "upto": 1}
    note = CaseNote.objects.create(person=world.person_at_a, text="", author=world.coordinator)
    third = build_payload(keyring=keyring, peer=HUB, station_uids=None)
    assert [c["g"] for c in third["changes"]] == [str(note.uid)]


def test_an_exporter_whose_keys_cannot_open_a_case_is_told_which(world: SimpleNamespace) -> None:
    world.person_at_b  # noqa: B018 - a case keeper A holds no key to
    with pytest.raises(CannotExport, match=world.person_at_b.case_code):
        build_payload(keyring=keyring_for(world.keeper_a), peer=HUB, station_uids=None)


@pytest.mark.parametrize("remote_uid", ["00000000-0000-4000-8000-000000000001", "ffffffff-ffff-4fff-bfff-ffffffffffff"])
def test_two_open_movements_made_at_once_are_kept_one_set_aside_in_conflict(
    world: SimpleNamespace, remote_uid: str
) -> None:
    """Here she is sent from A to C while another installation, not knowing, sends her from A to B: the database
    takes one open movement a person. Both movements are kept; the one with the greater global id (the same one at
    every installation, whichever arrives first) is set aside as failed by a logged write that has seen none of its
    versions, so that its status is an open conflict wherever the write travels, for a coordinator to settle."""
    coordinator, person = world.coordinator, world.person_at_a
    here = network_services.movement_plan(actor=coordinator, person=person, to_station=world.station_c, depart_now=True)
    now = dt.datetime.now(dt.UTC)
    fields = {"person": str(person.id), "from_station": str(world.station_a.uid),
              "to_station": str(world.station_b.uid), "status": "under_way", "planned_at": now.isoformat(),
              "departed_at": now.isoformat(), "expected_arrival": (now + dt.timedelta(days=3)).isoformat(),
              "arrived_at": None, "ended_at": None, "note": ""}  # fmt: skip
    payload = remote(entry("network.movement", remote_uid, person.id, fields, seq=1, ctx={}))
    report = receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)

    assert report.refused == 0 and report.conflicts == 1
    there = Movement.objects.get(uid=remote_uid)
    kept, aside = sorted([here, there], key=lambda m: str(m.uid))
    kept.refresh_from_db()
    aside.refresh_from_db()
    assert kept.status == "under_way" and aside.status == "failed"
    conflict = Conflict.objects.get(gid=str(aside.uid), field="status", resolved_at__isnull=True)
    assert sorted(v[3] for v in conflict.versions) == ["failed", "under_way"]
    logged = Change.objects.filter(gid=str(aside.uid), origin=log.origin()).order_by("-seq").first()
    assert logged is not None and logged.fields == {"status": "failed"} and logged.ctx == {}
    # The same payload again changes nothing more.
    again = receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)
    assert again.applied == 0 and Conflict.objects.filter(resolved_at__isnull=True).count() == 1


def test_choosing_the_open_status_of_a_movement_set_aside_is_refused_while_the_other_is_open(
    world: SimpleNamespace,
) -> None:
    from waystation.lib.errors import ServiceError
    from waystation.sync.changes.conflicts import conflict_resolve

    test_two_open_movements_made_at_once_are_kept_one_set_aside_in_conflict(
        world, "ffffffff-ffff-4fff-bfff-ffffffffffff"
    )
    conflict = Conflict.objects.get(field="status", resolved_at__isnull=True)
    open_one = next(v for v in conflict.versions if v[3] == "under_way")
    with pytest.raises(ServiceError, match="one way at a time"):
        conflict_resolve(actor=world.coordinator, conflict=conflict, hlc=open_one[2])
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
    assert Movement.objects.get(uid="ffffffff-ffff-4fff-bfff-ffffffffffff").status == "failed"


@pytest.mark.parametrize("remote_is_later", [True, False])
def test_opposite_merges_made_apart_leave_her_counted_once(world: SimpleNamespace, remote_is_later: bool) -> None:
    """Here B was merged into A while, elsewhere, A was merged into B (each installation refuses such a ring on its
    own, but the two merges meet in a bundle). Left as they arrive, each record would be merged into the other, and
    she would be in no list and no figure. The later merge stands and the earlier one is undone, as a write here
    that travels on (every installation holding the two merges undoes the same one)."""
    from waystation.linkage import services as linkage

    coordinator, a, b = world.coordinator, world.person_at_a, world.person_at_b
    seen_a = seen_here(a.id)  # elsewhere, what was known of A before the merge here
    linkage.merge(actor=coordinator, kept=a, absorbed=b)
    later = int(time.time() * 1000) + (60_000 if remote_is_later else -3_600_000)
    payload = remote({"o": REMOTE, "n": 1, "h": merge.hlc_format(later, 0, REMOTE), "m": "cases.person",
                      "g": str(a.id), "c": str(a.id), "x": seen_a, "f": {"merged_into": str(b.id)}})  # fmt: skip

    receive_payload(payload, keyring=keyring_for(coordinator), actor=coordinator, peer=HUB)

    a.refresh_from_db()
    b.refresh_from_db()
    kept, absorbed = (b, a) if remote_is_later else (a, b)
    assert kept.merged_into_id is None and absorbed.merged_into_id == kept.pk
    assert Person.objects.filter(pk__in=[a.pk, b.pk], merged_into__isnull=True).count() == 1
    # The undoing is a local write of the record that was merged first: logged, so that it reaches the others.
    undone = Change.objects.filter(origin=log.origin(), gid=str(kept.pk)).order_by("-seq").first()
    assert undone is not None and undone.fields == {"merged_into": None}
    # ... and audited: which record, the ring, and what it had been merged into.
    event = AuditEvent.objects.get(action="sync.merge_ring_undone")
    assert event.case_id == kept.pk and event.details["was_merged_into"] == str(absorbed.pk)
    assert event.details["ring"] == sorted([str(a.pk), str(b.pk)])


def test_a_station_learns_that_a_case_left_its_scope(world: SimpleNamespace) -> None:
    """She moves on to B and arrives there before any bundle to A carried the move: from then on she is out of A's
    scope. A is still told why (her movements, nothing written of her afterwards), bundle after bundle
    until it acknowledges one that carried it; then nothing more of her. (Before: A kept her as last known, its
    keeper's list showed her there, and the long stateful sync run failed with 'BIRCH sees another scope'.)"""
    coordinator = world.coordinator
    keyring = keyring_for(coordinator)
    at_a = world.person_at_a
    first = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})
    assert str(at_a.id) in {c["c"] for c in first["changes"]}
    ack = {**remote(), "ack": {"bundle": first["bundle"], "upto": first["upto"]}}
    receive_payload(ack, keyring=keyring, actor=coordinator, peer=STATION)
    # The hub moves her on to B and she arrives, before any bundle to A carried the move.
    moved = network_services.movement_plan(
        actor=coordinator,
        person=at_a,
        to_station=world.station_b,
        depart_now=True,
        expected_arrival=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
    )
    network_services.movement_arrive(actor=coordinator, movement=moved)
    CaseNote.objects.create(person=at_a, text="", author=coordinator)  # written of her at B, after she left A

    def hers(payload: dict[str, Any]) -> set[tuple[str, str]]:
        return {(c["m"], c["g"]) for c in payload["changes"] if c["c"] == str(at_a.id)}

    second = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})
    assert ("network.movement", str(moved.uid)) in hers(second)
    assert {model for model, _gid in hers(second)} == {"network.movement"}  # never the note
    onwards = network_services.movement_plan(  # planned after the bundle that found her gone: not A's business
        actor=coordinator, person=at_a, to_station=world.station_c,
        expected_arrival=dt.datetime.now(dt.UTC) + dt.timedelta(days=9),
    )  # fmt: skip
    lost = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})  # the second was lost
    assert hers(lost) == hers(second) and ("network.movement", str(onwards.uid)) not in hers(lost)

    ack = {**remote(bundle=2), "ack": {"bundle": lost["bundle"], "upto": lost["upto"]}}
    receive_payload(ack, keyring=keyring, actor=coordinator, peer=STATION)
    at_a.refresh_from_db()
    person_update(actor=coordinator, person=at_a, languages=["ko"])
    after = build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})
    assert hers(after) == set() and not PeerCase.objects.filter(peer=STATION, person_id=at_a.id).exists()


def test_a_case_back_in_scope_before_the_acknowledgement_is_sent_whole(world: SimpleNamespace) -> None:
    """She leaves A's scope (a bundle tells A), a note is written of her while she is out (the next bundle leaves it
    out), she is sent back to A, and only then A acknowledges that next bundle: the bundle after it carries her
    whole, the note included. (Carrying only what was written since A's acknowledgement left the note out for
    good.)"""
    coordinator = world.coordinator
    keyring = keyring_for(coordinator)
    at_a = world.person_at_a

    def bundle() -> dict[str, Any]:
        return build_payload(keyring=keyring, peer=STATION, station_uids={world.station_a.uid})

    def acknowledge(payload: dict[str, Any], number: int) -> None:
        ack = {**remote(bundle=number), "ack": {"bundle": payload["bundle"], "upto": payload["upto"]}}
        receive_payload(ack, keyring=keyring, actor=coordinator, peer=STATION)

    acknowledge(bundle(), 1)
    away = network_services.movement_plan(
        actor=coordinator, person=at_a, to_station=world.station_b, depart_now=True,
        expected_arrival=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
    )  # fmt: skip
    network_services.movement_arrive(actor=coordinator, movement=away)
    bundle()  # tells A she left
    note = CaseNote.objects.create(person=at_a, text="", author=coordinator)
    while_out = bundle()
    assert str(note.uid) not in {c["g"] for c in while_out["changes"]}
    network_services.movement_plan(  # back: heading to A
        actor=coordinator, person=at_a, to_station=world.station_a,
        expected_arrival=dt.datetime.now(dt.UTC) + dt.timedelta(days=4),
    )  # fmt: skip
    bundle()  # carries her whole, but is lost
    acknowledge(while_out, 2)
    assert str(note.uid) in {c["g"] for c in bundle()["changes"]}
