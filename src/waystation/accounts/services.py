"""Users: created by an administrator with a one-time password, never deleted (their audit trail stays).

Every user gets a key pair with the account (``vault.userkeys``), wrapped by their password, and is granted the
keys their role entitles them to (``vault.grants``): at once when the actor holds them, else by the next signed-in
holder. A password reset by someone else makes a new key pair (the old one cannot be opened without the old
password) and grants access again the same way; a change by the user, who gives the old password, keeps the pair.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.lib.errors import ServiceError
from waystation.vault import crypto, grants, userkeys
from waystation.vault.keyring import acting

PASSWORD_WORDS = 4


def generate_password() -> str:
    """A random password that can be read out and typed on a phone: four groups of five letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(PASSWORD_WORDS))


def user_create(*, actor: User | None, username: str, role: str, password: str | None = None) -> tuple[User, str]:
    username = username.strip()
    if not username:
        raise ServiceError(_("Choose a username (a work alias, not a real name)."), field="username")
    if role not in Role.values:
        raise ServiceError(_("Unknown role."), field="role")
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError(_("This username is taken."), field="username")
    password = password or generate_password()
    with transaction.atomic(), acting(actor) as keyring:
        user = User.objects.create_user(username=username, password=password, role=role)
        userkeys.create(user, password)
        audit_record(actor=actor, action="user.create", target=user, details={"role": role})
        grants.sync_user(keyring, user)
    return user, password


def user_set_password(*, actor: User | None, user: User, password: str | None = None) -> str:
    password = password or generate_password()
    with transaction.atomic(), acting(actor) as keyring:
        user.set_password(password)
        user.save(update_fields=["password"])
        userkeys.create(user, password)  # a new pair: the old one opens only with the old password
        audit_record(actor=actor, action="user.password_set", target=user)
        audit_record(actor=actor, action="vault.user_key_replaced", target=user)
        grants.sync_user(keyring, user)
    from waystation.vault.agent import AGENT

    AGENT.drop_user(user.pk)
    return password


def user_change_password(*, user: User, current: str, new: str) -> None:
    """The user's own change: the same key pair, wrapped by the new password, so every record stays readable."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if not user.check_password(current):
        raise ServiceError(_("The current password is not right."), field="current")
    try:
        validate_password(new, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field="new") from exc
    try:
        private = userkeys.unlock(user, current)
    except crypto.VaultError as exc:
        raise ServiceError(_("Your keys could not be opened with this password.")) from exc
    with transaction.atomic():
        user.set_password(new)
        user.save(update_fields=["password"])
        userkeys.rewrap(user, private, new)
        audit_record(actor=user, action="user.password_changed", target=user)


def user_set_active(*, actor: User, user: User, active: bool) -> User:
    if user.pk == actor.pk and not active:
        raise ServiceError(_("You cannot deactivate yourself."))
    with transaction.atomic(), acting(actor) as keyring:
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(actor=actor, action="user.active", target=user, details={"active": active})
        grants.sync_user(keyring, user)
    if not active:
        from waystation.api.tokens import tokens_revoke_for_user
        from waystation.vault.agent import AGENT

        AGENT.drop_user(user.pk)
        tokens_revoke_for_user(actor=actor, user=user)
    return user


def user_unlock(*, actor: User, user: User) -> int:
    """Lift a lockout: forget the failed sign-ins of ``user`` from every address."""
    from waystation.accounts.lockout import reset_user

    with transaction.atomic():
        count = reset_user(user)
        audit_record(actor=actor, action="user.unlock", target=user, details={"attempts": count})
    return count
