"""The Sync pages: a coordinator or an administrator sees this installation's fingerprint and QR code, enrols a
peer only after ticking that the fingerprints match, and revokes one; each after a recent password and code, each
audited. Every other role is refused."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from transport_helpers import ChangesLog, bundle_from, changes_log, enrol, local_keys, other_installation

from waystation.audit.models import AuditEvent
from waystation.sync.bundle import BundleRefused
from waystation.sync.identity import public_keys
from waystation.sync.models import Peer, QueuedBundle
from waystation.sync.services import bundle_import, bundle_queue
from waystation.vault.keyring import keyring_for

pytestmark = pytest.mark.django_db

__all__ = ["changes_log"]


def test_the_sync_page_shows_the_fingerprint_and_qr_to_coordinators_and_administrators(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    for user in (world.coordinator, world.administrator):
        page = client_for(user).get("/sync/")
        text = page.content.decode()
        own = public_keys()
        assert page.status_code == 200 and own is not None
        assert own.fingerprint() in text and own.key_string() in text and "<svg" in text
    for user in (world.keeper_a, world.caseworker, world.analyst, world.auditor):
        assert client_for(user).get("/sync/").status_code == 403
    assert client_for(None).get("/sync/").status_code == 302


def enrol_form(key: str, *, ticked: bool) -> dict[str, str]:
    form = {"name": "ALDER", "kind": "station", "station": "ALDER", "url": "", "key": key}
    return form | ({"fingerprints_match": "on"} if ticked else {})


def test_a_peer_is_enrolled_only_once_the_fingerprints_are_said_to_match(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    alder = other_installation().public
    client = client_for(world.administrator)
    client.get("/sync/enrol/")

    unticked = client.submit("/sync/enrol/", enrol_form(alder.key_string(), ticked=False))
    assert unticked.status_code == 200 and alder.fingerprint() in unticked.content.decode()
    assert not Peer.objects.exists()

    typo = client.submit("/sync/enrol/", enrol_form(alder.key_string()[:-2], ticked=True))
    assert "not a Waystation key string" in typo.content.decode() and not Peer.objects.exists()

    done = client.submit("/sync/enrol/", enrol_form(alder.key_string(), ticked=True))
    assert done.status_code == 302
    peer = Peer.objects.get(name="ALDER")
    assert peer.station == world.station_a and peer.key_id == alder.key_id
    event = AuditEvent.objects.get(action="sync.peer_enrolled")
    assert event.actor == world.administrator and event.details == {"peer": "ALDER", "kind": "station"}

    again = client.submit("/sync/enrol/", enrol_form(alder.key_string(), ticked=True))
    assert again.status_code == 200 and "exists already" in again.content.decode()


def test_enrolling_and_revoking_need_a_recent_proof_and_the_role(
    world: SimpleNamespace, client_for: Callable[..., Any]
) -> None:
    stale = client_for(world.coordinator, recent_auth=False)
    answer = stale.get("/sync/enrol/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/confirm/")
    for user in (world.keeper_a, world.caseworker, world.analyst, world.auditor):
        client = client_for(user)
        assert client.get("/sync/enrol/").status_code == 403
    local_keys(world.coordinator)
    enrol(world.coordinator, other_installation(), station=world.station_a)
    keeper = client_for(world.keeper_a)
    keeper.get("/cases/")
    assert keeper.submit("/sync/revoke/", {"name": "ALDER"}).status_code == 403
    stale.get("/sync/")
    refused = stale.submit("/sync/revoke/", {"name": "ALDER"})
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/confirm/")
    assert not Peer.objects.get(name="ALDER").is_revoked


def test_a_revoked_station_is_refused_from_then_on(
    world: SimpleNamespace, client_for: Callable[..., Any], changes_log: ChangesLog
) -> None:
    hub = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, station=world.station_a)
    before = bundle_from(alder, hub.public, {"changes": [{"a": 1}]})
    bundle_queue(data=bundle_from(alder, hub.public, {"changes": [{"b": 2}]}))

    client = client_for(world.coordinator)
    page = client.get("/sync/")
    assert "ALDER" in page.content.decode()
    assert client.submit("/sync/revoke/", {"name": "ALDER"}).status_code == 302

    assert Peer.objects.get(name="ALDER").is_revoked
    assert not QueuedBundle.objects.exists()  # what it pushed is dropped, what was prepared for it too
    assert AuditEvent.objects.get(action="sync.peer_revoked").details == {"peer": "ALDER"}
    with pytest.raises(BundleRefused, match="revoked"):
        bundle_import(actor=world.coordinator, keyring=keyring_for(world.coordinator), data=before)
    assert changes_log.received == []
    assert "revoked" in client.get("/sync/").content.decode()


def test_the_hub_queue_is_processed_by_a_coordinator_only(
    world: SimpleNamespace, client_for: Callable[..., Any], changes_log: ChangesLog
) -> None:
    hub = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, station=world.station_a)
    bundle_queue(data=bundle_from(alder, hub.public, {"changes": [{"b": 2}]}))

    admin = client_for(world.administrator)
    admin.get("/sync/")
    assert admin.submit("/sync/process/", {}).status_code == 403
    assert changes_log.received == []

    coordinator = client_for(world.coordinator)
    coordinator.get("/sync/")
    assert coordinator.submit("/sync/process/", {}).status_code == 302
    assert changes_log.received == [{"changes": [{"b": 2}]}]
    assert list(QueuedBundle.objects.values_list("direction", flat=True)) == ["out"]
    assert "Bundles imported: 1; refused: 0" in coordinator.get("/sync/").content.decode()
