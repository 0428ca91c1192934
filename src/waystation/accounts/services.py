"""Users: created by an administrator with a one-time password, never deleted (their audit trail stays)."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.lib.errors import ServiceError

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
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, role=role)
        audit_record(actor=actor, action="user.create", target=user, details={"role": role})
    return user, password


def user_set_password(*, actor: User | None, user: User, password: str | None = None) -> str:
    password = password or generate_password()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="user.password_set", target=user)
    return password


def user_set_active(*, actor: User, user: User, active: bool) -> User:
    if user.pk == actor.pk and not active:
        raise ServiceError(_("You cannot deactivate yourself."))
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(actor=actor, action="user.active", target=user, details={"active": active})
    return user


def user_unlock(*, actor: User, user: User) -> int:
    """Lift a lockout: forget the failed sign-ins of ``user`` from every address."""
    from waystation.accounts.lockout import reset_user

    with transaction.atomic():
        count = reset_user(user)
        audit_record(actor=actor, action="user.unlock", target=user, details={"attempts": count})
    return count
