"""Imports started from the browser: run in a thread of the server process, their progress kept in memory.

An import of 100,000 rows takes longer than a request should, so the view starts it in a thread and the progress
page polls ``status`` (a small JSON answer) until it ends. The server is one process with threads (``waystation
serve``), so a dictionary keyed by a random job id, guarded by a lock, is all the state needed; a restart forgets
running imports, and an import killed that way has written nothing (it is one transaction). A job is only ever
shown to the user who started it. Finished jobs are forgotten after an hour.

A job holds counts, translated messages and the report's errors (row, column, value, message: the value is a cell
of the file, shown to the coordinator who imported it, as the preview showed it), never the file itself, which the
thread deletes when it ends, whatever the outcome.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection
from django.utils import translation
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.intake import uploads
from waystation.intake.services import ImportRefused, ImportReport, import_run, source_open
from waystation.interop.columns import Mapping
from waystation.interop.spreadsheet import SpreadsheetError
from waystation.lib.errors import ServiceError
from waystation.vault import crypto
from waystation.vault.keyring import Keyring

log = logging.getLogger(__name__)
KEEP_SECONDS = 3600


@dataclass
class Job:
    user_id: int
    started: float = field(default_factory=time.monotonic)
    state: str = "running"  # running, done, refused, failed
    phase: str = "check"
    done: int = 0
    total: int = 0
    report: ImportReport | None = None
    message: str = ""
    ended: float | None = None
    thread: threading.Thread | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "seconds": round((self.ended or time.monotonic()) - self.started),
        }


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def get(job_id: str | None, user: User) -> Job | None:
    with _LOCK:
        job = _JOBS.get(job_id or "")
    return job if job is not None and job.user_id == user.pk else None


def _forget_old() -> None:
    limit = time.monotonic() - KEEP_SECONDS
    with _LOCK:
        for key in [k for k, job in _JOBS.items() if job.ended is not None and job.ended < limit]:
            del _JOBS[key]


@dataclass(frozen=True)
class Request:
    """What the thread needs: all plain values (the file's path, never its content)."""

    path: str
    name: str
    digest: str
    sheet: str | None
    mapping: str  # Mapping.to_json()
    source_key: str
    station: str
    language: str


def start(user: User, keyring: Keyring, request: Request) -> str:
    """Start importing in a thread; the job's id."""
    _forget_old()
    job_id = secrets.token_urlsafe(16)
    job = Job(user_id=user.pk)
    with _LOCK:
        _JOBS[job_id] = job
    job.thread = threading.Thread(target=_run, args=(job, user, keyring, request), name="intake-import", daemon=True)
    job.thread.start()
    return job_id


def wait(job_id: str, user: User, seconds: float) -> None:
    """Wait up to ``seconds`` for the job to end. A station's register of a few hundred rows is imported in that
    time: its user goes straight to the result, and no progress page polls the server while the import holds the
    database's write lock (on SQLite, the only one: every request that saves its session waits for it)."""
    job = get(job_id, user)
    if job is not None and job.thread is not None:
        job.thread.join(seconds)


def _run(job: Job, user: User, keyring: Keyring, request: Request) -> None:
    translation.activate(request.language)
    close_old_connections()

    def progress(phase: str, done: int, total: int) -> None:
        job.phase, job.done, job.total = phase, done, total

    try:
        source = source_open(uploads.opened(request.path), name=request.name, sheet=request.sheet)
        if source.digest != request.digest:
            raise ServiceError(_("The uploaded file changed on the server: upload it again."))
        job.report = import_run(
            actor=user,
            source=source,
            mapping=Mapping.from_json(request.mapping),
            source_key=request.source_key,
            station=request.station,
            progress=progress,
            keyring=keyring,
        )
        job.state = "done"
    except ImportRefused as exc:
        job.report, job.state, job.message = exc.report, "refused", exc.message
    except (ServiceError, SpreadsheetError) as exc:
        job.state, job.message = "failed", exc.message
    except crypto.Locked:
        job.state, job.message = "failed", _("Your keys are not open any more: sign in again and import again.")
    except Exception:  # the thread must end in a state the page can show; the cause goes to the log, not the page
        log.exception("an import failed")  # a traceback names code, not cells: no content of the file here
        job.state, job.message = "failed", _("The import failed and nothing was written. Try again.")
    finally:
        uploads.discard(request.path)
        job.ended = time.monotonic()
        connection.close()
