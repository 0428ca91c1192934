"""An upload waiting to be imported goes with the session that brought it: signing out (quick exit too) deletes it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver


@receiver(user_logged_out)
def _forget_pending_upload(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from waystation.intake import uploads
    from waystation.intake.views import SESSION_UPLOAD

    session = getattr(request, "session", None)
    pending = session.get(SESSION_UPLOAD) if session is not None else None
    if isinstance(pending, dict):
        uploads.discard(str(pending.get("path", "")))  # a running import owns its file and deletes it itself
