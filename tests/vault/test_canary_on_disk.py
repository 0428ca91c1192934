"""At rest nothing readable: a canary put into every sensitive field, through the services and through the web
forms, is found nowhere the server keeps or sends bytes — the database (its pages as SQLite writes them to the file,
free pages included), every SQL statement sent to it, the sessions, the cache, the logs, a backup (even opened with
its passphrase), an export, the data folder — while the case page, asked by an entitled user, shows every one of
them (so the search cannot pass by having nothing to find)."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from vault_helpers import canary_values, fill_through_forms, fill_through_services

from waystation.accounts.models import User
from waystation.cases.models import Partner
from waystation.interop.backup import unseal
from waystation.network.models import Station

BACKUP_PASSPHRASE = "harbour-lantern-quiet-57"


# --- what to look for -------------------------------------------------------------------------------------------


def _base64_cores(needle: bytes) -> list[bytes]:
    """Substrings that any base64 (or URL-safe base64) text holding ``needle`` contains, whatever its alignment."""
    cores = []
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\x00" * shift + needle)[skip:-4]
        cores += [encoded, encoded.replace(b"+", b"-").replace(b"/", b"_")]
    return [c for c in cores if len(c) >= 8]


def needles(text: str) -> dict[str, bytes]:
    """``text`` in every form a leak could take: UTF-8, UTF-16, hex (SQL renders blobs so), base64."""
    raw = text.encode()
    found = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    found |= {f"base64[{i}]": core for i, core in enumerate(_base64_cores(raw))}
    return found


def leaks(where: str, data: bytes | str, secrets_: list[str]) -> list[str]:
    blob = data.encode(errors="surrogateescape") if isinstance(data, str) else data
    return [f"{where}: {text!r} as {form}" for text in secrets_ for form, n in needles(text).items() if n in blob]


# --- where to look ------------------------------------------------------------------------------------------------


def database_bytes() -> dict[str, bytes]:
    """The database as SQLite keeps it: its file with the -wal and -journal beside it, or, for the in-memory test
    database, the same pages serialized (free pages included, so a value written and then overwritten counts)."""
    if connection.vendor != "sqlite":
        pytest.skip("the byte-level search reads SQLite's pages")
    name = str(connection.settings_dict["NAME"])
    connection.ensure_connection()
    if connection.is_in_memory_db():
        return {"database pages": connection.connection.serialize()}
    return {p: Path(p).read_bytes() for p in (name, f"{name}-wal", f"{name}-journal") if Path(p).exists()}


def session_contents() -> str:
    rows = [(s.session_key, s.session_data, s.get_decoded()) for s in Session.objects.all()]
    assert rows, "no session was stored: the search of the sessions would be empty"
    return json.dumps(rows, default=repr)


def cache_contents() -> bytes:
    found = b""
    for alias in settings.CACHES:
        store = getattr(caches[alias], "_cache", None)  # the in-process cache; others are searched through the DB
        if store is not None:
            found += pickle.dumps(dict(store))
    return found


def folder_files(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file()}


def exports(tmp_path: Path) -> dict[str, bytes]:
    """``waystation backup`` (the file, and its content opened with the passphrase), ``dumpdata`` and an audit
    checkpoint."""
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(BACKUP_PASSPHRASE + "\n")
    backup = tmp_path / "installation.wsb"
    call_command("backup", out=str(backup), passphrase_file=str(passphrase_file), stdout=io.StringIO())
    opened = unseal(backup.read_bytes(), BACKUP_PASSPHRASE)
    assert b'"cases.person"' in opened and b"w1:" in opened  # opened for real: its tables and their ciphertexts
    dumped, checkpoint = io.StringIO(), io.StringIO()
    call_command("dumpdata", stdout=dumped)
    call_command("audit", "checkpoint", stdout=checkpoint)
    return {
        "backup file": backup.read_bytes(),
        "backup opened with its passphrase": opened,
        "dumpdata": dumped.getvalue().encode(),
        "audit checkpoint": checkpoint.getvalue().encode(),
    }


# --- the test -----------------------------------------------------------------------------------------------------


def _page_shows(client: Any, code: str, values: dict[str, Any]) -> list[str]:
    page = client.get(f"/cases/{code}/").content.decode()
    missing = [label for label, value in values.items() if isinstance(value, str) and value not in page]
    photo = client.get(f"/cases/{code}/photo/").content
    if photo != values["cases.person.photo"]:
        missing.append("cases.person.photo")
    return missing


@pytest.mark.django_db(transaction=True)
def test_a_canary_in_every_sensitive_field_is_found_nowhere_at_rest(
    coordinator: User,
    station_a: Station,
    station_c: Station,
    partner: Partner,
    client_for: Any,
    caplog: Any,
    capfd: Any,
    tmp_path: Path,
) -> None:
    for name in (None, "django", "waystation"):  # every record at every level, more than a server would keep
        caplog.set_level(logging.DEBUG, logger=name)
    tag = f"CANARY{secrets.token_hex(8)}"
    by_service = canary_values(f"{tag}svc", seed=secrets.randbelow(10**6))
    by_form = canary_values(f"{tag}web", seed=secrets.randbelow(10**6))

    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as queries:
        person = fill_through_services(
            by_service, actor=coordinator, station=station_a, destination=station_c, partner=partner
        )
        code = fill_through_forms(
            client, by_form, station=station_a, destination=station_c, partner=partner, assignee=coordinator
        )
        # A form refused after validation (the exact date does not match the birth year) still held canaries.
        client.get("/cases/register/")
        refused = client.submit(
            "/cases/register/",
            {"station": station_a.code_name, "sex": "F", "birth_year": "1990", "origin_province": "unknown"}
            | {"name_romanized": f"{tag}refused", "narrative": f"{tag}refused", "date_of_birth": "1991-01-01"},
        )
        assert refused.status_code == 200 and f"{tag}refused" in refused.content.decode()  # shown back, not kept
        # The sanity check: the entitled user's page shows every value, so every value was really stored.
        assert _page_shows(client, person.case_code, by_service) == []
        assert _page_shows(client, code, by_form) == []

    wanted = [tag, by_service["cases.person.date_of_birth"], by_form["cases.person.date_of_birth"]]
    sql = "\n".join(f"{q['sql']}" for q in queries.captured_queries)
    logs = caplog.text + "\n".join(repr(vars(record)) for record in caplog.records)
    out, err = capfd.readouterr()
    home = Path(os.environ["WAYSTATION_HOME"])
    places: dict[str, bytes | str] = {
        **database_bytes(),
        "SQL sent to the database": sql,
        "sessions": session_contents(),
        "cache": cache_contents(),
        "logs": logs,
        "stdout": out,
        "stderr": err,
        **exports(tmp_path),
        **folder_files(home, tmp_path),
    }
    assert len(queries.captured_queries) > 100 and "w1:" in sql  # the statements were captured, with ciphertexts
    found = [leak for where, data in places.items() for leak in leaks(where, data, wanted)]
    assert not found, "\n".join(found)


def test_the_search_finds_a_canary_in_every_form_it_could_take() -> None:
    """The search itself: it would notice a value kept as text, UTF-16, hex or base64 at any alignment."""
    text = f"CANARY{secrets.token_hex(8)}"
    for prefix in (b"", b"x", b"xy", b"xyz"):
        assert leaks("base64", base64.b64encode(prefix + text.encode()), [text])
        assert leaks("urlsafe", base64.urlsafe_b64encode(prefix + text.encode()), [text])
    assert leaks("sql", f"X'{text.encode().hex().upper()}'", [text])
    assert leaks("utf-16", text.encode("utf-16"), [text])
    assert not leaks("clean", base64.b64encode(secrets.token_bytes(4096)), [text])


def test_in_a_real_installation_the_canary_is_found_nowhere_on_disk(tmp_path: Path) -> None:
    """The same in a process of its own on a real SQLite file (WAL mode), with the server's log on stderr."""
    home, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    tag, seeds = f"CANARY{secrets.token_hex(8)}", (secrets.randbelow(10**6), secrets.randbelow(10**6))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYSTATION_", "DATABASE_URL", "DJANGO_"))}
    env |= {"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1", "WAYSTATION_ALLOWED_HOSTS": "testserver"}
    writer = Path(__file__).with_name("canary_writer.py")
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(writer), tag, str(seeds[0]), str(seeds[1]), str(out)],
        env=env,
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-4000:]
    cases = json.loads(result.stdout.decode().strip().splitlines()[-1])

    # The sanity check: the pages the coordinator fetched show every value.
    pages = (out / "pages.html").read_text()
    for case, values in ((cases["service_case"], canary_values(f"{tag}svc", seeds[0])),
                         (cases["form_case"], canary_values(f"{tag}web", seeds[1]))):  # fmt: skip
        assert [label for label, v in values.items() if isinstance(v, str) and v not in pages] == []
        assert (out / f"photo-{case}.bin").read_bytes() == values["cases.person.photo"]

    files = folder_files(home)
    assert str(home / "waystation.sqlite3") in files and str(home / "snapshot-wal") in files
    assert b"w1:" in result.stderr and b"INSERT INTO" in result.stderr  # the log held every statement
    places: dict[str, bytes | str] = {
        **files,
        "server log (stderr)": result.stderr,
        "stdout": result.stdout,
        "backup opened with its passphrase": unseal((home / "installation.wsb").read_bytes(), BACKUP_PASSPHRASE),
    }
    dates = [
        canary_values(f"{tag}{kind}", seed)["cases.person.date_of_birth"]
        for kind, seed in zip(("svc", "web"), seeds, strict=True)
    ]
    found = [leak for where, data in places.items() for leak in leaks(where, data, [tag, *dates])]
    assert not found, "\n".join(found)
