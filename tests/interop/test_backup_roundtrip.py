"""Backup and restore: the round trip keeps every row, the file holds nothing readable, the chain verifies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from backup_helpers import CANARY, FAST, PASSPHRASE, dump_tables
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

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def _populate() -> Person:
    generate(persons=30, seed=11)
    person = Person.objects.order_by("pk").first()
    assert person is not None
    Person.objects.filter(pk=person.pk).update(narrative=f"[SYNTHETIC] {CANARY} told us", photo=PHOTO)
    user = User.objects.order_by("pk").first()
    assert user is not None
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd1234")
    group = Group.objects.create(name="fictional-group")
    group.permissions.add(Permission.objects.get(codename="view_person"))
    user.user_permissions.add(Permission.objects.get(codename="view_station"))
    user.groups.add(group)
    return person


@pytest.mark.django_db(transaction=True)
def test_round_trip_keeps_every_row_and_the_chain(tmp_path: Path) -> None:
    person = _populate()
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
    assert CANARY in restored.narrative
    assert bytes(restored.photo) == PHOTO
    assert User.objects.get(pk=User.objects.order_by("pk").first().pk).user_permissions.get().codename == "view_station"
    assert Group.objects.get().permissions.get().codename == "view_person"
    report = verify_log()
    assert report.ok, report.broken
    assert report.size == len(before["audit.auditevent"]) + 1

    # new rows take fresh keys after the restore (sequences follow the restored rows)
    generate(persons=2, seed=12, append=True)
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
