"""Makes an installation for ``test_faults``: ``python fault_home.py HOME PERSONS``. Migrates, sets the vault up, makes
the coordinator ``coord`` (password ``PASSWORD`` below; a cheap Argon2id for its key pair, as the test personas
have) and the station ALDER, registers PERSONS clearly fictional persons, and prints their case codes as JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PASSWORD = "fictional-coordinator-pw-5"


def main() -> None:
    home, persons = Path(sys.argv[1]), int(sys.argv[2])
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
            narrative="An invented story for a fault test. " * 150,  # ~5 KB each: backups of some size
        ).case_code
        for i in range(persons)
    ]
    print(json.dumps({"case_codes": codes}), flush=True)


if __name__ == "__main__":
    main()
