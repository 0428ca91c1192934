"""``waystation api token create|list|revoke --as USER``: a user's own API tokens from the command line.

Every action needs the user's password (at the terminal, or ``WAYSTATION_PASSWORD``): creating a token wraps the
user's private key, which only the password opens; listing and revoking ask for it too, so that a shell on the
server alone does not tell whose tokens exist. The token is printed once and never stored.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from waystation.accounts.cli import password_of, user_named
from waystation.accounts.models import User
from waystation.api import tokens
from waystation.api.models import ApiToken
from waystation.lib.errors import ServiceError
from waystation.vault import crypto, userkeys


class Command(BaseCommand):
    help = "API tokens: `token create` prints a new token once, `token list` shows yours, `token revoke` ends one."

    def add_arguments(self, parser: CommandParser) -> None:
        nouns = parser.add_subparsers(dest="noun", required=True, metavar="token")
        token = nouns.add_parser("token", help="your API tokens")
        actions = token.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="a new token, printed once")
        create.add_argument("--name", required=True, help="what uses it, e.g. the device or the script")
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=tokens.ALL_SCOPES,
            help="a scope (repeat for more; default: all your role allows)",
        )
        create.add_argument("--days", type=int, default=tokens.DEFAULT_DAYS, help="valid for N days (default 30)")
        actions.add_parser("list", help="your tokens (never the tokens themselves)")
        revoke = actions.add_parser("revoke", help="revoke one of your tokens")
        revoke.add_argument("key_id", metavar="KEY_ID", help="the token's key id, as `list` shows it")
        for sub in actions.choices.values():
            sub.add_argument("--as", dest="username", help="who you are (your password is asked for)")
            sub.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, action: str, username: str | None, **options: Any) -> None:
        user = user_named(username, allowed=lambda u: True, refusal=_("No active user %(user)s."))
        password = password_of(user, refused=_("Wrong password: nothing was changed."))
        self.as_json = bool(options["json"])
        try:
            if action == "create":
                self._create(user, password, options)
            elif action == "list":
                self._list(user)
            else:
                self._revoke(user, options["key_id"])
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _out(self, data: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False) if self.as_json else text)

    def _create(self, user: User, password: str, options: dict[str, Any]) -> None:
        try:
            private = userkeys.unlock(user, password)
        except crypto.VaultError as exc:
            raise CommandError(_("Your keys could not be opened with this password.")) from exc
        created = tokens.token_create(
            actor=user, private_key=private, name=options["name"], scopes=options["scopes"], days=options["days"]
        )
        token = created.token
        data = {**_row(token), "token": created.plaintext}
        note = _("Shown only once. Scopes: %(scopes)s. Valid until %(expires)s.") % {
            "scopes": ", ".join(token.scopes),
            "expires": f"{token.expires_at:%Y-%m-%d}",
        }
        self._out(data, f"{created.plaintext}\n{note}")

    def _list(self, user: User) -> None:
        rows = [_row(t) for t in ApiToken.objects.filter(user=user)]
        text = "\n".join(
            f"{r['key_id']}  {r['state']:8}  {r['expires_at'][:10]}  {','.join(r['scopes'])}  {r['name']}" for r in rows
        )
        self._out({"tokens": rows}, text or _("You have no API token."))

    def _revoke(self, user: User, key_id: str) -> None:
        token = ApiToken.objects.filter(user=user, key_id=key_id).first()
        if token is None:
            raise CommandError(_("You have no token with the key id %(key_id)s.") % {"key_id": key_id})
        tokens.token_revoke(actor=user, token=token)
        self._out({"revoked": token.key_id}, _("Revoked: it opens nothing any more."))


def _row(token: ApiToken) -> dict[str, Any]:
    state = "revoked" if token.revoked else "expired" if token.expired else "active"
    return {
        "key_id": token.key_id,
        "name": token.name,
        "scopes": token.scopes,
        "state": state,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }
