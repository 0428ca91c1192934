"""Where an uploaded spreadsheet waits between the pages of an import: a 0600 file in the installation's folder.

The app otherwise keeps uploads in memory (settings: a photo must never reach the disk in clear). A register is
different: it is read again by the mapping page, the preview and the import itself (a thread that outlives the
request), and may be 50 MB. So the import's upload view, and only it, writes the upload to a file created with
``mkstemp`` (owner-only permissions) in ``$WAYSTATION_HOME/intake-uploads`` (0700), hashing it on the way and
stopping at the size limit.

How the bytes arrive: the page's script sends the file itself as the request's body
(``application/octet-stream``), which the view streams to the file chunk by chunk. A plain form post (no
script) works too, but only up to the app's in-memory upload limit (3 MB, ``FILE_UPLOAD_MAX_MEMORY_SIZE``): the
middleware that refuses NUL bytes reads every multipart form before any view runs, with the app's in-memory upload
handler, so a larger file in a form never reaches the view (it says so).

The file is encrypted as it is written (AES-256-GCM, one frame per chunk, the frame's number and "last" flag as
associated data, so frames cannot be reordered, dropped or cut short unseen) under a random key that exists only
in this server process's memory: a seized disk, a backup of the data folder or a file left behind by a crash or a
restart holds ciphertext whose key is gone. The file is deleted when the import ends, on any error, when the user
cancels or uploads another file, and by the next upload once it is a day old or its key is gone. Its content is
never logged, never stored in the database and never shown on an error page.

Its name is personal data too (a station names a file after the woman it is about): the pages between upload and
import keep it in the session (which is stored in the database) only sealed under the same in-memory key
(:func:`seal_labels`), with the sheet's and the register's names; it is readable while the upload waits, and not
after.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.translation import gettext as _

from waystation.interop.spreadsheet import DEFAULT_LIMITS, SpreadsheetError

PREFIX = "import-"
STALE_SECONDS = 24 * 3600
MAX_BYTES = DEFAULT_LIMITS.max_file_bytes
FRAME = 1024 * 1024  # plaintext bytes per encrypted frame
_HEADER = struct.Struct(">I?")  # a frame's ciphertext length, and whether it is the last frame

# Each upload file's key, by file name, in this process only (the server is one process; see vault/agent.py).
_KEYS: dict[str, bytes] = {}
_KEYS_LOCK = threading.Lock()


def upload_dir() -> Path:
    folder = Path(settings.HOME) / "intake-uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def owned_path(text: str) -> Path | None:
    """``text`` as a path to one of our upload files, or None (a session never names any other file)."""
    path = Path(text)
    folder = upload_dir().resolve()
    try:
        resolved = path.resolve()
    except OSError:
        return None
    if resolved.parent != folder or not resolved.name.startswith(PREFIX):
        return None
    return resolved


def discard(text: str | None) -> None:
    path = owned_path(text) if text else None
    if path is not None:
        with _KEYS_LOCK:
            _KEYS.pop(path.name, None)
        path.unlink(missing_ok=True)


def discard_stale() -> None:
    """Delete the files of imports abandoned more than a day ago, and any whose key this process does not hold
    (left by a crash or a restart: unreadable now)."""
    limit = time.time() - STALE_SECONDS
    for path in upload_dir().glob(PREFIX + "*"):
        try:
            with _KEYS_LOCK:
                orphan = path.name not in _KEYS
            if orphan or path.stat().st_mtime < limit:
                discard(str(path))
        except OSError:
            continue


def opened(text: str | Path) -> bytes:
    """The plaintext of one of our upload files, checked frame by frame. ``SpreadsheetError`` when it is not ours,
    its key is gone (a restart) or it was changed."""
    path = owned_path(str(text))
    with _KEYS_LOCK:
        key = _KEYS.get(path.name) if path is not None else None
    if path is None or key is None:
        raise SpreadsheetError(_("This upload is no longer available (the server restarted): upload the file again."))
    aead, parts, index = AESGCM(key), [], 0
    try:
        with path.open("rb") as handle:
            while True:
                header = handle.read(_HEADER.size)
                length, last = _HEADER.unpack(header)
                nonce, sealed = handle.read(12), handle.read(length)
                parts.append(aead.decrypt(nonce, sealed, _associated(index, last)))
                index += 1
                if last:
                    break
            if handle.read(1):
                raise ValueError("data after the last frame")
    except (OSError, struct.error, InvalidTag, ValueError) as exc:
        raise SpreadsheetError(_("This upload could not be read back: upload the file again.")) from exc
    return b"".join(parts)


def _key_of(text: str | Path) -> bytes | None:
    path = owned_path(str(text))
    with _KEYS_LOCK:
        return _KEYS.get(path.name) if path is not None else None


def seal_labels(text: str | Path, labels: dict[str, str]) -> str:
    """``labels`` (the file's name, ...) sealed under the key of the upload at ``text``, as text for a session."""
    key = _key_of(text)
    if key is None:
        raise SpreadsheetError(_("This upload is no longer available (the server restarted): upload the file again."))
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(labels).encode(), _LABELS)
    return base64.b64encode(nonce + sealed).decode()


def open_labels(text: str | Path, token: str) -> dict[str, str] | None:
    """What :func:`seal_labels` sealed for the upload at ``text``; None when its key is gone or the token is not
    one."""
    key = _key_of(text)
    try:
        raw = base64.b64decode(token.encode(), validate=True)
        if key is None or len(raw) < 12:
            return None
        labels = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _LABELS))
    except (binascii.Error, ValueError, InvalidTag):
        return None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else None


_LABELS = b"waystation-upload-labels"


def _associated(index: int, last: bool) -> bytes:
    return b"waystation-upload\x1f" + struct.pack(">Q?", index, last)


@dataclass(frozen=True)
class StoredUpload:
    """An upload written to its temporary file: where (None when refused), its name, size and digest."""

    path: Path | None
    name: str
    size: int
    digest: str
    too_big: bool


def store(chunks: Iterable[bytes], name: str) -> StoredUpload:
    """Encrypt ``chunks`` into a new owner-only file under a new key held in memory, hashing the plaintext; stop
    and delete it past ``MAX_BYTES``."""
    descriptor, temp = tempfile.mkstemp(prefix=PREFIX, dir=upload_dir())
    path = Path(temp)
    key = AESGCM.generate_key(bit_length=256)
    with _KEYS_LOCK:
        _KEYS[path.name] = key
    aead = AESGCM(key)
    digest = hashlib.sha256()
    size, index, pending = 0, 0, b""

    def frame(handle: object, data: bytes, last: bool) -> None:
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, data, _associated(index, last))
        handle.write(_HEADER.pack(len(sealed), last) + nonce + sealed)  # type: ignore[attr-defined]

    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_BYTES:
                    break
                digest.update(chunk)
                pending += chunk
                while len(pending) > FRAME:
                    frame(handle, pending[:FRAME], False)
                    pending, index = pending[FRAME:], index + 1
            if size <= MAX_BYTES:
                frame(handle, pending, True)
    except BaseException:
        discard(str(path))
        raise
    too_big = size > MAX_BYTES
    if too_big:
        discard(str(path))
    return StoredUpload(
        path=None if too_big else path,
        name=os.path.basename(name.replace("\\", "/"))[:255],
        size=size,
        digest=digest.hexdigest(),
        too_big=too_big,
    )
