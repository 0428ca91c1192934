"""Over the network: the hub's push and pull endpoints on a live server (a station pushes, a coordinator imports
the queue, the station pulls what was prepared for it), and ``sync now`` on a station against a hub, with their
refusals; TLS is required and verified."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from transport_helpers import ChangesLog, bundle_from, changes_log, enrol, local_keys, opened, other_installation

from waystation.audit.models import AuditEvent
from waystation.sync import bundle as bundles
from waystation.sync import network
from waystation.sync.identity import IdentityKeys, PublicKeys, SyncError
from waystation.sync.models import Peer, QueuedBundle
from waystation.sync.services import hub_process, peer_revoke
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap
from waystation.vault.shred import kill_switch

__all__ = ["changes_log"]


# --- the hub's endpoints ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_station_pushes_then_pulls_what_a_coordinator_prepared(
    live_server: Any, world: SimpleNamespace, changes_log: ChangesLog
) -> None:
    hub = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, station=world.station_a)
    push, pull = f"{live_server.url}/sync/push/", f"{live_server.url}/sync/pull/"
    pushed = bundle_from(alder, hub.public, {"changes": [{"from": "ALDER"}]})

    assert network.post(push, pushed)[0] == 202
    assert QueuedBundle.objects.filter(direction="in").count() == 1 and changes_log.received == []
    with pytest.raises(SyncError, match="queued already"):
        network.post(push, pushed)
    request = bundles.pull_request(station=alder, hub=hub.public, after=0)
    assert network.post(pull, request)[0] == 204  # nothing prepared yet
    with pytest.raises(SyncError, match="replay"):
        network.post(pull, request)

    counts = hub_process(actor=world.coordinator, keyring=keyring_for(world.coordinator))
    assert counts == {"imported": 1, "refused": 0, "prepared": 1}
    assert changes_log.received == [{"changes": [{"from": "ALDER"}]}]
    assert changes_log.built_for == [(alder.public.key_id, {world.station_a.uid})]

    status, answer = network.post(pull, bundles.pull_request(station=alder, hub=hub.public, after=0))
    assert status == 200 and opened(answer, sender=hub.public, recipient=alder) == changes_log.outgoing
    assert network.post(pull, bundles.pull_request(station=alder, hub=hub.public, after=1))[0] == 204


@pytest.mark.django_db(transaction=True)
def test_the_endpoints_refuse_strangers_the_revoked_garbage_and_the_oversized(
    live_server: Any, world: SimpleNamespace, changes_log: ChangesLog, settings: Any
) -> None:
    import urllib.request

    hub = local_keys(world.coordinator)
    alder = other_installation()
    peer = enrol(world.coordinator, alder, station=world.station_a)
    push, pull = f"{live_server.url}/sync/push/", f"{live_server.url}/sync/pull/"

    with pytest.raises(SyncError, match="not enrolled here"):
        network.post(push, bundle_from(other_installation(), hub.public, {}))
    with pytest.raises(SyncError, match="not enrolled here"):
        network.post(pull, bundles.pull_request(station=other_installation(), hub=hub.public, after=0))
    forged = bytearray(bundles.pull_request(station=alder, hub=hub.public, after=0))
    forged[-1] ^= 1
    with pytest.raises(SyncError, match="signature does not verify"):
        network.post(pull, bytes(forged))
    with pytest.raises(SyncError, match="not a Waystation bundle"):
        network.post(push, b"<html>not a bundle</html>")
    with pytest.raises(SyncError, match="not a Waystation pull request"):
        network.post(pull, b"x" * 200)
    with pytest.raises(urllib.error.HTTPError) as refusal:
        urllib.request.urlopen(push)  # noqa: S310 - the test's own live server
    assert refusal.value.code == 405

    data = bundle_from(alder, hub.public, {"changes": [os.urandom(1500).hex()]})  # does not compress
    settings.SYNC_MAX_BUNDLE_BYTES = 1000
    with pytest.raises(SyncError, match="larger than this installation accepts"):
        network.post(push, data)
    settings.SYNC_MAX_BUNDLE_BYTES = 10_000

    peer_revoke(actor=world.coordinator, peer=peer)
    with pytest.raises(SyncError, match="revoked"):
        network.post(push, data)
    with pytest.raises(SyncError, match="revoked"):
        network.post(pull, bundles.pull_request(station=alder, hub=hub.public, after=0))
    assert not QueuedBundle.objects.exists() and changes_log.received == []


# --- sync now, from a station ----------------------------------------------------------------------------------------


class FakeHub(http.server.BaseHTTPRequestHandler):
    """A hub made of the bundle functions alone: it checks what the station sends as the real hub does."""

    hub: IdentityKeys
    station: PublicKeys
    received: list[dict[str, Any]]
    pulls: list[int]
    notices: list[bundles.KillNotice]
    prepared_sequence = 5
    kill_notice = b""  # the hub's kill notice, answered to every pull when set

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/sync/push/" and bundles.is_kill_notice(data):
            notice = bundles.parse_kill_notice(data)
            notice.verify(self.station)
            self.notices.append(notice)
            self._answer(202, b"Received.")
        elif self.path == "/sync/push/":
            bundle = bundles.parse(data)
            bundle.verify(self.station)
            self.received.append(bundle.payload(self.hub))
            self._answer(202, b"Received.")
        elif self.path == "/sync/pull/":
            request = bundles.parse_pull_request(data)
            request.verify(self.station)
            self.pulls.append(request.after)
            if self.kill_notice:
                self._answer(200, self.kill_notice)
            elif request.after >= self.prepared_sequence:
                self._answer(204, b"")
            else:
                body = bundles.seal(
                    {"changes": [{"from": "hub"}]}, sender=self.hub, recipient=self.station, sequence=5
                )[1]
                self._answer(200, body)
        else:
            self._answer(404, b"no such page")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_hub(world: SimpleNamespace) -> Iterator[Callable[..., tuple[str, type[FakeHub]]]]:
    servers: list[http.server.HTTPServer] = []

    def start(context: ssl.SSLContext | None = None) -> tuple[str, type[FakeHub]]:
        station = local_keys(world.coordinator)
        handler = type(
            "Hub",
            (FakeHub,),
            {"hub": other_installation(), "station": station.public, "received": [], "pulls": [], "notices": []},
        )
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        scheme = "https" if context else "http"
        return f"{scheme}://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_sync_now_pushes_then_pulls_and_applies(
    world: SimpleNamespace, changes_log: ChangesLog, fake_hub: Callable[..., tuple[str, type[FakeHub]]]
) -> None:
    url, hub = fake_hub()
    enrol(world.coordinator, hub.hub, name="hub", url=url)

    first = network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))

    assert hub.received == [changes_log.outgoing]
    assert first.pulled is not None and first.pulled.sequence == 5 and first.pushed_bytes > 0
    assert changes_log.received == [{"changes": [{"from": "hub"}]}]
    assert Peer.objects.get(name="hub").last_received_sequence == 5
    second = network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))
    assert second.pulled is None and hub.pulls == [0, 5] and len(hub.received) == 2


@pytest.mark.django_db
def test_sync_now_applies_the_hubs_kill_notice_and_a_killed_station_pushes_only_its_own(
    world: SimpleNamespace, changes_log: ChangesLog, fake_hub: Callable[..., tuple[str, type[FakeHub]]]
) -> None:
    url, hub = fake_hub()
    enrol(world.coordinator, hub.hub, name="hub", url=url)
    own = local_keys(world.coordinator).public
    hub.kill_notice = bundles.kill_notice(sender=hub.hub, recipient=own, killed_at=1_800_000_000)[1]

    result = network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))

    assert result.kill_received is not None and result.kill_received.kind == "hub" and result.pulled is None
    assert not CaseKeyWrap.objects.filter(holder__isnull=False).exists()
    assert AuditEvent.objects.get(action="vault.kill_switch").details["from_peer"] == "hub"
    assert not QueuedBundle.objects.filter(direction=QueuedBundle.Direction.KILL).exists()  # not announced back


@pytest.mark.django_db
def test_a_station_that_pulled_its_kill_switch_pushes_its_notice_and_nothing_else(
    world: SimpleNamespace, changes_log: ChangesLog, fake_hub: Callable[..., tuple[str, type[FakeHub]]]
) -> None:
    url, hub = fake_hub()
    enrol(world.coordinator, hub.hub, name="hub", url=url)
    kill_switch(actor=world.coordinator)  # from the dashboard: the coordinator's keys sign the notice first

    result = network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))

    assert result.kill_sent and result.pulled is None
    assert len(hub.notices) == 1 and hub.notices[0].recipient_id == hub.hub.public.key_id  # verified by the hub
    assert hub.received == [] and hub.pulls == []  # no bundle: nobody here can sign or open one any more
    assert not QueuedBundle.objects.filter(direction=QueuedBundle.Direction.KILL).exists()
    with pytest.raises(SyncError, match="keys"):  # after its notice, nothing more until a recovery
        network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))


@pytest.mark.django_db
def test_sync_now_needs_https_unless_in_development(
    world: SimpleNamespace, changes_log: ChangesLog, settings: Any
) -> None:
    local_keys(world.coordinator)
    enrol(world.coordinator, other_installation(), name="hub", url="http://hub.example.org")
    settings.DEV_HTTP = False
    with pytest.raises(SyncError, match="must start with https"):
        network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))
    assert changes_log.built_for == []  # refused before anything was built or sent


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@pytest.mark.django_db
def test_a_hub_whose_certificate_does_not_verify_is_not_trusted(
    world: SimpleNamespace,
    changes_log: ChangesLog,
    fake_hub: Callable[..., tuple[str, type[FakeHub]]],
    tmp_path: Path,
) -> None:
    url, hub = fake_hub(self_signed(tmp_path))
    enrol(world.coordinator, hub.hub, name="hub", url=url)
    with pytest.raises(SyncError, match="cannot be reached.*CERTIFICATE_VERIFY_FAILED"):
        network.sync_now(actor=world.coordinator, keyring=keyring_for(world.coordinator))
    assert hub.received == []


@pytest.mark.django_db
def test_the_commands_sync_now_and_process(
    world: SimpleNamespace,
    changes_log: ChangesLog,
    fake_hub: Callable[..., tuple[str, type[FakeHub]]],
    persona_password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import json

    from django.core.management import call_command

    def sync(*args: str) -> dict[str, Any]:
        out = io.StringIO()
        call_command("sync", *args, "--as", world.coordinator.username, "--json", stdout=out)
        answer: dict[str, Any] = json.loads(out.getvalue())
        return answer

    monkeypatch.setenv("WAYSTATION_PASSWORD", persona_password)
    url, hub = fake_hub()
    enrol(world.coordinator, hub.hub, name="hub", url=url)
    report = sync("now")
    assert report["pulled"] == {"sequence": 5, "applied": 1, "duplicates": 0, "conflicts": 0, "refused": 0}
    assert report["pushed_bytes"] > 0 and len(hub.received) == 1
    assert sync("process") == {"imported": 0, "refused": 0, "prepared": 0}  # no station enrolled here


def test_the_endpoints_are_rate_limited_per_address(
    world: SimpleNamespace, client_for: Callable[..., Any], settings: Any
) -> None:
    settings.SYNC_REQUESTS_PER_MINUTE = 3
    client = client_for(None)

    def post(path: str, address: str = "192.0.2.10") -> Any:
        return client.post(path, b"not a bundle", content_type="application/octet-stream", REMOTE_ADDR=address)

    answers = [post("/sync/push/"), post("/sync/pull/"), post("/sync/push/")]
    assert [a.status_code for a in answers] == [400, 400, 400]  # refused for what they are, not for their number
    limited = post("/sync/pull/")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many requests from this address" in limited.content.decode()
    assert post("/sync/push/", address="192.0.2.11").status_code == 400  # counted per address
    settings.BEHIND_PROXY = True  # behind the one proxy: the address it appended, not one the client made up
    spoofed = client.post(
        "/sync/push/", b"x", content_type="application/octet-stream", REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7, 192.0.2.10",
    )  # fmt: skip
    assert spoofed.status_code == 429
