"""Backup and restore: the round trip keeps every row, the file holds nothing readable, the chain verifies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import CANARY, FAST, PASSPHRASE, dump_tables, recovery_keyring
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.audit.verify import verify_log
from waystation.cases.models import Person
from waystation.interop.backup import create_backup, restore_backup
from waystation.synth import generate
from waystation.vault.fields import open_value
from waystation.vault.keyring import acting
from waystation.vault.setup import Initialised

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture(autouse=True)
def _own_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """This test's own $WAYSTATION_HOME: a restore applies the shred ledger kept there, and other tests shred."""
    settings.HOME = tmp_path_factory.mktemp("home")


def _populate() -> tuple[Person, Initialised]:
    vault = generate(persons=30, seed=11).vault  # sets the vault up: its shares, and its index key for appending
    assert vault is not None
    person = Person.objects.order_by("pk").first()
    assert person is not None
    with acting(None, recovery_keyring(vault.shares[: vault.threshold])):  # sealed as the app seals
        person.narrative = f"[SYNTHETIC] {CANARY} told us"
        person.photo = PHOTO
        person.save(update_fields=["narrative", "photo"])
    user = User.objects.order_by("pk").first()
    assert user is not None
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd1234")
    group = Group.objects.create(name="fictional-group")
    group.permissions.add(Permission.objects.get(codename="view_person"))
    user.user_permissions.add(Permission.objects.get(codename="view_station"))
    user.groups.add(group)
    return person, vault


@pytest.mark.django_db(transaction=True)
def test_round_trip_keeps_every_row_and_the_chain(tmp_path: Path) -> None:
    person, vault = _populate()
    before = dump_tables()
    assert len(before["cases.person"]) >= 30
    out = tmp_path / "installation.wsb"

    summary = create_backup(out, PASSPHRASE, kdf=FAST)

    data = out.read_bytes()
    assert summary.bytes == len(data)
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert CANARY.encode() not in data and CANARY.encode("utf-16-le") not in data
    assert PHOTO not in data
    backup_event = AuditEvent.objects.order_by("-seq").first()
    assert backup_event is not None and backup_event.action == "backup.create"
    assert backup_event.details == {"format": 1}
    before = dump_tables()  # with the backup.create event, which the backup holds

    call_command("flush", interactive=False, verbosity=0)  # an empty installation (content types made anew)
    assert not Person.objects.exists() and not AuditEvent.objects.exists()

    restore_backup(out, PASSPHRASE, kdf_floor=FAST)

    after = dump_tables()
    last = after["audit.auditevent"].pop()
    assert last["action"] == "backup.restore" and last["seq"] == len(before["audit.auditevent"]) + 1
    assert after == before
    restored = Person.objects.get(pk=person.pk)
    keyring = recovery_keyring(vault.shares[-vault.threshold :])  # the restored wraps open the restored ciphertexts
    assert open_value(keyring, restored, "narrative") == f"[SYNTHETIC] {CANARY} told us"
    assert open_value(keyring, restored, "photo") == PHOTO
    assert User.objects.get(pk=User.objects.order_by("pk").first().pk).user_permissions.get().codename == "view_station"
    assert Group.objects.get().permissions.get().codename == "view_person"
    report = verify_log()
    assert report.ok, report.broken
    assert report.size == len(before["audit.auditevent"]) + 1

    # new rows take fresh keys after the restore (sequences follow the restored rows)
    generate(persons=2, seed=12, append=True, index_key=vault.index_key)
    assert verify_log().ok


def _waystation(home: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "WAYSTATION_BACKUP_PASSPHRASE"}}
    env.update({"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1", **(env_extra or {})})
    env.pop("WAYSTATION_TEST_HOME", None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "waystation.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


SKIPPED_TABLES = {"django_session", "django_migrations", "django_content_type", "auth_permission", "sqlite_sequence"}


def _sqlite_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        names = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'axes_%'")
            if r[0] not in SKIPPED_TABLES
        ]
        return {name: db.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall() for name in names}  # noqa: S608


def test_command_line_round_trip_into_a_second_installation(tmp_path: Path) -> None:
    """The real commands, two data folders, production Argon2 parameters; every table compared byte for byte."""
    source, target = tmp_path / "source", tmp_path / "target"
    passfile = tmp_path / "passphrase"
    passfile.write_text(PASSPHRASE + "\n")
    out = tmp_path / "b.wsb"
    for home in (source, target):
        result = _waystation(home, "migrate", "-v0")
        assert result.returncode == 0, result.stderr
    assert _waystation(source, "synth", "--persons", "30", "--seed", "5").returncode == 0
    result = _waystation(source, "backup", "--out", str(out), "--json", "--passphrase-file", str(passfile))
    assert result.returncode == 0, result.stderr
    assert '"cases.person": 30' in result.stdout

    result = _waystation(target, "restore", str(out), "--passphrase-file", str(passfile))
    assert result.returncode == 0, result.stderr
    assert "Restored" in result.stdout
    result = _waystation(target, "audit", "verify")
    assert result.returncode == 0, result.stderr

    before, after = _sqlite_rows(source / "waystation.sqlite3"), _sqlite_rows(target / "waystation.sqlite3")
    restore_event = after["audit_auditevent"].pop()
    assert "backup.restore" in restore_event
    assert after == before

    result = _waystation(target, "restore", str(out), "--passphrase-file", str(passfile))
    assert result.returncode != 0
    assert "not empty" in result.stderr

    _then_a_shred_survives_restoring_that_backup(tmp_path, source, out, passfile)


SENSITIVE_PERSON_COLUMNS = ("name_hangul", "name_romanized", "name_chinese", "aliases", "contacts", "narrative")


def _case_state(home: Path, person_hex: str) -> dict[str, object]:
    """What the database file of ``home`` holds of one case: its key wraps, name digests, shred record, and how
    many of its sensitive columns still hold a ciphertext; and the key wraps of all cases."""
    with sqlite3.connect(home / "waystation.sqlite3") as db:

        def count(table: str) -> int:
            return db.execute(f'SELECT COUNT(*) FROM "{table}" WHERE person_id = ?', [person_hex]).fetchone()[0]  # noqa: S608

        filled = db.execute(
            f"SELECT {', '.join(SENSITIVE_PERSON_COLUMNS)}, photo FROM cases_person WHERE id = ?",  # noqa: S608
            [person_hex],
        ).fetchone()
        return {
            "wraps": count("vault_casekeywrap"),
            "digests": count("vault_nameindex"),
            "shredded": count("vault_shredrecord"),
            "sealed_values": sum(1 for value in filled if value),
            "all_wraps": db.execute("SELECT COUNT(*) FROM vault_casekeywrap").fetchone()[0],
        }


def _then_a_shred_survives_restoring_that_backup(tmp_path: Path, source: Path, out: Path, passfile: Path) -> None:
    """`vault shred` after the backup; that backup restored into the emptied installation (its ledger file in the
    same home) and into a new one given the ledger (`restore --shred-ledger`): the case stays unreadable."""
    fresh = tmp_path / "fresh"
    assert _waystation(fresh, "migrate", "-v0").returncode == 0
    with sqlite3.connect(source / "waystation.sqlite3") as db:
        person_hex, code = db.execute("SELECT id, case_code FROM cases_person ORDER BY case_code LIMIT 1").fetchone()
    held = _case_state(source, person_hex)
    assert held["wraps"] and held["digests"] and held["sealed_values"]

    result = _waystation(source, "vault", "shred", code, "--yes")

    assert result.returncode == 0, result.stderr
    assert f"Case {code} shredded" in result.stdout
    shredded = _case_state(source, person_hex)
    assert (shredded["wraps"], shredded["digests"], shredded["shredded"], shredded["sealed_values"]) == (0, 0, 1, 0)
    ledger = tmp_path / "ledger-copy"
    ledger.write_bytes((source / "shred-ledger").read_bytes())

    for database in source.glob("waystation.sqlite3*"):  # the same installation, emptied: its ledger file stays
        database.unlink()
    assert _waystation(source, "migrate", "-v0").returncode == 0
    for home, extra in ((source, []), (fresh, ["--shred-ledger", str(ledger)])):
        result = _waystation(home, "restore", str(out), "--passphrase-file", str(passfile), *extra)
        assert result.returncode == 0, result.stderr
        assert "1 shredded cases of the backup stay shredded" in result.stdout
        assert _case_state(home, person_hex) == shredded
        result = _waystation(home, "audit", "verify")
        assert result.returncode == 0, result.stderr
    assert (fresh / "shred-ledger").read_text() == ledger.read_text()
