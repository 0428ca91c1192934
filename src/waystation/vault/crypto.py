"""The vault's two primitives, both from maintained libraries, never hand-written:

- **field encryption**: AES-256-GCM (``cryptography``), a random 96-bit nonce per value, and associated data that
  binds the table, the column, the row and the key version, so that a ciphertext copied into another cell, row or
  table fails to decrypt;
- **key wrapping**: a case's data key (or the organisation's index key) sealed to a holder's X25519 public key
  (PyNaCl's sealed box), so that anyone may grant a key to an entitled user without holding that user's secret.

Failures raise :class:`Tampered` (the bytes are not what was written) or :class:`Locked` (the key is not at hand);
a value never comes back as text when it could not be authenticated.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"W1"  # the first bytes of every stored value: a version of this layout, so a later one can be told apart
TEXT_PREFIX = "w1:"  # text columns keep the same bytes as base64 behind this prefix


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


def unseal(private_key: PrivateKey, sealed: bytes) -> bytes:
    try:
        return bytes(SealedBox(private_key).decrypt(bytes(sealed)))
    except CryptoError as exc:
        raise Tampered("A key wrap failed authentication: it was changed or is not meant for this key.") from exc


def new_key_pair() -> PrivateKey:
    return PrivateKey.generate()
