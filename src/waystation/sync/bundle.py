"""The bundle: one file (or one HTTP body) that carries a change payload from one installation to another.

Layout, version 1 (big-endian)::

    header     magic "WSYNCB" · version (1 byte) · sender key id (32) · recipient key id (32) · bundle id (16)
               · sequence (8) · created, Unix seconds (8) · ephemeral X25519 public key (32) · body length (4)
    body       nonce (12) · AES-256-GCM(zlib(JSON payload)), associated data = the header
    signature  Ed25519 by the sender over header · body (64)

The body key is HKDF-SHA256 of X25519(ephemeral, recipient): only the recipient decrypts, and the header is bound
to the ciphertext (a body moved under another header fails), then the sender signs it all (a bundle changed in any
byte, or re-signed by another peer, fails). A key id is the hex SHA-256 of an installation's signing key.

Reading checks, in this order and before any state changes: size, magic, version, length; then (``sync.services``)
the sender is enrolled and not revoked, the signature, that we are the recipient, that this bundle id was not applied
before; then decryption, decompression (capped), JSON. Anything wrong raises :class:`BundleRefused`, and only it.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

from waystation.sync.identity import IdentityKeys, PublicKeys, SyncError

MAGIC = b"WSYNCB"
VERSION = 1
HEADER = struct.Struct(">6sB32s32s16sQQ32sI")
NONCE_BYTES = 12
TAG_BYTES = 16
SIGNATURE_BYTES = 64
MINIMUM = HEADER.size + NONCE_BYTES + TAG_BYTES + SIGNATURE_BYTES

PULL_MAGIC = b"WSYNCP"
PULL = struct.Struct(">6sB32s32sQ16sQ")  # magic, version, station key id, hub key id, time, nonce, after sequence
PULL_WINDOW_SECONDS = 300

DEFAULT_MAX_BUNDLE_BYTES = 64 * 1024 * 1024
# The JSON inside may unpack to as much as the largest bundle accepted (memory bounded as for reading one), and a
# bundle larger than that to at most this many times its size: a zip bomb is refused, while honest content that
# compresses very well (a week of similar notes) is not.
PAYLOAD_EXPANSION = 20


class BundleRefused(SyncError):
    """A bundle (or pull request) that is not applied; the message says why in the user's language."""


def max_bundle_bytes() -> int:
    return int(getattr(settings, "SYNC_MAX_BUNDLE_BYTES", DEFAULT_MAX_BUNDLE_BYTES))


def _signed_by(sender: PublicKeys, signature: bytes, signed: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(sender.signing).verify(signature, signed)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Bundle:
    """A bundle whose layout is right; nothing about it is verified yet."""

    sender_id: str
    recipient_id: str
    bundle_id: str
    sequence: int
    created: int
    ephemeral: bytes
    header: bytes
    body: bytes
    signature: bytes

    def verify(self, sender: PublicKeys) -> None:
        if not _signed_by(sender, self.signature, self.header + self.body):
            raise BundleRefused(
                _("The bundle's signature does not verify: it was changed on the way, or it is not from this peer.")
            )

    def payload(self, recipient: IdentityKeys) -> dict[str, Any]:
        """The payload inside, decrypted with our key (after ``verify``)."""
        try:
            key = _body_key(
                recipient.encryption,
                self.ephemeral,
                ephemeral=self.ephemeral,
                recipient=recipient.public.encryption,
            )
            packed = AESGCM(key).decrypt(self.body[:NONCE_BYTES], self.body[NONCE_BYTES:], self.header)
        except (InvalidTag, ValueError):
            raise BundleRefused(_("The bundle cannot be decrypted with this installation's key.")) from None
        return _unpack(packed, limit=max(max(len(self.body), 1024) * PAYLOAD_EXPANSION, max_bundle_bytes()))


def _body_key(private: X25519PrivateKey, other: bytes, *, ephemeral: bytes, recipient: bytes) -> bytes:
    """The same key on both sides: X25519(ephemeral, recipient), bound to both public keys."""
    shared = private.exchange(X25519PublicKey.from_public_bytes(other))
    info = b"waystation-bundle-v1" + ephemeral + recipient
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def _unpack(packed: bytes, *, limit: int) -> dict[str, Any]:
    damaged = BundleRefused(_("The bundle's content is damaged: it is not a change payload."))
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, limit)
    except zlib.error:
        raise damaged from None
    if inflater.unconsumed_tail:
        raise BundleRefused(_("The bundle's content is too large once unpacked; nothing was applied."))
    if not inflater.eof or inflater.unused_data:
        raise damaged
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise damaged from None
    if not isinstance(payload, dict):
        raise damaged
    return payload


def seal(payload: dict[str, Any], *, sender: IdentityKeys, recipient: PublicKeys, sequence: int) -> tuple[str, bytes]:
    """The bundle id and the bytes of a bundle carrying ``payload`` to ``recipient``."""
    packed = zlib.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    return seal_packed(packed, sender=sender, recipient=recipient, sequence=sequence)


def seal_packed(packed: bytes, *, sender: IdentityKeys, recipient: PublicKeys, sequence: int) -> tuple[str, bytes]:
    """``seal`` of content already compressed (the tests seal broken content with it)."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    bundle_id = os.urandom(16)
    nonce = os.urandom(NONCE_BYTES)
    header = HEADER.pack(
        MAGIC,
        VERSION,
        bytes.fromhex(sender.public.key_id),
        bytes.fromhex(recipient.key_id),
        bundle_id,
        sequence,
        int(time.time()),
        ephemeral_public,
        NONCE_BYTES + len(packed) + TAG_BYTES,
    )
    key = _body_key(ephemeral, recipient.encryption, ephemeral=ephemeral_public, recipient=recipient.encryption)
    body = nonce + AESGCM(key).encrypt(nonce, packed, header)
    signature = sender.signing.sign(header + body)
    return bundle_id.hex(), header + body + signature


def _newer_version(version: int) -> BundleRefused:
    """A bundle or kill notice of a layout this installation does not know."""
    return BundleRefused(
        _("This bundle is of version %(version)s, which this installation cannot read: update Waystation.")
        % {"version": version}
    )


def parse(data: bytes) -> Bundle:
    """The bundle's parts, once its size, kind, version and length are right."""
    if len(data) > max_bundle_bytes():
        raise BundleRefused(
            _("The bundle is larger than this installation accepts (%(limit)s MB).")
            % {"limit": max(1, max_bundle_bytes() // (1024 * 1024))}
        )
    if not data or data[: len(MAGIC)] != MAGIC[: len(data)]:
        raise BundleRefused(_("This file is not a Waystation bundle."))
    if len(data) > len(MAGIC) and data[len(MAGIC)] != VERSION:
        raise _newer_version(data[len(MAGIC)])
    if len(data) < MINIMUM:
        raise BundleRefused(_("The bundle is truncated: it was cut short on the way. Copy it again."))
    fields = HEADER.unpack(data[: HEADER.size])
    body_length = fields[8]
    expected = HEADER.size + body_length + SIGNATURE_BYTES
    if len(data) < expected or body_length < NONCE_BYTES + TAG_BYTES:
        raise BundleRefused(_("The bundle is truncated: it was cut short on the way. Copy it again."))
    if len(data) > expected:
        raise BundleRefused(_("The bundle has extra bytes after its end: it was changed on the way."))
    return Bundle(
        sender_id=fields[2].hex(),
        recipient_id=fields[3].hex(),
        bundle_id=fields[4].hex(),
        sequence=fields[5],
        created=fields[6],
        ephemeral=fields[7],
        header=data[: HEADER.size],
        body=data[HEADER.size : HEADER.size + body_length],
        signature=data[HEADER.size + body_length :],
    )


# --- pull requests ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    station_id: str
    hub_id: str
    at: int
    nonce: str
    after: int
    signed: bytes
    signature: bytes

    def verify(self, station: PublicKeys) -> None:
        if not _signed_by(station, self.signature, self.signed):
            raise BundleRefused(_("The request's signature does not verify."))
        if abs(time.time() - self.at) > PULL_WINDOW_SECONDS:
            raise BundleRefused(_("The request is too old or from the future: check the station's clock."))


def pull_request(*, station: IdentityKeys, hub: PublicKeys, after: int) -> bytes:
    signed = PULL.pack(
        PULL_MAGIC,
        VERSION,
        bytes.fromhex(station.public.key_id),
        bytes.fromhex(hub.key_id),
        int(time.time()),
        os.urandom(16),
        after,
    )
    return signed + station.signing.sign(signed)


def parse_pull_request(data: bytes) -> PullRequest:
    if len(data) != PULL.size + SIGNATURE_BYTES or not data.startswith(PULL_MAGIC):
        raise BundleRefused(_("This is not a Waystation pull request."))
    magic, version, station_id, hub_id, at, nonce, after = PULL.unpack(data[: PULL.size])
    if version != VERSION:
        raise BundleRefused(
            _("This request is of version %(version)s, which this installation cannot read: update Waystation.")
            % {"version": version}
        )
    return PullRequest(
        station_id=station_id.hex(),
        hub_id=hub_id.hex(),
        at=at,
        nonce=nonce.hex(),
        after=after,
        signed=data[: PULL.size],
        signature=data[PULL.size :],
    )


# --- kill notices ----------------------------------------------------------------------------------------------------
#
# A kill notice tells one peer that the kill switch was pulled here: signed by the installation when the kill switch
# is pulled (while a coordinator's keys can still open its identity), addressed to that peer, carrying no data. It
# needs no private key to check or apply, so that a notice travels even when nobody here can sign a bundle any more.

KILL_MAGIC = b"WSYNCK"
KILL = struct.Struct(">6sB32s32s16sQ")  # magic, version, sender key id, recipient key id, notice id, killed at (s)


@dataclass(frozen=True)
class KillNotice:
    sender_id: str
    recipient_id: str
    notice_id: str
    killed_at: int
    signed: bytes
    signature: bytes

    def verify(self, sender: PublicKeys) -> None:
        if not _signed_by(sender, self.signature, self.signed):
            raise BundleRefused(
                _("The kill notice's signature does not verify: it was changed on the way, or is not from this peer.")
            )


def kill_notice(*, sender: IdentityKeys, recipient: PublicKeys, killed_at: int) -> tuple[str, bytes]:
    """The notice id and the bytes of a kill notice from ``sender`` to ``recipient``."""
    notice_id = os.urandom(16)
    signed = KILL.pack(
        KILL_MAGIC,
        VERSION,
        bytes.fromhex(sender.public.key_id),
        bytes.fromhex(recipient.key_id),
        notice_id,
        killed_at,
    )
    return notice_id.hex(), signed + sender.signing.sign(signed)


def is_kill_notice(data: bytes) -> bool:
    return data.startswith(KILL_MAGIC)


def parse_kill_notice(data: bytes) -> KillNotice:
    if len(data) != KILL.size + SIGNATURE_BYTES or not is_kill_notice(data):
        raise BundleRefused(_("This kill notice is damaged: it was cut short or changed on the way."))
    _magic, version, sender_id, recipient_id, notice_id, killed_at = KILL.unpack(data[: KILL.size])
    if version != VERSION:
        raise _newer_version(version)
    return KillNotice(
        sender_id=sender_id.hex(),
        recipient_id=recipient_id.hex(),
        notice_id=notice_id.hex(),
        killed_at=killed_at,
        signed=data[: KILL.size],
        signature=data[KILL.size :],
    )
