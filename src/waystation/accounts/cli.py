"""Commands that act for a named user (``waystation import --as``, ``waystation dedup --as``): who, and their
password, checked before anything is read.

The password comes from the terminal (not echoed) or, for scripts, from ``WAYSTATION_PASSWORD``. Anyone with a
shell on the server could read the database file anyway; what this adds is that the command acts, and is audited,
as a person whose role allows it, and that it can open that person's keys where it must.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable

from django.contrib.auth.hashers import check_password
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from waystation.accounts.models import User

PASSWORD_VARIABLE = "WAYSTATION_PASSWORD"  # noqa: S105 - the name of the variable, not a password


def user_named(username: str | None, *, allowed: Callable[[User], bool], refusal: str) -> User:
    """The active user ``username`` if ``allowed``; else ``CommandError(refusal)`` (``%(user)s`` in it is the name)."""
    if not username:
        raise CommandError(_("Say who you are: --as USERNAME."))
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or not allowed(user):
        raise CommandError(refusal % {"user": username})
    return user


def password_of(user: User, *, refused: str) -> str:
    """``user``'s password, from ``WAYSTATION_PASSWORD`` or the terminal, checked; else ``CommandError(refused)``."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError(
                _("Give %(user)s's password at the terminal, or in the WAYSTATION_PASSWORD variable.")
                % {"user": user.username}
            )
        password = getpass.getpass(_("Password for %(user)s: ") % {"user": user.username})
    if not check_password(password, user.password):
        raise CommandError(refused)
    return password
