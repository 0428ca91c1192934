"""The kill switch propagates (``sync.services``, kill notices): pulled here it is signed for every peer; the hub's
notice pulls a station's kill switch, and no later edit from the hub makes anything readable there again, in
either order of arrival; a station's notice gets it revoked at the hub, with an alert for the coordinators, and its
later bundles refused. A notice that is forged, misaddressed or replayed is refused and changes nothing."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q
from transport_helpers import bundle_from, enrol, local_keys, other_installation

from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.sync import bundle as bundles
from waystation.sync import services
from waystation.sync.bundle import BundleRefused
from waystation.sync.changes import log, merge
from waystation.sync.changes.models import RowState
from waystation.sync.identity import IdentityKeys, SyncError, identity_open, public_keys
from waystation.sync.models import IdentityKeyWrap, Peer, QueuedBundle, ReceivedBundle
from waystation.vault import shred as shredding
from waystation.vault import userkeys
from waystation.vault.agent import AGENT
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap
from waystation.vault.reveal import reveal

pytestmark = pytest.mark.django_db

REMOTE = "c0ffee01"  # the fictional hub's origin in the change log
LATER = "나중 이름 KILL-LATER-3Z"  # a fictional name the hub writes after its kill; never readable at the station


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def notice_from(sender: IdentityKeys, *, to: Any = None) -> bytes:
    recipient = to or public_keys()
    return bundles.kill_notice(sender=sender, recipient=recipient, killed_at=int(time.time()))[1]


def later_edit(person: Person) -> dict[str, Any]:
    """The hub's payload renaming ``person``, written after it saw everything logged here of her (no conflict)."""
    ctx = merge.row_vector(log.versions_of(RowState.objects.get(gid=str(person.pk)).fields))
    hlc = merge.hlc_format(int(time.time() * 1000) + 5000, 0, REMOTE)
    change = {"o": REMOTE, "n": 1, "h": hlc, "m": "cases.person", "g": str(person.pk), "c": str(person.pk),
              "x": ctx, "f": {"name_hangul": LATER}}  # fmt: skip
    return {"format": "waystation-changes/1", "origin": REMOTE, "bundle": 1, "upto": 1, "ack": None,
            "changes": [change]}  # fmt: skip


def readable(user: Any, person: Person, password: str) -> object:
    """Her name as ``user`` reads it after signing in again (their own key pair opened with their password);
    ``None`` when their keys open nothing of her."""
    AGENT.put(f"test-sign-in:{user.pk}", user.pk, userkeys.unlock(user, password))
    shown = reveal(user=user, items=[(Person.objects.get(pk=person.pk), ["name_hangul"])], purpose="test")[0]
    return None if shown.locked else shown["name_hangul"]


def user_wraps() -> int:
    return (
        CaseKeyWrap.objects.filter(holder__isnull=False).count()
        + IdentityKeyWrap.objects.filter(holder__isnull=False).count()
    )


def test_a_kill_here_is_signed_for_every_peer_and_only_the_notice_can_be_exported(
    world: SimpleNamespace, persona_password: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own = local_keys(world.coordinator).public
    alder, birch = other_installation(), other_installation()
    enrol(world.coordinator, alder, name="ALDER", station=world.station_a)
    enrol(world.coordinator, birch, name="BIRCH", station=world.station_b)
    before = CaseKeyWrap.objects.filter(holder__isnull=True).count()

    shredding.kill_switch(actor=world.coordinator)  # as the dashboard pulls it: the coordinator's keys are open

    for peer, keys in (("ALDER", alder), ("BIRCH", birch)):
        data = bytes(QueuedBundle.objects.get(peer__name=peer, direction=QueuedBundle.Direction.KILL).data)
        notice = bundles.parse_kill_notice(data)
        notice.verify(own)
        assert notice.recipient_id == keys.public.key_id and abs(notice.killed_at - time.time()) < 60
        with pytest.raises(BundleRefused):
            notice.verify(birch.public if peer == "ALDER" else alder.public)
    assert user_wraps() == 0 and CaseKeyWrap.objects.filter(holder__isnull=True).count() == before
    with pytest.raises(SyncError):
        identity_open(keyring_for(world.coordinator))

    # Nobody here can sign a bundle any more; the export writes the notice, which is all the peer needs.
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    out = tmp_path / "to-alder.bundle"
    said = sync("export", "--peer", "ALDER", "--out", str(out), "--as", world.coordinator.username)
    assert "kill notice" in said
    assert out.read_bytes() == bytes(
        QueuedBundle.objects.get(peer__name="ALDER", direction=QueuedBundle.Direction.KILL).data
    )


def test_a_kill_from_the_command_line_cannot_sign_notices(world: SimpleNamespace) -> None:
    """No coordinator's keys open (``waystation vault kill``): the kill stays here (documented)."""
    local_keys(world.coordinator)
    enrol(world.coordinator, other_installation(), name="ALDER", station=world.station_a)
    AGENT.drop_all()
    shredding.kill_switch(actor=None)
    assert not QueuedBundle.objects.filter(direction=QueuedBundle.Direction.KILL).exists()
    assert user_wraps() == 0


@pytest.mark.parametrize("order", ["notice first", "edit first"])
def test_the_hubs_kill_notice_pulls_the_kill_switch_here_and_wins_over_the_hubs_later_edit(
    world: SimpleNamespace, persona_password: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, order: str
) -> None:
    own = local_keys(world.coordinator).public
    hub = other_installation()
    enrol(world.coordinator, hub, name="hub")
    woman = world.person_at_a
    assert readable(world.coordinator, woman, persona_password) not in (None, LATER)
    recovery_wraps = CaseKeyWrap.objects.filter(holder__isnull=True).count()
    notice_file, edit_file = tmp_path / "kill.bundle", tmp_path / "edit.bundle"
    notice_file.write_bytes(notice_from(hub))
    edit_file.write_bytes(bundle_from(hub, own, later_edit(woman)))
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    as_coord = ("--as", world.coordinator.username)

    if order == "edit first":  # the edit was carried faster than the notice: applied, readable for now
        sync("import", str(edit_file), *as_coord)
        assert readable(world.coordinator, woman, persona_password) == LATER
    assert "pulled the kill switch" in sync("import", str(notice_file), *as_coord)

    assert user_wraps() == 0 and not AGENT.for_user(world.coordinator.pk)
    kill = AuditEvent.objects.get(action="vault.kill_switch")
    assert kill.details["from_peer"] == "hub" and kill.actor == world.coordinator
    assert not QueuedBundle.objects.filter(direction=QueuedBundle.Direction.KILL).exists()  # not echoed back
    if order == "notice first":  # the later edit cannot even be opened: refused, nothing changes
        sealed = bytes(Person.objects.filter(pk=woman.pk).values_list("name_hangul", flat=True).get().blob)
        with pytest.raises(CommandError, match="keys"):
            sync("import", str(edit_file), *as_coord)
        assert bytes(Person.objects.get(pk=woman.pk).name_hangul.blob) == sealed
        assert ReceivedBundle.objects.filter(peer__name="hub").count() == 1  # the notice only
    # Whichever came first: her name is readable by nobody here, the data is kept for the recovery shares.
    assert readable(world.coordinator, woman, persona_password) is None
    assert CaseKeyWrap.objects.filter(holder__isnull=True).count() == recovery_wraps
    assert CaseKeyWrap.objects.filter(person=woman, holder__isnull=True).exists()

    # The same notice again: a replay, refused; nothing is pulled twice.
    with pytest.raises(CommandError, match="already"):
        sync("import", str(notice_file), *as_coord)
    assert AuditEvent.objects.filter(action="vault.kill_switch").count() == 1


def test_a_forged_misaddressed_or_unknown_notice_changes_nothing(world: SimpleNamespace) -> None:
    local_keys(world.coordinator)
    hub, stranger = other_installation(), other_installation()
    enrol(world.coordinator, hub, name="hub")
    wraps = user_wraps()
    genuine = notice_from(hub)
    forged = genuine[:-1] + bytes([genuine[-1] ^ 1])
    cases = [
        (forged, "signature"),
        (notice_from(hub, to=stranger.public), "another installation"),
        (notice_from(stranger), "not enrolled"),
        (genuine[:-3], "damaged"),
    ]
    for data, message in cases:
        with pytest.raises(BundleRefused, match=message):
            services.kill_notice_receive(actor=world.coordinator, data=data)
    assert user_wraps() == wraps and not AuditEvent.objects.filter(action="vault.kill_switch").exists()
    assert AuditEvent.objects.filter(action="sync.bundle_refused").count() == len(cases)


def test_a_stations_kill_notice_revokes_it_at_the_hub_alerts_coordinators_and_refuses_its_later_bundles(
    world: SimpleNamespace, client_for: Any, persona_password: str
) -> None:
    own = local_keys(world.coordinator).public
    alder = other_installation()
    enrol(world.coordinator, alder, name="ALDER", station=world.station_a)
    wraps = user_wraps()
    dashboard = client_for(world.coordinator).get("/")
    assert "pulled its kill switch" not in dashboard.content.decode()

    pushed = client_for(None).post("/sync/push/", notice_from(alder), content_type="application/octet-stream")
    assert pushed.status_code == 202

    peer = Peer.objects.get(name="ALDER")
    assert peer.is_revoked and peer.killed_at is not None
    assert user_wraps() == wraps  # the hub's own keys are untouched: only the station is cut off
    assert AuditEvent.objects.filter(action="sync.kill_received", target_id=str(peer.pk)).exists()
    page = client_for(world.coordinator).get("/").content.decode()
    assert "A station pulled its kill switch." in page and "ALDER" in page
    assert "pulled its kill switch" not in client_for(world.keeper_a).get("/").content.decode()

    # Its later edit, pushed or carried, is refused: the laptop may be in other hands.
    later = bundle_from(alder, own, later_edit(world.person_at_a), sequence=1)
    refused = client_for(None).post("/sync/push/", later, content_type="application/octet-stream")
    assert refused.status_code == 400 and "revoked" in refused.content.decode()
    assert not QueuedBundle.objects.filter(Q(peer=peer), ~Q(direction=QueuedBundle.Direction.KILL)).exists()
    assert readable(world.coordinator, world.person_at_a, persona_password) != LATER


def test_the_hubs_notice_is_pulled_before_any_bundle_and_once(world: SimpleNamespace) -> None:
    own = local_keys(world.coordinator).public
    alder = other_installation()
    peer = enrol(world.coordinator, alder, name="ALDER", station=world.station_a)
    shredding.kill_switch(actor=world.coordinator)
    queued = bytes(QueuedBundle.objects.get(peer=peer, direction=QueuedBundle.Direction.KILL).data)

    first = services.pull_answer(data=bundles.pull_request(station=alder, hub=own, after=0))
    assert first == queued and bundles.is_kill_notice(first)
    assert services.pull_answer(data=bundles.pull_request(station=alder, hub=own, after=0)) is None
    assert services.kill_notice_waiting(peer) == queued  # still there for a file, should the answer have been lost
