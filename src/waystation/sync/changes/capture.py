"""Capture: every save of a replicated row is logged, whoever saves it (the web services, the spreadsheet import,
the linkage merge, a coordinator resolving a conflict), by model signals rather than calls in each service, so that
a new write path cannot forget it. Not logged: the sync's own saves while applying a peer's changes (those keep their
origin, ``apply``), raw saves (a fixture or a restore writes rows as they were), and rows inserted without
``save()`` (the synthetic generator's batches: ``log.baseline`` logs them before the next export). A shred is
logged when its ``ShredRecord`` is made. The kill switch is not a change: it travels as a signed kill notice
(``sync.services.kill_announce``), which needs no key to apply.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from waystation.sync.changes import log
from waystation.sync.changes.registry import BY_MODEL
from waystation.vault.models import ShredRecord


def _row_saved(sender: Any, instance: Any, created: bool, raw: bool, update_fields: Any, **kwargs: Any) -> None:
    if raw or log.is_applying():
        return
    log.record_local(BY_MODEL[sender], instance, None if created or update_fields is None else update_fields)


def _shred_saved(sender: Any, instance: ShredRecord, created: bool, raw: bool, **kwargs: Any) -> None:
    if raw or not created or log.is_applying():
        return
    log.record_shred(instance.person_id)


def connect() -> None:
    for model in BY_MODEL:
        post_save.connect(_row_saved, sender=model, dispatch_uid=f"sync_changes.{model._meta.label_lower}")
    post_save.connect(_shred_saved, sender=ShredRecord, dispatch_uid="sync_changes.shred")
