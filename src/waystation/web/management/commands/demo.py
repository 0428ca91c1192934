"""``waystation demo``: a working Waystation on this machine, with synthetic data, in one command.

Every run starts over: it deletes the data of its last run (the SQLite database in the data folder, or, with
``DATABASE_URL``, everything in that database), compiles the translations, migrates, sets the vault up, creates one
account per role with a fresh password, generates synthetic data (encrypted; the accounts hold the keys their roles
entitle them to), prints the recovery shares and the accounts, and serves on http://127.0.0.1:8000.

Starting over is what the vault demands: a password set by someone else comes with a new key pair and none of the
old keys, so the demo cannot keep the data and hand out new passwords. The authenticator (TOTP) secrets of the
demo accounts are carried over from the last run, so that a tester's authenticator app keeps working.

The demo only ever deletes its own data: a database that holds persons, users or a vault without the demo's marker
file in the data folder is refused, untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import DatabaseError
from django_otp.plugins.otp_totp.models import TOTPDevice

from waystation import synth
from waystation.accounts.models import Role, User
from waystation.accounts.second_factor import base32_secret
from waystation.accounts.services import user_create
from waystation.cases.models import Person
from waystation.synth_route import ROLE_ACCOUNTS
from waystation.vault import setup
from waystation.vault.keyring import Keyring, acting
from waystation.vault.models import RecoveryKey
from waystation.web.management.serving import DEFAULT_THREADS, check_bind, exec_gunicorn

DEMO_PERSONS = 300
DEMO_STATIONS = 8
DEMO_SEED = 2026
# One account per role, as `waystation synth` names them (synth reuses them, so their keys get the wraps).
DEMO_ACCOUNTS = ROLE_ACCOUNTS
# Written into the data folder before the demo puts anything into the database. Without it, a database that holds
# anything is not the demo's, and the demo will neither delete it nor touch its accounts.
DEMO_MARKER = "demo-data"
SQLITE_NAME = "waystation.sqlite3"

Account = tuple[str, str, str, str]  # username, role, password, authenticator secret


class Command(BaseCommand):
    help = (
        "Run the demo: fresh synthetic data at every start (the last run's demo data is deleted), one account per "
        "role with a new password, served on 127.0.0.1 by one process with threads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
        parser.add_argument(
            "--persons", type=int, default=DEMO_PERSONS, help=f"persons to generate (default {DEMO_PERSONS})"
        )
        parser.add_argument("--no-serve", action="store_true", help="prepare and print the accounts, do not serve")

    def handle(self, *args: Any, port: int, persons: int, no_serve: bool, **options: Any) -> None:
        if persons < 1:
            raise CommandError("--persons must be at least 1.")
        bind = f"127.0.0.1:{port}"
        if not no_serve:
            check_bind(bind)  # before the work, not after it
        home = Path(settings.HOME)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        secrets = self.start_over(home)
        self.step("Compiling translations")
        call_command("compilemessages", verbosity=0)
        self.step("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        self.step("Setting up the vault")
        vault = setup.initialise(actor=None)
        accounts = self.create_accounts(vault.index_key, secrets)
        self.generate(persons, vault.index_key)
        self.print_shares(vault)
        self.print_accounts(home, accounts, url=f"http://{bind}")
        if not no_serve:
            exec_gunicorn(bind=bind, threads=DEFAULT_THREADS)

    def step(self, text: str) -> None:
        self.stdout.write(f"- {text}...")
        self.stdout.flush()

    def start_over(self, home: Path) -> dict[str, str]:
        """Delete the data of the demo's last run; return its accounts' authenticator keys. A database that is not
        the demo's is refused; an empty one becomes the demo's."""
        marker = home / DEMO_MARKER
        if not marker.exists():
            if _holds_data():
                raise CommandError(
                    f"The database of {home} holds data that the demo did not generate. The demo deletes its data "
                    "at every start, so it only runs on its own: set WAYSTATION_HOME to an empty folder (`make demo` "
                    "uses ./var/demo), and leave DATABASE_URL unset or point it to an empty database."
                )
            marker.write_text("Synthetic demo data generated by `waystation demo`, deleted at its next start.\n")
            return {}
        secrets = _authenticator_keys()
        self.step("Deleting the synthetic data of the last run")
        sqlite = home / SQLITE_NAME
        if str(settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"]) == str(sqlite):
            connections.close_all()
            for path in (sqlite, *(sqlite.with_name(sqlite.name + end) for end in ("-wal", "-shm", "-journal"))):
                path.unlink(missing_ok=True)
        else:
            call_command("flush", interactive=False, verbosity=0)
        return secrets

    def create_accounts(self, index_key: bytes, secrets: dict[str, str]) -> list[Account]:
        """The demo accounts, each with a fresh password, a key pair, the index key and an authenticator."""
        self.step("Creating one account per role")
        keyring = Keyring(None, None)
        keyring.adopt_index_key(index_key)
        accounts = []
        with transaction.atomic(), acting(None, keyring):
            for username, role in DEMO_ACCOUNTS:
                user, password = user_create(actor=None, username=username, role=role)
                kept = {"key": secrets[username]} if username in secrets else {}
                device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True, **kept)
                accounts.append((username, str(Role(user.role).label), password, base32_secret(device)))
        return accounts

    def generate(self, persons: int, index_key: bytes) -> None:
        self.step(f"Generating synthetic data ({persons} persons, {DEMO_STATIONS} stations, seed {DEMO_SEED})")
        result = synth.generate(
            persons=persons, seed=DEMO_SEED, stations=DEMO_STATIONS, progress=self.progress, index_key=index_key
        )
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in result.counts.items())
        self.stdout.write(("\r" if self.stdout.isatty() else "") + f"  {summary}")

    def progress(self, text: str) -> None:
        """On a terminal one line that rewrites itself; in a log one line each."""
        if self.stdout.isatty():
            self.stdout.write(f"\r  {text:<40}", ending="")
        else:
            self.stdout.write(f"  {text}")
        self.stdout.flush()

    def print_shares(self, vault: setup.Initialised) -> None:
        lines = [
            "",
            "Recovery shares of this demo installation (fictional, like its data):",
            f"any {vault.threshold} of these {len(vault.shares)} rebuild its recovery key, which opens every case.",
            *(f"  {number}. {share}" for number, share in enumerate(vault.shares, 1)),
            "A real installation shows its shares once, when its vault is set up: each is written down and given to",
            "a different person, and none is kept on the computer.",
        ]
        self.stdout.write("\n".join(lines))

    def print_accounts(self, home: Path, accounts: list[Account], *, url: str) -> None:
        where = "PostgreSQL (DATABASE_URL)" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else home
        width = max(len(role) for _u, role, _p, _s in accounts)
        lines = [
            "",
            "Waystation demo: synthetic, clearly fictional data only. Never enter real data: the recovery shares",
            "above open all of it, and the next start of the demo deletes it.",
            f"Data: {where}",
            "",
            f"  {'username':<12} {'role':<{width}}  {'password':<23}  authenticator (TOTP) secret",
            f"  {'-' * 12} {'-' * width}  {'-' * 23}  {'-' * 32}",
            *(
                f"  {username:<12} {role:<{width}}  {password:<23}  {secret}"
                for username, role, password, secret in accounts
            ),
            "",
            f"Open {url} and sign in with one of these accounts. Every start begins again with new data and new",
            "passwords; the authenticator secrets stay. The second step asks for a 6-digit code: add the account's",
            "secret to an authenticator app (enter it as a time-based key), or compute one with",
            "`oathtool --totp -b SECRET`.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def _holds_data() -> bool:
    """Whether the database holds persons, users or a vault (read without migrating it)."""
    tables = set(connections[DEFAULT_DB_ALIAS].introspection.table_names())
    return any(model.objects.exists() for model in (Person, User, RecoveryKey) if model._meta.db_table in tables)


def _authenticator_keys() -> dict[str, str]:
    """The authenticator keys of the demo accounts in the last run's database (none if it cannot be read)."""
    usernames = [username for username, _role in DEMO_ACCOUNTS]
    try:
        rows = list(
            TOTPDevice.objects.filter(user__username__in=usernames, confirmed=True)
            .order_by("-id")
            .values_list("user__username", "key")
        )
    except DatabaseError:
        return {}
    return dict(rows)  # the oldest device of each account last, so it wins
