"""For the transport's tests: another installation's keys made in the test (its own database is not needed to
sign and seal), and the change log's two functions substituted by a recording stand-in (``changes_log``), since
the transport never looks inside a payload."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from waystation.accounts.models import User
from waystation.network.models import Station
from waystation.sync import bundle as bundles
from waystation.sync import exchange, services
from waystation.sync.identity import IdentityKeys, PublicKeys, identity_ensure, identity_open
from waystation.sync.models import Peer, PeerKind
from waystation.vault.keyring import Keyring, keyring_for


def other_installation() -> IdentityKeys:
    signing, encryption = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    public = PublicKeys(
        signing=signing.public_key().public_bytes_raw(), encryption=encryption.public_key().public_bytes_raw()
    )
    return IdentityKeys(signing=signing, encryption=encryption, public=public)


def local_keys(coordinator: User) -> IdentityKeys:
    identity_ensure(actor=coordinator)
    return identity_open(keyring_for(coordinator))


def enrol(
    actor: User, keys: IdentityKeys, *, name: str = "ALDER", station: Station | None = None, url: str = ""
) -> Peer:
    kind = PeerKind.STATION if station is not None else PeerKind.HUB
    return services.peer_enrol(
        actor=actor, name=name, key_string=keys.public.key_string(), kind=kind, station=station, url=url
    )


def bundle_from(sender: IdentityKeys, to: PublicKeys, payload: dict[str, Any], *, sequence: int = 1) -> bytes:
    return bundles.seal(payload, sender=sender, recipient=to, sequence=sequence)[1]


def opened(data: bytes, *, sender: PublicKeys, recipient: IdentityKeys) -> dict[str, Any]:
    """What the other installation reads in a bundle this one made for it (verified first)."""
    bundle = bundles.parse(data)
    bundle.verify(sender)
    assert bundle.recipient_id == recipient.public.key_id
    return bundle.payload(recipient)


class CannotExport(Exception):
    pass


class BadPayload(Exception):
    pass


@dataclass
class ChangesLog:
    """Stands in for ``sync.changes.payload``: builds a small payload and records what it was asked to apply."""

    received: list[dict[str, Any]] = field(default_factory=list)
    built_for: list[tuple[str, set[uuid.UUID] | None]] = field(default_factory=list)
    outgoing: dict[str, Any] = field(default_factory=lambda: {"changes": [{"note": "fictional 가상"}]})
    refuse_with: str | None = None

    def build_payload(self, *, keyring: Keyring, peer: str, station_uids: set[uuid.UUID] | None) -> dict[str, Any]:
        self.built_for.append((peer, station_uids))
        return dict(self.outgoing)

    def receive_payload(self, payload: dict[str, Any], *, keyring: Keyring, actor: User, peer: str) -> Any:
        if self.refuse_with:
            raise BadPayload(self.refuse_with)
        self.received.append(payload)
        counts = {"applied": len(payload.get("changes", [])), "duplicates": 0, "conflicts": 0, "refused": 0}
        return SimpleNamespace(as_dict=lambda: counts)

    def module(self) -> SimpleNamespace:
        return SimpleNamespace(
            build_payload=self.build_payload,
            receive_payload=self.receive_payload,
            CannotExport=CannotExport,
            BadPayload=BadPayload,
        )


@pytest.fixture
def changes_log(monkeypatch: pytest.MonkeyPatch) -> ChangesLog:
    log = ChangesLog()
    monkeypatch.setattr(exchange, "_changes", log.module)
    return log
