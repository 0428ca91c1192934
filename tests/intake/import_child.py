"""A process that imports a file into its own installation, for ``test_import_killed``: ``python import_child.py HOME
ROWS [--stall-after N]``. With ``--stall-after``, once N persons are written (inside the import's transaction) it
says ``writing`` on stdout and waits to be killed. Names are made up (see intake_helpers)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    home, rows = Path(sys.argv[1]), int(sys.argv[2])
    stall_after = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--stall-after" else None
    os.environ["WAYSTATION_HOME"] = str(home)
    os.environ["WAYSTATION_DEV_HTTP"] = "1"
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "waystation.settings"
    sys.path.insert(0, str(Path(__file__).parent))
    import django

    django.setup()
    from django.core.management import call_command
    from intake_helpers import many_rows

    from waystation.accounts.models import Role, User
    from waystation.accounts.services import user_create
    from waystation.intake.services import import_run, source_open
    from waystation.interop.columns import Mapping
    from waystation.network.models import Country, StationKind
    from waystation.network.services import station_create
    from waystation.testing import vault as test_vault
    from waystation.testing.spreadsheets import csv_bytes

    call_command("migrate", verbosity=0)
    user = User.objects.filter(username="coord").first()
    if user is None:
        with test_vault.persona_keys():
            user, _password = user_create(actor=None, username="coord", role=Role.COORDINATOR, password="pw-fictional")
        station_create(
            actor=user, code_name="ALDER", country=Country.CHINA, region="Yunnan", kind=StationKind.SAFE_HOUSE
        )
    test_vault.persona_ready(user, "pw-fictional")
    path = home / "register.csv"
    path.write_bytes(csv_bytes(many_rows(rows)))

    def progress(phase: str, done: int, total: int) -> None:
        if stall_after is not None and phase == "write" and done >= stall_after:
            print("writing", flush=True)
            time.sleep(120)  # killed here, inside the transaction

    source = source_open(path)
    report = import_run(actor=user, source=source, mapping=Mapping.auto(source.table.header), progress=progress)
    print(f"created {report.created}", flush=True)


if __name__ == "__main__":
    main()
