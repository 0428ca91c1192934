"""``waystation adduser``: the first administrator of a new installation, who then signs in with the printed
password and sets up the second factor."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from waystation.accounts.models import Role, User
from waystation.audit.models import AuditEvent
from waystation.vault.models import UserKey

pytestmark = pytest.mark.django_db


def test_the_first_administrator_signs_in_with_the_printed_password(client_for: Callable[..., Any]) -> None:
    out = io.StringIO()
    call_command("adduser", "admin-first", "--role", "administrator", stdout=out)
    password = re.search(r"^  (\S+)$", out.getvalue(), re.MULTILINE).group(1)  # type: ignore[union-attr]
    user = User.objects.get(username="admin-first")
    assert user.role == Role.ADMINISTRATOR and user.check_password(password)
    key = UserKey.objects.get(user=user)
    assert key.kdf_time >= 3 and key.kdf_memory_kib >= 64 * 1024  # the production key derivation
    assert AuditEvent.objects.filter(action="user.create", target_id=str(user.pk)).exists()
    client = client_for(None)
    client.get("/accounts/login/")
    response = client.submit("/accounts/login/", {"username": "admin-first", "password": password})
    assert response.status_code == 302 and "/accounts/two-factor/" in response["Location"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taken", "--role", "administrator"], "This username is taken."),
        (["  ", "--role", "keeper"], "Choose a username"),
    ],
)
def test_bad_input_is_refused_and_creates_nobody(args: list[str], message: str) -> None:
    User.objects.create(username="taken", role=Role.KEEPER)
    before = User.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("adduser", *args, stdout=io.StringIO())
    assert User.objects.count() == before


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("adduser", "someone", "--role", "king", stdout=io.StringIO())
    assert not User.objects.filter(username="someone").exists()
