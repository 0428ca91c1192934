"""The bundle: a payload sealed by one installation opens, unchanged, only at the one it is addressed to; every way
a bundle can be wrong is refused with a clear message, before anything is applied."""

from __future__ import annotations

import zlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import translation
from transport_helpers import ChangesLog, bundle_from, changes_log, enrol, local_keys, opened, other_installation

from waystation.audit.models import AuditEvent
from waystation.sync import bundle as bundles
from waystation.sync import exchange
from waystation.sync.bundle import BundleRefused
from waystation.sync.identity import SyncError
from waystation.sync.models import Peer, ReceivedBundle
from waystation.sync.services import bundle_export, bundle_import
from waystation.vault.keyring import keyring_for

pytestmark = pytest.mark.django_db

__all__ = ["changes_log"]


@pytest.fixture
def setting(world: SimpleNamespace) -> SimpleNamespace:
    """This installation (the hub: its keys are in the test database) and station ALDER (keys made here)."""
    hub = local_keys(world.coordinator)
    alder = other_installation()
    peer = enrol(world.coordinator, alder, name="ALDER", station=world.station_a)
    return SimpleNamespace(hub=hub, alder=alder, peer=peer, coordinator=world.coordinator, world=world)


def import_(s: SimpleNamespace, data: bytes) -> Any:
    return bundle_import(actor=s.coordinator, keyring=keyring_for(s.coordinator), data=data)


def test_a_payload_goes_through_unchanged_and_is_applied_once(
    setting: SimpleNamespace, changes_log: ChangesLog
) -> None:
    payload = {"changes": [{"field": "name", "value": "가상 이름 (fictional)"}, {"n": 2.5, "ok": True, "x": None}]}
    data = bundle_from(setting.alder, setting.hub.public, payload, sequence=7)

    done = import_(setting, data)

    assert changes_log.received == [payload]
    assert done.peer == "ALDER" and done.sequence == 7 and done.counts["applied"] == 2
    event = AuditEvent.objects.get(action="sync.import")
    counts = {"applied": 2, "duplicates": 0, "conflicts": 0, "refused": 0}
    assert event.details == {"peer": "ALDER", "sequence": 7, **counts}
    assert Peer.objects.get(name="ALDER").last_received_sequence == 7


def test_an_export_is_readable_by_its_peer_only_and_carries_that_stations_share(
    setting: SimpleNamespace, changes_log: ChangesLog
) -> None:
    exported = bundle_export(actor=setting.coordinator, keyring=keyring_for(setting.coordinator), peer=setting.peer)

    assert opened(exported.data, sender=setting.hub.public, recipient=setting.alder) == changes_log.outgoing
    assert changes_log.built_for == [(setting.alder.public.key_id, {setting.world.station_a.uid})]
    with pytest.raises(BundleRefused, match="cannot be decrypted"):
        bundles.parse(exported.data).payload(other_installation())  # even ignoring whom it is addressed to
    assert b"fictional" not in exported.data and "가상".encode() not in exported.data
    second = bundle_export(actor=setting.coordinator, keyring=keyring_for(setting.coordinator), peer=setting.peer)
    assert (exported.sequence, second.sequence) == (1, 2)
    assert AuditEvent.objects.filter(action="sync.export").count() == 2


def test_the_hub_is_sent_everything(world: SimpleNamespace, changes_log: ChangesLog) -> None:
    local_keys(world.coordinator)
    hub = enrol(world.coordinator, other_installation(), name="hub", url="https://hub.example.org")
    bundle_export(actor=world.coordinator, keyring=keyring_for(world.coordinator), peer=hub)
    assert changes_log.built_for == [(hub.key_id, None)]


def refused(s: SimpleNamespace, log: ChangesLog, data: bytes, message: str) -> None:
    """Refused with ``message``, and nothing applied or recorded as received."""
    before = (ReceivedBundle.objects.count(), Peer.objects.get(name="ALDER").last_received_sequence)
    with pytest.raises(BundleRefused, match=message):
        import_(s, data)
    assert log.received == []
    assert (ReceivedBundle.objects.count(), Peer.objects.get(name="ALDER").last_received_sequence) == before
    assert AuditEvent.objects.filter(action="sync.import").count() == 0


def test_a_changed_byte_anywhere_breaks_the_signature(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    data = bundle_from(setting.alder, setting.hub.public, {"changes": []})
    for position in (bundles.HEADER.size + 20, len(data) - 70, len(data) - 1, 40):
        changed = bytearray(data)
        changed[position] ^= 0x01
        refused(setting, changes_log, bytes(changed), "signature does not verify")
    assert AuditEvent.objects.filter(action="sync.bundle_refused").count() == 4


def test_a_bundle_signed_by_another_key_than_the_senders_is_refused(
    setting: SimpleNamespace, changes_log: ChangesLog
) -> None:
    impostor = other_installation()
    data = bytearray(bundle_from(impostor, setting.hub.public, {"changes": []}))
    data[7:39] = bytes.fromhex(setting.alder.public.key_id)  # claims to be ALDER, signed by the impostor
    refused(setting, changes_log, bytes(data), "signature does not verify")


def test_unknown_and_revoked_senders_are_refused(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    from waystation.sync.services import peer_revoke

    stranger = bundle_from(other_installation(), setting.hub.public, {"changes": []})
    refused(setting, changes_log, stranger, "not enrolled here")
    from_alder = bundle_from(setting.alder, setting.hub.public, {"changes": []})
    peer_revoke(actor=setting.coordinator, peer=setting.peer)
    refused(setting, changes_log, from_alder, "ALDER, which was revoked")


def test_a_bundle_for_another_installation_is_refused(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    data = bundle_from(setting.alder, other_installation().public, {"changes": []})
    refused(setting, changes_log, data, "addressed to another installation")


def test_a_replay_is_refused_but_another_bundle_with_the_same_content_is_not(
    setting: SimpleNamespace, changes_log: ChangesLog
) -> None:
    data = bundle_from(setting.alder, setting.hub.public, {"changes": [{"a": 1}]})
    import_(setting, data)
    with pytest.raises(BundleRefused, match="imported already"):
        import_(setting, data)
    assert len(changes_log.received) == 1
    import_(setting, bundle_from(setting.alder, setting.hub.public, {"changes": [{"a": 1}]}))  # a new bundle id
    assert len(changes_log.received) == 2


def test_truncated_extended_wrong_version_and_garbage_are_refused(
    setting: SimpleNamespace, changes_log: ChangesLog
) -> None:
    data = bundle_from(setting.alder, setting.hub.public, {"changes": []})
    for cut in (len(data) - 1, bundles.HEADER.size + 5, 50, 3):
        refused(setting, changes_log, data[:cut], "truncated")
    refused(setting, changes_log, data + b"\x00", "extra bytes")
    refused(setting, changes_log, data[:6] + bytes([2]) + data[7:], "version 2")
    refused(setting, changes_log, b"PK\x03\x04 a zip file, not a bundle" * 10, "not a Waystation bundle")
    refused(setting, changes_log, b"", "not a Waystation bundle")


def test_the_size_limit_is_configurable(setting: SimpleNamespace, changes_log: ChangesLog, settings: Any) -> None:
    data = bundle_from(setting.alder, setting.hub.public, {"changes": [{"text": "x" * 5000}]})
    settings.SYNC_MAX_BUNDLE_BYTES = len(data) - 1
    refused(setting, changes_log, data, "larger than this installation accepts")
    settings.SYNC_MAX_BUNDLE_BYTES = len(data)
    import_(setting, data)
    assert len(changes_log.received) == 1


def test_a_payload_that_unpacks_to_far_more_than_its_size_is_refused(
    setting: SimpleNamespace, changes_log: ChangesLog, settings: Any
) -> None:
    settings.SYNC_MAX_BUNDLE_BYTES = 1_000_000  # what may always unpack: the largest bundle accepted
    bomb = {"changes": ["a" * 5_000_000]}
    assert len(zlib.compress(str(bomb).encode(), 9)) < 20_000
    refused(setting, changes_log, bundle_from(setting.alder, setting.hub.public, bomb), "too large once unpacked")


def test_honest_content_that_compresses_very_well_is_applied(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    """A week of similar notes may shrink far more than 20 times; it is not a zip bomb while it unpacks to no more
    than the largest bundle accepted."""
    notes = {"changes": [{"text": "Slept well; ate; no visitors. " * 200} for _ in range(300)]}
    data = bundle_from(setting.alder, setting.hub.public, notes)
    assert len(str(notes)) > 40 * len(data)
    import_(setting, data)
    assert len(changes_log.received) == 1


def test_signed_content_that_is_not_a_payload_is_refused(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    contents = [
        zlib.compress(b"[1, 2, 3]"),
        zlib.compress(b"not json at all"),
        zlib.compress(b"\xff\xfe\x00"),
        zlib.compress(b'{"a": 1}')[:-2],
        b"not a zlib stream",
        zlib.compress(b'{"a": 1}') + b"more",
    ]
    for packed in contents:
        data = bundles.seal_packed(packed, sender=setting.alder, recipient=setting.hub.public, sequence=1)[1]
        refused(setting, changes_log, data, "not a change payload")


def test_a_payload_the_change_log_refuses_changes_nothing(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    changes_log.refuse_with = "Change 3 names a station this installation does not know."
    data = bundle_from(setting.alder, setting.hub.public, {"changes": [{"a": 1}]})
    refused(setting, changes_log, data, "names a station")
    changes_log.refuse_with = None
    import_(setting, data)  # not recorded as received: it can be imported once the problem is fixed
    assert len(changes_log.received) == 1


def test_without_a_change_log_nothing_is_exchanged(setting: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise SyncError("This installation has no change log yet: nothing can be exchanged.")

    monkeypatch.setattr(exchange, "_changes", missing)
    data = bundle_from(setting.alder, setting.hub.public, {"changes": []})
    with pytest.raises(SyncError, match="no change log"):
        import_(setting, data)
    assert not ReceivedBundle.objects.exists()


def test_refusals_are_in_the_users_language(setting: SimpleNamespace, changes_log: ChangesLog) -> None:
    with translation.override("ko"), pytest.raises(BundleRefused) as refusal:
        import_(setting, b"garbage" * 40)
    assert "Waystation" in refusal.value.message and "not a" not in refusal.value.message
