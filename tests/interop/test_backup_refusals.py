"""A wrong passphrase, a damaged, truncated or foreign file, a non-empty target, a failed write: each refused with a
clear message, and nothing changed."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import FAST, PASSPHRASE, dump_tables
from django.core.management import call_command
from django.core.management.base import CommandError

from waystation.audit.services import audit_record
from waystation.interop import backup
from waystation.interop.backup import HEADER_SIZE, BackupError, create_backup, restore_backup
from waystation.network.models import Country, Station, StationKind
from waystation.testing.db import row_counts


@pytest.fixture(autouse=True)
def _own_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """This test's own $WAYSTATION_HOME: a restore applies the shred ledger kept there, and other tests shred."""
    settings.HOME = tmp_path_factory.mktemp("home")


@pytest.fixture
def small_backup(db: None, tmp_path: Path) -> Path:
    """A backup of a station and an audit event; the test database is emptied again before the test goes on."""
    from django.db import transaction

    out = tmp_path / "small.wsb"
    sid = transaction.savepoint()
    Station.objects.create(code_name="ELM", country=Country.CHINA, region="Jilin", kind=StationKind.SAFE_HOUSE)
    audit_record(actor=None, action="test.event")
    create_backup(out, PASSPHRASE, kdf=FAST)
    transaction.savepoint_rollback(sid)
    assert not any(row_counts().values())
    return out


def _refused(path: Path, message: str, passphrase: str = PASSPHRASE) -> None:
    before = dump_tables()
    with pytest.raises(BackupError, match=message):
        restore_backup(path, passphrase, kdf_floor=FAST)
    assert dump_tables() == before
    assert not any(row_counts().values())


def test_the_small_backup_restores(small_backup: Path) -> None:
    restore_backup(small_backup, PASSPHRASE, kdf_floor=FAST)
    assert Station.objects.get().code_name == "ELM"


def test_wrong_passphrase_refused(small_backup: Path) -> None:
    _refused(small_backup, "passphrase is wrong", passphrase="not-the-right-one-at-all")


@pytest.mark.parametrize("where", ["magic", "version", "kdf", "salt", "nonce", "length", "body", "tag"])
def test_a_flipped_byte_anywhere_is_refused(small_backup: Path, tmp_path: Path, where: str) -> None:
    data = bytearray(small_backup.read_bytes())
    offset = {
        "magic": 3,
        "version": 17,
        "kdf": 26,  # the memory cost's last byte: a changed parameter derives another key
        "salt": 33,
        "nonce": 50,
        "length": HEADER_SIZE - 1,
        "body": HEADER_SIZE + 5,
        "tag": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    damaged = tmp_path / "damaged.wsb"
    damaged.write_bytes(bytes(data))
    message = {
        "magic": "not a Waystation backup",
        "version": "format version",
        "length": "truncated|damaged",
    }.get(where, "passphrase is wrong, or the file was altered or damaged")
    _refused(damaged, message)


@pytest.mark.parametrize("keep", [1, 10, 17, 30, HEADER_SIZE, HEADER_SIZE + 16, -1, -16, -100])
def test_truncated_file_refused(small_backup: Path, tmp_path: Path, keep: int) -> None:
    data = small_backup.read_bytes()
    cut = tmp_path / "cut.wsb"
    cut.write_bytes(data[:keep])
    _refused(cut, "truncated")


def test_empty_file_refused(small_backup: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wsb"
    empty.write_bytes(b"")
    _refused(empty, "empty")


def test_foreign_file_refused(small_backup: Path, tmp_path: Path) -> None:
    other = tmp_path / "photo.png"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    _refused(other, "not a Waystation backup")
    _refused(tmp_path / "missing.wsb", "no file")


def test_weak_parameters_refused_by_the_command_line(small_backup: Path, tmp_path: Path) -> None:
    """The production floor applies to the command; only tests lower it, through the function's argument."""
    passfile = tmp_path / "pass"
    passfile.write_text(PASSPHRASE)
    with pytest.raises(CommandError, match="parameters out of range"):
        call_command("restore", str(small_backup), passphrase_file=str(passfile))
    assert not any(row_counts().values())


def test_restore_into_a_non_empty_installation_refused(small_backup: Path) -> None:
    Station.objects.create(code_name="OAK", country=Country.LAOS, region="Bokeo", kind=StationKind.TRANSIT)
    before = dump_tables()
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(small_backup, PASSPHRASE, kdf_floor=FAST)
    assert dump_tables() == before


def test_a_failure_in_the_load_leaves_nothing(small_backup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows already inserted (the audit event and the station) go when a later step fails: one transaction."""
    real = backup._insert_rows
    inserted: list[str] = []

    def insert_then_fail(model: Any, objs: list[Any]) -> None:
        real(model, objs)
        inserted.extend(model._meta.label_lower for _obj in objs)
        if model is Station:
            raise backup.DatabaseError("disk I/O error (simulated)")

    monkeypatch.setattr(backup, "_insert_rows", insert_then_fail)
    _refused(small_backup, "undone, nothing was written")
    assert {"audit.auditevent", "network.station"} <= set(inserted)


@pytest.mark.django_db
def test_failed_backup_keeps_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "nightly.wsb"
    create_backup(out, PASSPHRASE, kdf=FAST)
    previous = out.read_bytes()

    def fail(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("simulated crash while encrypting")

    monkeypatch.setattr(backup, "seal", fail)
    with pytest.raises(RuntimeError):
        create_backup(out, PASSPHRASE, kdf=FAST)
    assert out.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.wsb"]

    def disk_full(*args: object, **kwargs: object) -> bytes:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(backup, "seal", disk_full)
    with pytest.raises(BackupError, match="No space left on device. Nothing was replaced"):
        create_backup(out, PASSPHRASE, kdf=FAST)
    assert out.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.wsb"]


@pytest.mark.django_db
def test_passphrases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "b.wsb"
    short = tmp_path / "short"
    short.write_text("eleven-char\n")
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("backup", out=str(out), passphrase_file=str(short))
    monkeypatch.setenv("WAYSTATION_BACKUP_PASSPHRASE", "from-the-environment")  # never read from there
    with pytest.raises(CommandError, match="No passphrase"):
        call_command("backup", out=str(out))
    assert not out.exists()
    with pytest.raises(BackupError, match="differ"):
        answers = iter(["first-passphrase-long", "second-passphrase-long"])
        monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
        backup.passphrase_from(None, confirm=True, interactive=True)


def _resealed(tmp_path: Path, change: Any) -> Path:
    import json

    raw, _counts = backup.snapshot_payload()
    payload = json.loads(raw)
    change(payload)
    path = tmp_path / "other-version.wsb"
    path.write_bytes(backup.seal(json.dumps(payload).encode(), PASSPHRASE, kdf=FAST))
    return path


@pytest.mark.django_db
def test_a_backup_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = _resealed(tmp_path, lambda p: p["schema"]["cases"].append("0099_from_the_future"))
    _refused(path, "different database schema \\(apps cases\\)")


@pytest.mark.django_db
def test_a_backup_with_an_unknown_table_is_refused(tmp_path: Path) -> None:
    path = _resealed(tmp_path, lambda p: p["tables"].append({"model": "sessions.session", "rows": []}))
    _refused(path, "table this Waystation does not back up")
