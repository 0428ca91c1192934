"""The vault's two primitives, both from maintained libraries, never hand-written:

- **field encryption**: AES-256-GCM (``cryptography``), a random 96-bit nonce per value, and associated data that
  binds the table, the column, the row and the key version, so that a ciphertext copied into another cell, row or
  table fails to decrypt;
- **key wrapping**: a case's data key (or the organisation's index key) sealed to a holder's X25519 public key,
  so that anyone may grant a key to an entitled user without holding that user's secret: PyNaCl's sealed box
  (:func:`seal_to`, a fresh ephemeral key pair per wrap), or, for many wraps made at once, PyNaCl's ``Box``
  from one ephemeral key pair per batch (:class:`Sealer`; see there for the format and what it shows).

Failures raise :class:`Tampered` (the bytes are not what was written) or :class:`Locked` (the key is not at hand);
a value never comes back as text when it could not be authenticated.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey, SealedBox

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"W1"  # the first bytes of every stored value: a version of this layout, so a later one can be told apart
TEXT_PREFIX = "w1:"  # text columns keep the same bytes as base64 behind this prefix
BATCH_WRAP = b"WB1\x00"  # the first bytes of a wrap made by ``Sealer`` (a sealed box has no marker: see ``unseal``)
PUBLIC_BYTES = 32


class VaultError(Exception):
    """A vault operation could not be carried out; the message says why, never what the data is."""


class Locked(VaultError):
    """The key needed is not at hand: nobody entitled is signed in, the key was shredded, or the server restarted."""


class Tampered(VaultError):
    """Stored key material or ciphertext failed authentication: changed, truncated or moved from another place."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def associated_data(*, table: str, column: str, row: str, key_version: int) -> bytes:
    """What a ciphertext is bound to. Any change (another cell, another row, another key version) fails the tag."""
    return "\x1f".join(("waystation-field", table, column, row, str(key_version))).encode()


def encrypt(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """``FORMAT || nonce || ciphertext+tag``; a fresh random nonce every time."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def decrypt(key: bytes, blob: bytes, ad: bytes) -> bytes:
    head = len(FORMAT)
    if len(blob) < head + NONCE_BYTES + 16 or blob[:head] != FORMAT:
        raise Tampered("The stored value is not a vault ciphertext (truncated or overwritten).")
    nonce, body = blob[head : head + NONCE_BYTES], blob[head + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, ad)
    except InvalidTag as exc:
        raise Tampered("The stored value failed authentication: it was changed or moved from another place.") from exc


def seal_to(public_key: bytes, secret: bytes) -> bytes:
    """Wrap ``secret`` for the holder of ``public_key`` (anonymous sender, X25519 + XSalsa20-Poly1305)."""
    return bytes(SealedBox(PublicKey(public_key)).encrypt(secret))


class Sealer:
    """Wraps many secrets at once (an import's new case keys): one ephemeral X25519 key pair for the batch, and
    for each recipient one ``Box`` (PyNaCl: X25519, then XSalsa20-Poly1305 with a random 192-bit nonce per wrap),
    whose shared key is computed once. A sealed box costs two X25519 operations per wrap (~60 µs); this, one per
    recipient per batch and a few µs per wrap. The ephemeral private key lives in this object only (in memory, for
    the batch, beside the case keys it wraps) and is never stored.

    Format: ``BATCH_WRAP || ephemeral public key (32) || nonce (24) || ciphertext + tag``. It opens with the
    recipient's private key alone, as a sealed box does (``unseal``), and is as anonymous (the sender key is
    nobody's). What it shows, that a sealed box does not: the wraps of one batch carry the same ephemeral public
    key, so they can be told to have been made together. The rows say as much already (consecutive ids and the
    same ``created_at``; for an import, the run's ``ImportedRecord`` rows), so nothing is linked that was not;
    ``docs/threat-model.md`` says so."""

    def __init__(self) -> None:
        self._ephemeral: PrivateKey | None = None  # made at the first wrap: a batch may need none
        self._head = b""
        self._boxes: dict[bytes, Box] = {}

    def seal_to(self, public_key: bytes, secret: bytes) -> bytes:
        box = self._boxes.get(public_key)
        if box is None:
            if self._ephemeral is None:
                self._ephemeral = PrivateKey.generate()
                self._head = BATCH_WRAP + bytes(self._ephemeral.public_key)
            box = self._boxes[public_key] = Box(self._ephemeral, PublicKey(public_key))
        return self._head + bytes(box.encrypt(secret))


class Opener:
    """Opens wraps of both formats with one private key, computing each batch's shared key once (a list page
    opens many wraps of one import)."""

    CACHED = 64  # batches whose shared key is kept; then the cache starts again

    def __init__(self, private_key: PrivateKey) -> None:
        self.private_key = private_key
        self._boxes: dict[bytes, Box] = {}

    def _box(self, ephemeral: bytes) -> Box:
        box = self._boxes.get(ephemeral)
        if box is None:
            if len(self._boxes) >= self.CACHED:
                self._boxes.clear()
            box = self._boxes[ephemeral] = Box(self.private_key, PublicKey(ephemeral))
        return box

    def open(self, sealed: bytes) -> bytes:
        """The secret of a wrap (``Tampered`` when it fails authentication). A wrap that starts with the batch
        marker is opened as one; a sealed box starts with a random public key, which may begin with the marker
        (2^-32): so when the first reading fails, it is read as a sealed box. Either reading authenticates."""
        sealed = bytes(sealed)
        head = len(BATCH_WRAP) + PUBLIC_BYTES
        # X25519 ignores the top bit of a public key, which the key pairs made here never set: a wrap whose key has
        # it set was changed (else that bit could be flipped unnoticed), and is read no further as a batch wrap.
        if sealed[: len(BATCH_WRAP)] == BATCH_WRAP and len(sealed) > head and not sealed[head - 1] & 0x80:
            try:
                return bytes(self._box(sealed[len(BATCH_WRAP) : head]).decrypt(sealed[head:]))
            except (CryptoError, ValueError):
                pass  # a sealed box with an unlucky first public key, or a changed wrap: read as a sealed box
        try:
            return bytes(SealedBox(self.private_key).decrypt(sealed))
        except CryptoError as exc:
            raise Tampered("A key wrap failed authentication: it was changed or is not meant for this key.") from exc


def unseal(private_key: PrivateKey, sealed: bytes) -> bytes:
    """The secret of a wrap of either format (``seal_to`` or ``Sealer``) for the holder of ``private_key``."""
    return Opener(private_key).open(sealed)


def new_key_pair() -> PrivateKey:
    return PrivateKey.generate()
