"""Signed checkpoints of the audit log, in the C2SP signed-note format (as transparency logs publish them).

A checkpoint is a note::

    <origin>
    <tree size>
    <root hash, base64>

    — <key name> <base64(key id || Ed25519 signature)>

signed over the note text (the first three lines with their newlines). The key id is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key), and the verifier key is written ``<name>+<key id hex>+<base64(0x01 ||
public key)>`` (C2SP note's vkey format), which ``waystation audit key`` prints and a partner keeps.

The installation's signing key is created on first use in ``$WAYSTATION_HOME/audit_signing_key`` (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "audit_signing_key"
ALG_ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that begins a signature line
MAX_CHECKPOINT_BYTES = 64 * 1024


class CheckpointError(Exception):
    """A checkpoint or a key that cannot be used; the message says why, for a person to read."""


# --- keys ------------------------------------------------------------------------------------------------------------


def key_path(home: Path | None = None) -> Path:
    if home is None:
        from django.conf import settings

        home = Path(settings.HOME)
    return home / KEY_FILE


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit_signing_key.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic, and never replaces a key another process created first
    finally:
        os.unlink(tmp)


def signing_key(home: Path | None = None, *, create: bool = True) -> Ed25519PrivateKey:
    path = key_path(home)
    if not path.exists():
        if not create:
            raise CheckpointError(f"This installation has no audit signing key yet ({path}).")
        _write_new_key(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise CheckpointError(f"The audit signing key {path} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"The audit signing key {path} is not an Ed25519 key.")
    return key


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def origin_for(public: Ed25519PublicKey) -> str:
    """The log's name: stable for an installation, derived from its key so that two installations never collide."""
    return "waystation-audit/" + hashlib.sha256(raw_public(public)).hexdigest()[:16]


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + raw_public(public)).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    name: str
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    def vkey(self) -> str:
        encoded = base64.b64encode(ALG_ED25519 + raw_public(self.public)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def installation_verifier(home: Path | None = None, *, create: bool = True) -> Verifier:
    public = signing_key(home, create=create).public_key()
    return Verifier(origin_for(public), public)


def parse_vkey(text: str) -> Verifier:
    """A verifier key as ``waystation audit key`` prints it (``name+keyid+base64``)."""
    parts = text.strip().split("+", 2)  # the key itself is base64 and may hold "+"
    if len(parts) != 3 or not parts[0]:
        raise CheckpointError("The public key is not in the form NAME+KEYID+KEY that `waystation audit key` prints.")
    name, hex_id, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
        expected_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("The public key is not valid base64/hex.") from exc
    if len(raw) != 33 or raw[:1] != ALG_ED25519:
        raise CheckpointError("The public key is not an Ed25519 key.")
    verifier = Verifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_id != expected_id:
        raise CheckpointError("The public key's id does not match its name and key.")
    return verifier


# --- checkpoints -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signer: str  # the key name on the signature line
    key_id: bytes
    signature: bytes
    body: bytes  # the signed note text

    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode()


def note_body(origin: str, size: int, root: bytes) -> bytes:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()


def sign(size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    public = key.public_key()
    name = origin_for(public)
    body = note_body(name, size, root)
    signature = key.sign(body)
    line = f"{DASH} {name} {base64.b64encode(key_id(name, public) + signature).decode()}\n"
    return body.decode() + "\n" + line


def parse(data: bytes) -> Checkpoint:
    """Read a checkpoint file, or say exactly what is wrong with it. Does not check the signature."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError("The checkpoint file is too large to be a checkpoint.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("The checkpoint file is not UTF-8 text.") from exc
    text = text.replace("\r\n", "\n")
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise CheckpointError("The checkpoint has no signature block (a blank line, then a signature line).")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError("The checkpoint must begin with three lines: origin, tree size, root hash.")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise CheckpointError("The checkpoint's origin line is empty.")
    if not size_text.isascii() or not size_text.isdigit() or (len(size_text) > 1 and size_text.startswith("0")):
        raise CheckpointError(f"The checkpoint's tree size {size_text!r} is not a whole number.")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("The checkpoint's root hash is not valid base64.") from exc
    if len(root) != 32:
        raise CheckpointError("The checkpoint's root hash is not 32 bytes (SHA-256).")
    sig_lines = [line for line in signatures.split("\n") if line]
    if not sig_lines:
        raise CheckpointError("The checkpoint has no signature line.")
    for line in sig_lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise CheckpointError("A signature line of the checkpoint is malformed.")
    _, signer, encoded = sig_lines[0].split(" ")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("The checkpoint's signature is not valid base64.") from exc
    if len(blob) != 4 + 64:
        raise CheckpointError("The checkpoint's signature has the wrong length for Ed25519.")
    return Checkpoint(
        origin=origin,
        size=int(size_text),
        root=root,
        signer=signer,
        key_id=blob[:4],
        signature=blob[4:],
        body=(body + "\n").encode(),
    )


def check_signature(checkpoint: Checkpoint, verifier: Verifier) -> None:
    """Raise ``CheckpointError`` unless the checkpoint was signed by this verifier's key for this log."""
    if checkpoint.signer != verifier.name or checkpoint.key_id != verifier.key_id:
        raise CheckpointError(
            f"The checkpoint was not signed by this log's key (signed by {checkpoint.signer!r}, "
            f"expected {verifier.name!r})."
        )
    if checkpoint.origin != verifier.name:
        raise CheckpointError(f"The checkpoint is for another log ({checkpoint.origin!r}, expected {verifier.name!r}).")
    try:
        verifier.public.verify(checkpoint.signature, checkpoint.body)
    except InvalidSignature as exc:
        raise CheckpointError("The checkpoint's signature is forged or the checkpoint was altered.") from exc
