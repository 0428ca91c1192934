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

The file is deleted when the import ends, on any error, when the user cancels or uploads another file, and (for an
abandoned import) by the next upload once it is a day old. Its content is never
logged, never stored in the database (only its SHA-256) and never shown on an error page.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from waystation.interop.spreadsheet import DEFAULT_LIMITS

PREFIX = "import-"
STALE_SECONDS = 24 * 3600
MAX_BYTES = DEFAULT_LIMITS.max_file_bytes


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
        path.unlink(missing_ok=True)


def discard_stale() -> None:
    """Delete the files of imports abandoned more than a day ago."""
    limit = time.time() - STALE_SECONDS
    for path in upload_dir().glob(PREFIX + "*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue


@dataclass(frozen=True)
class StoredUpload:
    """An upload written to its temporary file: where (None when refused), its name, size and digest."""

    path: Path | None
    name: str
    size: int
    digest: str
    too_big: bool


def store(chunks: Iterable[bytes], name: str) -> StoredUpload:
    """Write ``chunks`` to a new owner-only file, hashing them; stop and delete it past ``MAX_BYTES``."""
    descriptor, temp = tempfile.mkstemp(prefix=PREFIX, dir=upload_dir())
    path = Path(temp)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_BYTES:
                    break
                handle.write(chunk)
                digest.update(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    too_big = size > MAX_BYTES
    if too_big:
        path.unlink(missing_ok=True)
    return StoredUpload(
        path=None if too_big else path,
        name=os.path.basename(name.replace("\\", "/"))[:255],
        size=size,
        digest=digest.hexdigest(),
        too_big=too_big,
    )
