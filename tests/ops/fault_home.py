"""Makes an installation for ``test_faults``: ``python fault_home.py HOME PERSONS [bare]``. Migrates, sets the vault
up, makes the coordinator ``coord`` (password ``PASSWORD`` below; a cheap Argon2id for its key pair, as the test
personas have) and the station ALDER, registers PERSONS clearly fictional persons, and prints their case codes as
JSON. ``bare``: no station and no person (a station's laptop, which receives them from the hub). ``varied``: each
narrative different and hard to compress, as real ones are (a bundle refuses content that unpacks to more than 20
times its size, which 150 copies of one sentence would)."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

PASSWORD = "fictional-coordinator-pw-5"


def main() -> None:
    home, persons, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
    os.environ["WAYSTATION_HOME"] = str(home)
    os.environ["WAYSTATION_DEV_HTTP"] = "1"
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "waystation.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.cases.services import person_register
    from waystation.network.models import Country, StationKind
    from waystation.network.services import station_create
    from waystation.testing import vault as test_vault

    call_command("migrate", verbosity=0)
    with test_vault.persona_keys():
        user, _password = user_create(actor=None, username="coord", role=Role.COORDINATOR, password=PASSWORD)
    test_vault.persona_ready(user, PASSWORD)
    if mode == "bare":
        print(json.dumps({"case_codes": []}), flush=True)
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
                if mode == "varied"
                else "An invented story for a fault test. " * 150  # ~5 KB each: backups of some size
            ),
        ).case_code
        for i in range(persons)
    ]
    print(json.dumps({"case_codes": codes}), flush=True)


if __name__ == "__main__":
    main()
