"""Sessions: an idle timeout (SESSION_COOKIE_AGE, renewed by requests: ``renew_idle_timeout``), an absolute lifetime
counted from the sign-in (``SESSION_ABSOLUTE_SECONDS``, enforced by ``web.middleware.SessionLifetimeMiddleware``),
sign-out everywhere for one user, and ending everybody's sessions at once.

Sessions are found by decoding each stored session (``_auth_user_id``): a small organisation has a few dozen at most,
and nothing else (no per-user list) has to be kept in step with the session store.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction

from waystation.accounts.models import User
from waystation.audit.services import audit_record

SIGNED_IN_AT = "waystation_signed_in_at"


def mark_signed_in(session: object) -> None:
    session[SIGNED_IN_AT] = int(time.time())  # type: ignore[index]


def signed_in_at(session: object) -> int | None:
    value = session.get(SIGNED_IN_AT)  # type: ignore[attr-defined]
    return value if isinstance(value, int) else None


RENEWED_AT = "waystation_renewed_at"


def renew_every_seconds() -> int:
    """How long after its last renewal a request renews a session's idle timeout (saves it, moving its expiry on):
    a minute, or a tenth of the idle timeout when that is shorter. Not every request: a page that changes nothing in
    the session then writes nothing either (a row update and a commit saved on every request). A session ends at most
    this much before SESSION_COOKIE_AGE of idleness, never after it; the key agent forgets a session's keys this
    much sooner too (``vault.agent``), so that they never outlive it."""
    return max(1, min(60, settings.SESSION_COOKIE_AGE // 10))


def renew_idle_timeout(session: object) -> None:
    """At the end of a request: mark a stored session as changed (so that it is saved, with a new expiry) when its
    idle timeout was last renewed ``renew_every_seconds()`` ago or more. A session that does not exist (never made,
    signed out, expired) stays so: it is read first, which forgets an unknown key."""
    renewed = session.get(RENEWED_AT)  # type: ignore[attr-defined]
    if session.session_key is None:  # type: ignore[attr-defined]
        return
    now = int(time.time())
    if not isinstance(renewed, int) or not 0 <= now - renewed < renew_every_seconds():
        session[RENEWED_AT] = now  # type: ignore[index]


REAUTHENTICATED_AT = "waystation_reauthenticated_at"


def mark_reauthenticated(session: object) -> None:
    """The user has just given the password and a second-factor code (at sign-in, or on the confirm page)."""
    session[REAUTHENTICATED_AT] = int(time.time())  # type: ignore[index]


def reauthenticated_at(session: object) -> int | None:
    value = session.get(REAUTHENTICATED_AT)  # type: ignore[attr-defined]
    return value if isinstance(value, int) else None


def _session_keys(user: User | None) -> list[str]:
    if user is None:
        return list(Session.objects.values_list("session_key", flat=True))
    wanted = str(user.pk)
    keys = []
    for session in Session.objects.iterator():
        try:
            data = session.get_decoded()
        except Exception:  # noqa: S112 - a session that cannot be read belongs to nobody; leave it to expire
            continue
        if str(data.get(SESSION_KEY, "")) == wanted:
            keys.append(session.session_key)
    return keys


def sessions_end_for_user(*, actor: User | None, user: User) -> int:
    """End every session of ``user`` (on every device, this one included), and drop their keys from the agent."""
    from waystation.vault.agent import AGENT

    AGENT.drop_user(user.pk)
    with transaction.atomic():
        count, _ = Session.objects.filter(session_key__in=_session_keys(user)).delete()
        audit_record(actor=actor, action="auth.sessions_ended", target=user, details={"sessions": count})
    return count


def sessions_end_all(*, actor: User | None) -> int:
    """End every session of everyone (the administrator's own too), and drop every key from the agent."""
    from waystation.vault.agent import AGENT

    AGENT.drop_all()
    with transaction.atomic():
        count, _ = Session.objects.all().delete()
        audit_record(actor=actor, action="auth.sessions_ended_all", details={"sessions": count})
    return count


def session_count(user: User) -> int:
    return len(_session_keys(user))
