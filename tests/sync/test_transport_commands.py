"""``waystation sync``: identity, enrol, peers, revoke, export and import from the command line, as a user would
run them; and what a seized laptop's bundle files give away (nothing)."""

from __future__ import annotations

import base64
import io
import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from transport_helpers import ChangesLog, bundle_from, changes_log, enrol, local_keys, opened, other_installation

from waystation.audit.models import AuditEvent
from waystation.sync.identity import public_keys
from waystation.sync.models import Peer, ReceivedBundle

pytestmark = pytest.mark.django_db

__all__ = ["changes_log"]


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def as_coordinator(world: SimpleNamespace, persona_password: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    return world.coordinator.username


def test_identity_enrol_peers_and_revoke(world: SimpleNamespace) -> None:
    shown = json.loads(sync("identity", "--json"))
    own = public_keys()
    assert own is not None and shown == {
        "fingerprint": own.fingerprint(),
        "key": own.key_string(),
        "key_id": own.key_id,
    }
    assert own.fingerprint() in sync("identity")

    alder = other_installation().public
    with pytest.raises(CommandError, match=alder.fingerprint()):  # no terminal to confirm on: shown, not enrolled
        sync("enrol", "--name", "ALDER", "--key", alder.key_string(), "--station", "ALDER")
    assert not Peer.objects.exists()
    with pytest.raises(CommandError, match="no station NOWHERE"):
        sync("enrol", "--name", "X", "--key", alder.key_string(), "--station", "NOWHERE", "--yes")
    done = json.loads(
        sync("enrol", "--name", "ALDER", "--key", alder.key_string(), "--station", "ALDER", "--yes", "--json")
    )
    assert done == {"name": "ALDER", "kind": "station", "fingerprint": alder.fingerprint()}
    hub = other_installation().public
    sync("enrol", "--name", "hub", "--key", hub.key_string(), "--hub", "--url", "https://hub.example.org", "--yes")

    peers = json.loads(sync("peers", "--json"))["peers"]
    assert [(p["name"], p["kind"], p["station"], p["revoked_at"]) for p in peers] == [
        ("ALDER", "station", "ALDER", None),
        ("hub", "hub", None, None),
    ]
    assert "revoked" in sync("revoke", "ALDER", "--as", world.administrator.username)
    assert Peer.objects.get(name="ALDER").is_revoked
    assert AuditEvent.objects.get(action="sync.peer_revoked").actor == world.administrator
    with pytest.raises(CommandError, match="revoked already"):
        sync("revoke", "ALDER")
    with pytest.raises(CommandError, match="No peer is named BIRCH"):
        sync("revoke", "BIRCH")


def test_export_writes_a_private_file_the_peer_opens(
    world: SimpleNamespace, as_coordinator: str, changes_log: ChangesLog, tmp_path: Path
) -> None:
    hub_keys = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, station=world.station_a)
    out = tmp_path / "alder.wsb"

    report = json.loads(sync("export", "--peer", "ALDER", "--out", str(out), "--as", as_coordinator, "--json"))

    assert report == {"peer": "ALDER", "file": str(out), "sequence": 1, "bytes": out.stat().st_size}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["alder.wsb"]  # no temporary file left beside it
    assert opened(out.read_bytes(), sender=hub_keys.public, recipient=alder) == changes_log.outgoing
    event = AuditEvent.objects.get(action="sync.export")
    assert event.actor == world.coordinator and event.details["peer"] == "ALDER"


def test_import_applies_once_and_says_so(
    world: SimpleNamespace, as_coordinator: str, changes_log: ChangesLog, tmp_path: Path
) -> None:
    hub_keys = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, station=world.station_a)
    path = tmp_path / "from-alder.wsb"
    path.write_bytes(bundle_from(alder, hub_keys.public, {"changes": [{"a": 1}, {"b": 2}]}, sequence=3))

    report = json.loads(sync("import", str(path), "--as", as_coordinator, "--json"))
    assert report == {"peer": "ALDER", "sequence": 3, "applied": 2, "duplicates": 0, "conflicts": 0, "refused": 0}
    with pytest.raises(CommandError, match="imported already"):
        sync("import", str(path), "--as", as_coordinator)
    assert len(changes_log.received) == 1 and ReceivedBundle.objects.count() == 1
    with pytest.raises(CommandError, match="Cannot read"):
        sync("import", str(tmp_path / "missing.wsb"), "--as", as_coordinator)


def test_only_a_coordinator_with_the_right_password_exchanges(
    world: SimpleNamespace, changes_log: ChangesLog, tmp_path: Path, persona_password: str, monkeypatch: Any
) -> None:
    local_keys(world.coordinator)
    enrol(world.coordinator, other_installation(), station=world.station_a)
    out = str(tmp_path / "b.wsb")
    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    for user in (world.administrator, world.keeper_a, world.analyst):
        with pytest.raises(CommandError, match="Only a coordinator"):
            sync("export", "--peer", "ALDER", "--out", out, "--as", user.username)
    monkeypatch.setenv("WAYSTATION_PASSWORD", "not-the-password")
    with pytest.raises(CommandError, match="Wrong password"):
        sync("export", "--peer", "ALDER", "--out", out, "--as", world.coordinator.username)
    assert not Path(out).exists() and changes_log.built_for == []


def test_a_seized_laptops_bundle_files_hold_no_canary(
    world: SimpleNamespace, as_coordinator: str, changes_log: ChangesLog, tmp_path: Path
) -> None:
    """Whatever the payload carries in plaintext (the change log decrypts sensitive values into it), the file on
    disk shows none of it, in any encoding."""
    canary = "CANARY-정하늘-7Q4Z (fictional)"
    changes_log.outgoing = {"changes": [{"table": "person", "field": "name_hangul", "value": canary}] * 50}
    local_keys(world.coordinator)
    enrol(world.coordinator, other_installation(), station=world.station_a)
    out = tmp_path / "seized.wsb"
    sync("export", "--peer", "ALDER", "--out", str(out), "--as", as_coordinator)
    stored = out.read_bytes()
    for text in (canary, "CANARY", "정하늘", "name_hangul"):
        raw = text.encode()
        for form in (raw, text.encode("utf-16-le"), raw.hex().encode(), base64.b64encode(raw)[:-4]):
            assert form not in stored, (text, form)
