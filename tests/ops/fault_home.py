"""Makes an installation for ``test_faults`` and ``test_pg_restart``: ``python fault_home.py HOME PERSONS [MODE]
[--database-url URL] [--coordinators N]``. Migrates, sets the vault up, makes the coordinator ``coord`` (password
``PASSWORD`` below; a cheap Argon2id for its key pair, as the test personas have; an authenticator) and the station
ALDER, registers PERSONS clearly fictional persons, and prints their case codes as JSON, with each coordinator's
authenticator key. SQLite in HOME unless ``--database-url`` names another database; ``--coordinators N`` makes
``coord2``.. ``coordN`` too (same password), for clients that sign in at once (a code is single use per account).
MODE ``bare``: no station and no person (a station's laptop, which receives them from the hub); ``varied``: each
narrative different and hard to compress, as real ones are (a bundle refuses content that unpacks to more than 20
times its size, which 150 copies of one sentence would)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

PASSWORD = "fictional-coordinator-pw-5"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("persons", type=int)
    parser.add_argument("mode", nargs="?", default="", choices=["", "bare", "varied"])
    parser.add_argument("--database-url")
    parser.add_argument("--coordinators", type=int, default=1)
    args = parser.parse_args()
    os.environ["WAYSTATION_HOME"] = str(args.home)
    os.environ["WAYSTATION_DEV_HTTP"] = "1"
    os.environ.pop("DATABASE_URL", None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "waystation.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from waystation.accounts.models import Role, User
    from waystation.accounts.services import user_create
    from waystation.cases.services import person_register
    from waystation.network.models import Country, StationKind
    from waystation.network.services import station_create
    from waystation.testing import vault as test_vault

    call_command("migrate", verbosity=0)
    authenticators = {}
    for n in range(1, args.coordinators + 1):
        username = "coord" if n == 1 else f"coord{n}"
        with test_vault.persona_keys():
            made, _password = user_create(actor=None, username=username, role=Role.COORDINATOR, password=PASSWORD)
        test_vault.persona_ready(made, PASSWORD)
        authenticators[username] = TOTPDevice.objects.create(user=made, name="authenticator", confirmed=True).key
    user = User.objects.get(username="coord")
    if args.mode == "bare":
        print(json.dumps({"case_codes": [], "authenticators": authenticators}), flush=True)
        return
    station = station_create(
        actor=user, code_name="ALDER", country=Country.CHINA, region="Yunnan", kind=StationKind.SAFE_HOUSE
    )
    codes = [
        person_register(
            actor=user,
            station=station,
            sex="F",
            birth_year=1990,
            name_hangul=f"가상{i}",
            name_romanized=f"Gasang {i} (fictional)",
            narrative=(
                f"An invented story for a fault test, number {i}: " + secrets.token_hex(2400)
                if args.mode == "varied"
                else "An invented story for a fault test. " * 150  # ~5 KB each: backups of some size
            ),
        ).case_code
        for i in range(args.persons)
    ]
    print(json.dumps({"case_codes": codes, "authenticators": authenticators}), flush=True)


if __name__ == "__main__":
    main()
