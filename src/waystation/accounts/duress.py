"""The duress password: a second, optional password that signs in like the real one and silently destroys the
user's keys.

Someone forced to sign in (at a checkpoint, in a raid) types the duress password instead of the real one. What the
person watching sees is an ordinary sign-in: the same redirect to the second step, the same status, headers and
templates, about the same time (both paths do the same Argon2 work, see below), then the second step as usual and an
account with an empty caseload. What happens at the same time, unseen:

- the user's key wraps are destroyed: every ``CaseKeyWrap`` and the ``IndexKeyWrap`` held by them, their
  ``PendingGrant`` rows and their ``UserKey``, so the real password no longer opens anything either;
- their keys are dropped from the agent and their other sessions end;
- the user is flagged ``under_duress``: ``cases.access.visible_persons`` gives them no case, and the session holds
  a throwaway key pair in the agent (``VaultKeysMiddleware`` wants one; it opens nothing);
- an ``auth.duress`` audit event is written, and every coordinator's dashboard (and the administrator's user list)
  shows that this worker signed in under duress and that their keys are destroyed. The flagged user never sees it.

The same Argon2 work on both paths. ``DuressBackend`` sits between Axes and Django's ``ModelBackend``: for every
sign-in it checks the typed password against the duress hash (a dummy hash of the same cost when the user has none,
so that having one does not show), then the real hash is checked, by ``ModelBackend`` or, on a duress match, by
this backend itself (result unused). The key step then derives the key-encryption key once with the user's own
Argon2id parameters: the real unwrap on a normal sign-in, a failing unwrap with the duress password on a duress one.

Inside a duress session, the password change and the duress password page keep the pretence: the duress password
counts as the current password (and as the password on the confirm page), a change replaces the duress hash (so the
"new password" goes on working as a duress password), and setting or removing a duress password changes nothing.

Afterwards. A coordinator or an administrator clears the flag (the dashboard alert, or the user list); the user then
sees cases again but holds no keys. An administrator resets their password
(``accounts.services.user_set_password``), which makes a new key pair and grants again what their role entitles them
to (at once for the keys the administrator holds, the rest by the next coordinator who signs in). A reset before the
clearing works too: what they are entitled to is granted when the flag is cleared. A user who signs in between the
clearing and the reset gets an empty key pair (as an account older than the vault does,
``vault.session.open_keys``), which the reset replaces. While flagged, no sign-in makes them a key pair. The duress
password stays set: the person who made them use it knows it, and using it again destroys the keys again. The user
should choose a new one.

Limits. The duress password only works at the sign-in (on the confirm page it is only accepted inside a duress
session). A duress session cannot register a person (the index key is gone) and still shows station code names.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from nacl.public import PrivateKey

from waystation.accounts import services
from waystation.accounts.models import Role, User
from waystation.accounts.sessions import sessions_end_for_user
from waystation.audit.services import audit_record
from waystation.lib.errors import ServiceError
from waystation.vault import crypto, grants, userkeys
from waystation.vault.agent import AGENT, handle_for
from waystation.vault.keyring import acting
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant, UserKey

# Set on the request by DuressBackend when the typed password is the duress password.
_TRIGGERED = "_waystation_duress_user_id"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@functools.cache
def _dummy_hash(algorithm: str) -> str:
    return make_password(os.urandom(24).hex(), hasher=algorithm)


def duress_hash(user: User) -> str:
    """What the typed password is checked against: the user's duress hash, or for a user without one a hash of a
    random password made like their real password's (the default hasher, with the same cost, for every account
    whose password the app set), so that the check costs the same either way."""
    if user.duress_password:
        return user.duress_password
    try:
        algorithm = identify_hasher(user.password).algorithm
    except ValueError:  # no usable password (an unknown user): the default hasher, as ModelBackend does
        algorithm = get_hasher("default").algorithm
    return _dummy_hash(algorithm)


class DuressBackend(ModelBackend):
    """Accepts the duress password of an active user, for a sign-in through a request (the sign-in page)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        username = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            check_password(password, duress_hash(User()))  # an unknown user costs the same check
            return None
        if not check_password(password, duress_hash(user)) or request is None:
            return None
        check_password(password, user.password)  # the check ModelBackend makes on a normal sign-in
        if not self.user_can_authenticate(user):
            return None
        setattr(request, _TRIGGERED, user.pk)
        return user


def triggered(request: HttpRequest, user: User) -> bool:
    return getattr(request, _TRIGGERED, None) == user.pk


def _unwrap_work(user: User, password: str) -> None:
    """The Argon2id derivation of a sign-in's key step, with the user's own parameters, its result unused."""
    try:
        userkeys.unlock(user, password)
    except crypto.Locked:  # no key pair any more (destroyed): the same derivation with the default parameters
        userkeys.derive_key(password, os.urandom(userkeys.SALT_BYTES), userkeys.KDF)
    except crypto.VaultError:
        pass  # the duress password does not open the key pair: the work is done all the same


def prepare_sign_in(request: HttpRequest, user: User, password: str) -> PrivateKey | None:
    """At the password step, before ``login``: ``None`` for a normal sign-in (the vault opens the user's keys next).
    For a duress sign-in, the keys are destroyed now; for any sign-in of a user under duress, a throwaway key pair
    is returned for the session (``hold_keys``), after the same key derivation work as a normal sign-in."""
    if not (triggered(request, user) or user.under_duress):
        return None
    _unwrap_work(user, password)
    if triggered(request, user):
        duress_triggered(user=user)
    setattr(user, "backend", MODEL_BACKEND)  # noqa: B010 - the session records the same backend as a normal sign-in's
    return crypto.new_key_pair()


def hold_keys(request: HttpRequest, user: User, private: PrivateKey) -> None:
    """Hold the throwaway key pair for this session, as ``vault.session.open_keys`` holds the real one."""
    if not request.session.session_key:
        request.session.save()
    AGENT.put(handle_for(str(request.session.session_key)), user.pk, private)


def duress_triggered(*, user: User) -> int:
    """Destroy every key wrap of ``user``, flag them, alert the coordinators, end their sessions. Returns the number
    of case keys destroyed."""
    with transaction.atomic():
        case_keys, _deleted = CaseKeyWrap.objects.filter(holder=user).delete()
        IndexKeyWrap.objects.filter(holder=user).delete()
        PendingGrant.objects.filter(user=user).delete()
        UserKey.objects.filter(user=user).delete()
        user.under_duress = True
        user.duress_at = timezone.now()
        user.save(update_fields=["under_duress", "duress_at"])
        audit_record(actor=user, action="auth.duress", target=user, details={"case_keys": case_keys})
    sessions_end_for_user(actor=user, user=user)  # drops their keys from the agent too
    return case_keys


def proves_identity(user: User, password: str) -> bool:
    """The confirm page's password check: the real password, or inside a duress session the duress password (both
    hashes are checked every time)."""
    real = check_password(password, user.password)
    duress = check_password(password, duress_hash(user))
    return real or (user.under_duress and duress)


def _validated(password: str, user: User, field: str) -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field=field) from exc
    return password


def password_change(*, user: User, current: str, new: str) -> bool:
    """The user's own password change. True when the real password changed (the session's auth hash with it);
    False when a duress session "changed" it: the new password replaces the duress password."""
    if user.under_duress and user.duress_password and check_password(current, user.duress_password):
        with transaction.atomic():
            user.duress_password = make_password(_validated(new, user, "new"))
            user.save(update_fields=["duress_password"])
            audit_record(actor=user, action="auth.duress_password_changed", target=user)
        return False
    if not check_password(current, user.password):
        raise ServiceError(_("The current password is not right."), field="current")
    if user.duress_password and check_password(new, user.duress_password):
        raise ServiceError(_("This is your duress password. Choose a different password."), field="new")
    services.user_change_password(user=user, current=current, new=new)
    return True


def duress_password_set(*, user: User, password: str) -> User:
    """Set or replace the duress password. Inside a duress session, only pretended."""
    _validated(password, user, "password")
    if user.under_duress:
        return user
    if check_password(password, user.password):
        raise ServiceError(_("The duress password must differ from your password."), field="password")
    with transaction.atomic():
        user.duress_password = make_password(password)
        user.save(update_fields=["duress_password"])
        audit_record(actor=user, action="auth.duress_password_set", target=user)
    return user


def duress_password_remove(*, user: User) -> None:
    """Remove the duress password. Inside a duress session, only pretended."""
    if user.under_duress:
        return
    with transaction.atomic():
        user.duress_password = ""
        user.save(update_fields=["duress_password"])
        audit_record(actor=user, action="auth.duress_password_removed", target=user)


def duress_clear(*, actor: User, user: User) -> bool:
    """Clear the flag: ``user`` sees cases again. Their keys come back with an administrator's password reset; if
    that reset came first, what they are entitled to is granted now. False when there was nothing to clear."""
    if not user.under_duress:
        return False
    with transaction.atomic(), acting(actor) as keyring:
        user.under_duress = False
        user.duress_at = None
        user.save(update_fields=["under_duress", "duress_at"])
        audit_record(actor=actor, action="auth.duress_cleared", target=user)
        if UserKey.objects.filter(user=user).exists():
            grants.sync_user(keyring, user)
    return True


# --- access ----------------------------------------------------------------------------------------------------------


def can_clear_duress(user: User) -> bool:
    return user.has_role(Role.COORDINATOR, Role.ADMINISTRATOR) and not user.under_duress


def duress_alerts(viewer: User) -> QuerySet[User]:
    """The workers flagged under duress, for a coordinator or administrator (never their own flag)."""
    if not can_clear_duress(viewer):
        return User.objects.none()
    return User.objects.filter(under_duress=True).exclude(pk=viewer.pk).order_by("-duress_at")


def user_for_clearing(actor: User, user_id: int) -> User:
    if not can_clear_duress(actor):
        raise PermissionDenied
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise Http404
    if user.pk == actor.pk:
        raise PermissionDenied
    return user
