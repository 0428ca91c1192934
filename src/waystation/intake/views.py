"""The coordinator's import pages: upload -> mapping -> preview -> import (in a thread) -> progress -> result.

Each view: parse, check access (``can_import``: coordinators only), call the service, render. Between pages the
session holds the upload's temporary path and digest, the mapping chosen and the default station; the file's,
sheet's and register's names (a file may be named after a person) only sealed under the upload's in-memory key
(``uploads.seal_labels``), since sessions are stored in the database. See ``uploads`` for the file itself,
``jobs`` for the running import. Starting the import is a bulk write of every row of the file: like shredding, it
needs a recent password and code (``accounts.reauth``), asked only of a coordinator (the role is checked first).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from waystation.accounts.reauth import require_recent_auth
from waystation.intake import jobs, uploads
from waystation.intake.forms import MappingForm, UploadForm
from waystation.intake.models import SavedMapping
from waystation.intake.services import (
    ImportReport,
    Source,
    can_import,
    import_run,
    saved_mapping_save,
    source_open,
)
from waystation.interop.columns import Mapping, MappingError
from waystation.interop.spreadsheet import SpreadsheetError
from waystation.lib.errors import ServiceError
from waystation.vault.keyring import keyring_for
from waystation.web.types import AuthedHttpRequest

SESSION_UPLOAD = "intake_upload"
SESSION_JOB = "intake_job"
LABELS = ("name", "sheet", "source")  # kept in the session sealed (see the module's doc)
WAIT_SECONDS = 3.0  # a small import ends within this: its user goes straight to the result


def _check(request: AuthedHttpRequest) -> None:
    if not can_import(request.user):
        raise PermissionDenied


def _coordinators_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The role check before anything else the view is wrapped in (the re-authentication page, say): someone who
    may not import gets a 403, not a password prompt for an action they cannot take."""

    @wraps(view)
    def checked(request: AuthedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _check(request)
        return view(request, *args, **kwargs)

    return checked


def _pending(request: AuthedHttpRequest) -> dict[str, Any] | None:
    """The upload this session is importing, its names unsealed, when its file and its key are still there."""
    pending = request.session.get(SESSION_UPLOAD)
    if not isinstance(pending, dict):
        return None
    path = uploads.owned_path(str(pending.get("path", "")))
    labels = uploads.open_labels(path, str(pending.get("labels", ""))) if path is not None else None
    if path is None or not path.exists() or labels is None:
        request.session.pop(SESSION_UPLOAD, None)
        return None
    return {k: v for k, v in pending.items() if k != "labels"} | {k: labels.get(k, "") for k in LABELS}


def _keep_pending(request: AuthedHttpRequest, pending: dict[str, Any]) -> None:
    """Store ``pending`` in the session, its names sealed."""
    stored = {k: v for k, v in pending.items() if k not in LABELS}
    stored["labels"] = uploads.seal_labels(pending["path"], {k: str(pending.get(k) or "") for k in LABELS})
    request.session[SESSION_UPLOAD] = stored


def _forget_upload(request: AuthedHttpRequest) -> None:
    pending = request.session.pop(SESSION_UPLOAD, None)
    if isinstance(pending, dict):
        uploads.discard(str(pending.get("path", "")))


def _source(request: AuthedHttpRequest, pending: dict[str, Any]) -> Source | HttpResponse:
    """The pending upload read again; on failure (it cannot change, but may vanish) back to the upload page."""
    try:
        source = source_open(uploads.opened(pending["path"]), name=pending["name"], sheet=pending.get("sheet") or None)
    except (SpreadsheetError, OSError) as exc:
        _forget_upload(request)
        messages.error(request, getattr(exc, "message", _("The uploaded file is gone: upload it again.")))
        return redirect("intake:upload")
    return source


@never_cache
@require_http_methods(["GET", "POST"])
def upload(request: AuthedHttpRequest) -> HttpResponse:
    """Choose the file. The page's script sends it as the request's body, streamed to an owner-only temporary
    file (answered in JSON: where to go next, or what is wrong); a plain form post works for small files."""
    _check(request)
    if request.method == "POST" and request.content_type == "application/octet-stream":
        return _upload_body(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        declared = _declared_length(request)
        if "file" not in request.FILES and declared > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            form.errors.pop("file", None)
            form.add_error("file", too_big_for_a_form_message())
        elif form.is_valid():
            uploaded = form.cleaned_data["file"]
            stored = uploads.store(uploaded.chunks(), uploaded.name or "")
            error = _accept(request, stored, form.cleaned_data["sheet"])
            if error is None:
                return redirect("intake:mapping")
            form.add_error("file", error)
    return render(request, "intake/upload.html", {"form": form, "pending": _pending(request)})


def _declared_length(request: AuthedHttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _upload_body(request: AuthedHttpRequest) -> HttpResponse:
    if _declared_length(request) > uploads.MAX_BYTES:  # refused before a byte of the file is read
        return JsonResponse({"error": too_big_message()}, status=413)
    name = unquote(request.headers.get("X-File-Name", ""))
    sheet = unquote(request.headers.get("X-Sheet", ""))[:100]
    stored = uploads.store(iter(lambda: request.read(256 * 1024), b""), name)
    error = _accept(request, stored, sheet)
    if error is not None:
        return JsonResponse({"error": error}, status=413 if stored.too_big else 400)
    return JsonResponse({"next": reverse("intake:mapping")})


def _accept(request: AuthedHttpRequest, stored: uploads.StoredUpload, sheet: str) -> str | None:
    """Read the stored upload as a spreadsheet and remember it in the session; else delete it and say why."""
    if stored.too_big or stored.path is None:
        return too_big_message()
    if stored.size == 0:
        uploads.discard(str(stored.path))
        return _("The file is empty.")
    try:
        source = source_open(uploads.opened(stored.path), name=stored.name, sheet=sheet or None)
    except SpreadsheetError as exc:
        uploads.discard(str(stored.path))
        return exc.message
    _forget_upload(request)
    uploads.discard_stale()
    pending = {
        "path": str(stored.path),
        "name": source.name,
        "digest": source.digest,
        "sheet": source.table.sheet,
        "mapping": None,
        "source": source.default_key,
        "station": "",
    }
    _keep_pending(request, pending)
    return None


def too_big_message() -> str:
    return _("This file is larger than %(limit)s MB: split it into smaller files.") % {
        "limit": uploads.MAX_BYTES // (1024 * 1024)
    }


def too_big_for_a_form_message() -> str:
    return _(
        "Files over %(limit)s MB are sent by the page's script: allow JavaScript for this site, or import the file "
        "on the server with “waystation import”."
    ) % {"limit": settings.FILE_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)}


@never_cache
@require_http_methods(["GET", "POST"])
def mapping(request: AuthedHttpRequest) -> HttpResponse:
    """Which column holds which field: recognised headers pre-selected, a saved mapping to pick, "save as"."""
    _check(request)
    pending = _pending(request)
    if pending is None:
        return redirect("intake:upload")
    source = _source(request, pending)
    if isinstance(source, HttpResponse):
        return source
    header = source.table.header
    current = Mapping.from_json(pending["mapping"]) if pending.get("mapping") else Mapping.auto(header)
    missing: list[str] = []
    saved_id = request.GET.get("saved", "")
    if saved_id.isdigit():
        saved = SavedMapping.objects.filter(pk=int(saved_id)).first()
        if saved is not None:
            try:
                current, missing = Mapping.from_json(saved.mapping).reapply(header)
            except MappingError as exc:
                messages.error(request, " ".join(exc.problems))
            else:
                pending["source"] = saved.name
    form = MappingForm(
        request.POST or None,
        header=header,
        mapping=current,
        initial={"source": pending.get("source", ""), "station": pending.get("station", "")},
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.mapping()
        problems = chosen.problems(header)
        if problems:
            for problem in problems:
                form.add_error(None, problem)
        else:
            save_as = form.cleaned_data["save_as"].strip()
            try:
                if save_as:
                    saved_mapping_save(actor=request.user, name=save_as, mapping=chosen)
            except ServiceError as exc:
                form.add_error("save_as", exc.message)
            else:
                pending.update(
                    mapping=chosen.to_json(),
                    source=form.cleaned_data["source"].strip() or source.default_key,
                    station=form.cleaned_data["station"],
                )
                _keep_pending(request, pending)
                return redirect("intake:preview")
    return render(
        request,
        "intake/mapping.html",
        {
            "form": form,
            "pending": pending,
            "table": source.table,
            "saved": SavedMapping.objects.all(),
            "missing": missing,
        },
    )


@never_cache
@require_safe
def preview(request: AuthedHttpRequest) -> HttpResponse:
    """Every row checked (nothing written): every error listed, or the counts the import would create."""
    _check(request)
    pending = _pending(request)
    if pending is None or not pending.get("mapping"):
        return redirect("intake:mapping" if pending else "intake:upload")
    source = _source(request, pending)
    if isinstance(source, HttpResponse):
        return source
    try:
        report = import_run(
            actor=request.user,
            source=source,
            mapping=Mapping.from_json(pending["mapping"]),
            source_key=pending.get("source", ""),
            station=pending.get("station", ""),
            dry_run=True,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("intake:mapping")
    return render(request, "intake/preview.html", {"report": report, "pending": pending, "table": source.table})


@require_POST
@_coordinators_only
@require_recent_auth(back="intake:preview")
def start(request: AuthedHttpRequest) -> HttpResponse:
    """Start the import in a thread (the file now belongs to it, which deletes it) and show its progress."""
    pending = _pending(request)
    if pending is None or not pending.get("mapping"):
        messages.error(request, _("Upload a file and map its columns first."))
        return redirect("intake:upload")
    request.session.pop(SESSION_UPLOAD, None)
    job_id = jobs.start(
        request.user,
        keyring_for(request.user),
        jobs.Request(
            path=pending["path"],
            name=pending["name"],
            digest=pending["digest"],
            sheet=pending.get("sheet") or None,
            mapping=pending["mapping"],
            source_key=pending.get("source", ""),
            station=pending.get("station", ""),
            language=translation.get_language() or "en",
        ),
    )
    request.session[SESSION_JOB] = job_id
    jobs.wait(job_id, request.user, WAIT_SECONDS)
    return redirect("intake:progress")  # which sends on to the result when the import has ended


@require_POST
def cancel(request: AuthedHttpRequest) -> HttpResponse:
    """Drop the pending upload (its file is deleted)."""
    _check(request)
    _forget_upload(request)
    messages.success(request, _("The uploaded file was deleted; nothing was imported."))
    return redirect("intake:upload")


@never_cache
@require_safe
def progress(request: AuthedHttpRequest) -> HttpResponse:
    job = _job(request)
    if job is None:
        return redirect("intake:upload")
    if job.state != "running":
        return redirect("intake:result")
    return render(request, "intake/progress.html", {"job": job, "phase": phase_label(job.phase)})


def _job(request: AuthedHttpRequest) -> jobs.Job | None:
    """This coordinator's import started from this session (a job is only ever found by its own user)."""
    _check(request)
    return jobs.get(request.session.get(SESSION_JOB), request.user)


def phase_label(phase: str) -> str:
    labels = {"check": _("Checking rows"), "write": _("Writing persons"), "keys": _("Wrapping keys")}
    return labels.get(phase, phase)


@never_cache
@require_safe
def status(request: AuthedHttpRequest) -> HttpResponse:
    """The running import's progress, for the progress page's script."""
    job = _job(request)
    if job is None:
        return JsonResponse({"state": "none"})
    data = job.as_json() | {"label": phase_label(job.phase)}
    if job.state != "running":
        data["next"] = reverse("intake:result")
    return JsonResponse(data)


@never_cache
@require_safe
def result(request: AuthedHttpRequest) -> HttpResponse:
    job = _job(request)
    if job is None:
        return redirect("intake:upload")
    if job.state == "running":
        return redirect("intake:progress")
    report: ImportReport | None = job.report
    return render(request, "intake/result.html", {"job": job, "report": report})
