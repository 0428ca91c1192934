"""Run by ``test_canary_on_disk.py`` in a process of its own, as an installation runs: a new installation in
``$WAYSTATION_HOME`` (its SQLite file in WAL mode, as configured), the vault set up, a coordinator made by the
accounts service (production Argon2id) who signs in with password and code through the web forms, every sensitive
field filled with canaries through the services and through the forms, the case pages that reveal them fetched,
then ``backup``, ``dumpdata`` and an audit checkpoint written. Every log record at every level, every SQL statement
with its parameters included, goes to stderr, as a server's log would.

Usage: ``canary_writer.py TAG SEED_SERVICES SEED_FORMS OUT_DIR``; the pages and photos go to OUT_DIR (outside the
data folder), the case codes to stdout as JSON on the last line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

PASSWORD = "lantern-river-morning-42"
BACKUP_PASSPHRASE = "harbour-lantern-quiet-57"


def browser() -> Any:
    from django.test import Client

    class Browser(Client):
        """Posts forms with the CSRF token of the last page fetched, as a browser does."""

        token = ""

        def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
            response = super().get(path, *args, **kwargs)
            if response.headers.get("Content-Type", "").startswith("text/html"):
                found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
                self.token = found.group(1) if found else self.token
            return response

        def submit(self, path: str, data: dict[str, Any]) -> Any:
            return self.post(path, {**data, "csrfmiddlewaretoken": self.token})

    return Browser(enforce_csrf_checks=True)


def sign_in(client: Any, user: Any) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.get("/accounts/login/")
    response = client.submit("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    client.get(response["Location"])
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    assert client.submit("/accounts/two-factor/", {"token": code}).status_code == 302


def main() -> None:
    tag, seed_services, seed_forms, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    for name in ("", "django", "waystation"):  # every record, whatever level its logger was configured at
        logging.getLogger(name).setLevel(logging.DEBUG)
    connection.force_debug_cursor = True  # every statement logged (django.db.backends), with its parameters

    from vault_helpers import canary_values, fill_through_forms, fill_through_services

    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.cases.models import Partner
    from waystation.network.models import Country, StationKind
    from waystation.network.services import station_create
    from waystation.vault.setup import initialise

    coordinator, _password = user_create(actor=None, username="coord-ibis", role=Role.COORDINATOR, password=PASSWORD)
    initialise(actor=None, shares=3, threshold=2)
    client = browser()
    sign_in(client, coordinator)
    station = station_create(
        actor=coordinator, code_name="ALDER", country=Country.CHINA, region="Yunnan", kind=StationKind.SAFE_HOUSE
    )
    destination = station_create(
        actor=coordinator, code_name="CEDAR", country=Country.LAOS, region="Luang Namtha", kind=StationKind.TRANSIT
    )
    partner = Partner.objects.create(name="Harbour Legal Aid (fictional)", country=Country.THAILAND)
    places = {"station": station, "destination": destination, "partner": partner}
    person = fill_through_services(canary_values(f"{tag}svc", seed_services), actor=coordinator, **places)
    code = fill_through_forms(client, canary_values(f"{tag}web", seed_forms), assignee=coordinator, **places)

    with open(out / "pages.html", "w") as pages:
        for case in (person.case_code, code):
            pages.write(client.get(f"/cases/{case}/").content.decode())
            (out / f"photo-{case}.bin").write_bytes(client.get(f"/cases/{case}/photo/").content)

    home = Path(os.environ["WAYSTATION_HOME"])
    (out / "passphrase").write_text(BACKUP_PASSPHRASE + "\n")
    call_command("backup", out=str(home / "installation.wsb"), passphrase_file=str(out / "passphrase"))
    call_command("dumpdata", output=str(home / "dumpdata.json"))
    call_command("audit", "checkpoint", out=str(home / "checkpoint.txt"))
    for side in ("-wal", "-journal", "-shm"):  # the write-ahead log is folded back and deleted at exit: keep a copy
        live = home / f"waystation.sqlite3{side}"
        if live.exists():
            shutil.copyfile(live, home / f"snapshot{side}")
    print(json.dumps({"service_case": person.case_code, "form_case": code}))


if __name__ == "__main__":
    main()
