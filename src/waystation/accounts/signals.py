"""Sign-ins and failed sign-ins are audit events. The attempted username is not kept: it may be a mistyped password."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from waystation.accounts.sessions import mark_signed_in
from waystation.audit.services import audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        mark_signed_in(request.session)  # the absolute lifetime counts from here
    audit_record(actor=user, action="auth.login", target=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from waystation.vault.agent import AGENT, handle_for

    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        AGENT.drop(handle_for(session_key))  # this session's keys; other sessions of the user keep theirs
    if user is not None:
        audit_record(actor=user, action="auth.logout", target=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    audit_record(actor=None, action="auth.login_failed")


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    # ``username`` is the keyed hash of accounts.lockout, never the typed text; the audit keeps neither.
    audit_record(actor=None, action="auth.locked_out")
