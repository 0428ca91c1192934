"""``waystation adduser USERNAME --role ROLE``: an account from the command line, above all the installation's first
administrator (the web's Users page needs one to exist). Prints a one-time password; the user sets up the second
factor at the first sign-in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.accounts.models import Role
from waystation.accounts.services import user_create
from waystation.lib.errors import ServiceError


class Command(BaseCommand):
    help = "Create a user with a one-time password (printed once); the first administrator is made this way."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="a work alias, not a real name")
        parser.add_argument("--role", required=True, choices=Role.values, help="the user's role")

    def handle(self, *args: Any, username: str, role: str, **options: Any) -> None:
        try:
            user, password = user_create(actor=None, username=username, role=role)
        except ServiceError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(f"Created {user.username} ({Role(role).label}). One-time password, shown only now:")
        self.stdout.write(f"  {password}")
        self.stdout.write("Give it in person. The second factor is set up at the first sign-in.")
