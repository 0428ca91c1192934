"""The vault's part in a session: the password step opens the user's keys into the agent; later requests find
them there or are signed out."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.vault import crypto, grants, userkeys
from waystation.vault.agent import AGENT, handle_for
from waystation.vault.keyring import Keyring
from waystation.vault.models import UserKey

log = logging.getLogger(__name__)


def open_keys(request: HttpRequest, user: User, password: str) -> bool:
    """Unwrap ``user``'s private key with the password just checked and hold it for this session. A user without a
    key pair (created before the vault) gets one now. False, audited, when the key pair cannot be opened."""
    try:
        if UserKey.objects.filter(user=user).exists():
            private = userkeys.unlock(user, password)
        else:
            private = userkeys.create(user, password)
            audit_record(actor=user, action="vault.user_key_created", target=user)
    except crypto.VaultError:
        audit_record(actor=user, action="vault.user_key_failed", target=user)
        return False
    session_key = request.session.session_key
    if not session_key:
        request.session.save()
        session_key = request.session.session_key
    AGENT.put(handle_for(str(session_key)), user.pk, private)
    return True


def session_has_keys(request: HttpRequest) -> bool:
    session_key = request.session.session_key
    if not session_key:
        return False
    entry = AGENT.get(handle_for(session_key))
    return entry is not None and entry.user_id == request.user.pk


def pay_grants(user: User) -> None:
    """At sign-in: wraps owed to others that this user can make now. A failure here must not block a sign-in."""
    private = AGENT.for_user(user.pk)
    if private is None:
        return
    try:
        paid = grants.fulfil(Keyring(user, private))
    except crypto.VaultError:
        log.exception("pending key grants could not be made")
        return
    if paid:
        audit_record(actor=user, action="vault.grants_made", details={"wraps": paid})
