"""Backups and the vault: a backup carries every ciphertext and key wrap exactly (a restore reads as before, for the
same users), and it does not undo a shred: restoring a backup taken before a shred, into the same installation or
a new one given the shred ledger, leaves the case without keys and its sensitive columns blank; the audit chain
still verifies."""

from __future__ import annotations

import base64
import json
import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import CANARY, FAST, PASSPHRASE
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.audit.verify import verify_log
from waystation.cases.models import Person
from waystation.interop import backup
from waystation.interop.backup import BackupError, create_backup, restore_backup
from waystation.testing import vault as test_vault
from waystation.testing.db import row_counts
from waystation.vault.agent import AGENT
from waystation.vault.fields import Sealed, is_sensitive
from waystation.vault.keyring import acting
from waystation.vault.models import CaseKeyWrap, NameIndex, ShredRecord
from waystation.vault.reveal import reveal, sensitive_fields
from waystation.vault.shred import LEDGER_NAME, read_ledger

LOCKED = "(locked)"
PASSWORD = "lantern-river-morning-42"  # the personas' (tests/conftest.py)


@pytest.fixture(autouse=True)
def _own_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$WAYSTATION_HOME, where the shred ledger lives: this test's own."""
    settings.HOME = tmp_path_factory.mktemp("home")
    return settings.HOME


@pytest.fixture
def passphrase_file(tmp_path: Path) -> str:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return str(path)


def readable(user: User) -> dict[tuple[str, str], object]:
    """Every sensitive value of every record, as ``user`` gets it through the gate (LOCKED where the key is not
    at hand)."""
    found: dict[tuple[str, str], object] = {}
    for label, fields in sensitive_fields().items():
        for obj in apps.get_model(label)._base_manager.order_by("pk"):
            values = reveal(user=user, items=[(obj, fields)], purpose="test", case_id=obj.vault_case_id)[0]
            found[(label, str(obj.pk))] = LOCKED if getattr(values, "locked", False) else dict(values)
    return found


def rows_of_case(person_id: Any) -> list[Any]:
    rows: list[Any] = []
    for model in apps.get_models():
        if not any(is_sensitive(f) for f in model._meta.concrete_fields):
            continue
        if model is Person:
            rows += list(Person.objects.filter(pk=person_id))
        elif any(f.name == "person" for f in model._meta.concrete_fields):
            rows += list(model._base_manager.filter(person_id=person_id))
    return rows


def assert_shredded(person_id: Any) -> None:
    """No key to the case anywhere, no name digest, every sensitive column blank; its coded rows are still there."""
    assert not CaseKeyWrap.objects.filter(person_id=person_id).exists()
    assert not NameIndex.objects.filter(person_id=person_id).exists()
    assert ShredRecord.objects.filter(person_id=person_id).exists()
    rows = rows_of_case(person_id)
    assert len(rows) >= 5  # the person, the goal, the referral, the task, the movement...
    for row in rows:
        for field in row._meta.concrete_fields:
            if is_sensitive(field):
                assert getattr(row, field.attname) in ("", None), f"{row._meta.label}.{field.name} still holds data"


def backed_up_wraps(path: Path, person_id: Any) -> list[dict[str, Any]]:
    """The key wraps of a case in a backup file (the file decrypted with its passphrase, as a restore does)."""
    payload = json.loads(backup.unseal(path.read_bytes(), PASSPHRASE, kdf_floor=FAST))
    table = next(t for t in payload["tables"] if t["model"] == "vault.casekeywrap")
    return [row for row in table["rows"] if row["fields"]["person"] == str(person_id)]


def sign_in_again(*users: User) -> None:
    """Forget every key in memory and open each key pair again from the (restored) database, as a sign-in does."""
    AGENT.drop_all()
    for user in users:
        test_vault.unlock(user, PASSWORD)


def empty_installation() -> None:
    call_command("flush", interactive=False, verbosity=0)
    assert not any(row_counts().values())


def restore(path: Path, passphrase_file: str, *ledgers: str) -> str:
    out = StringIO()
    call_command("restore", str(path), passphrase_file=passphrase_file, shred_ledger=list(ledgers), stdout=out)
    return out.getvalue()


def audit_verifies() -> None:
    out = StringIO()
    call_command("audit", "verify", stdout=out)  # exits with status 1 when the chain is broken
    assert "Audit log intact" in out.getvalue()


# --- the round trip --------------------------------------------------------------------------------------------------


def test_key_tables_are_backed_up() -> None:
    labels = {m._meta.label_lower for m in backup.backed_up_models()}
    assert {
        "vault.userkey",
        "vault.casekeywrap",
        "vault.indexkeywrap",
        "vault.recoverykey",
        "vault.shredrecord",
        "vault.nameindex",
        "vault.pendinggrant",
    } <= labels


@pytest.mark.django_db(transaction=True)
def test_round_trip_keeps_every_sensitive_value_readable_by_the_same_users(world: Any, tmp_path: Path) -> None:
    coordinator, caseworker, keeper = world.coordinator, world.caseworker, world.keeper_a
    person = Person.objects.get(pk=world.person_at_a.pk)
    with acting(coordinator):
        person.narrative = f"[SYNTHETIC] {CANARY} told us"
        person.save(update_fields=["narrative"])
    person.refresh_from_db()
    assert isinstance(person.narrative, Sealed)
    token = "w1:" + base64.b64encode(person.narrative.blob).decode()
    before = {user: readable(user) for user in (coordinator, caseworker, keeper)}
    assert before[coordinator][("cases.person", str(person.pk))]["narrative"] == f"[SYNTHETIC] {CANARY} told us"
    assert before[coordinator][("cases.person", str(person.pk))]["photo"] == world.photo
    assert before[caseworker][("cases.person", str(world.person_at_b.pk))] == LOCKED
    out = tmp_path / "b.wsb"
    create_backup(out, PASSPHRASE, kdf=FAST)
    data = out.read_bytes()
    assert CANARY.encode() not in data and world.photo not in data
    payload = json.loads(backup.unseal(data, PASSPHRASE, kdf_floor=FAST))
    people = next(t for t in payload["tables"] if t["model"] == "cases.person")["rows"]
    assert next(r for r in people if r["pk"] == str(person.pk))["fields"]["narrative"] == token  # exactly as stored

    empty_installation()
    restore_backup(out, PASSPHRASE, kdf_floor=FAST)

    assert AuditEvent.objects.order_by("-seq").values_list("action", flat=True).first() == "backup.restore"
    sign_in_again(coordinator, caseworker, keeper)
    after = {user: readable(user) for user in (coordinator, caseworker, keeper)}
    assert after == before
    assert verify_log().ok


# --- shredding holds for older backups -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_of_an_older_backup_into_the_same_installation_keeps_the_shred(
    world: Any, tmp_path: Path, passphrase_file: str
) -> None:
    coordinator, shredded = world.coordinator, world.person_at_a
    before = readable(coordinator)
    out = tmp_path / "before-the-shred.wsb"
    create_backup(out, PASSPHRASE)
    call_command("vault", "shred", shredded.case_code, "--yes", stdout=StringIO())
    assert_shredded(shredded.pk)
    assert len(backed_up_wraps(out, shredded.pk)) >= 4  # the backup still holds the case's keys

    empty_installation()  # the same $WAYSTATION_HOME: its shred ledger file stays
    output = restore(out, passphrase_file)

    assert "1 shredded cases of the backup stay shredded" in output
    actions = list(AuditEvent.objects.order_by("-seq").values_list("action", flat=True)[:2])
    assert actions == ["vault.shred_ledger_applied", "backup.restore"]
    assert_shredded(shredded.pk)
    sign_in_again(coordinator, world.caseworker)
    after = readable(coordinator)
    assert before[("cases.person", str(shredded.pk))]["name_hangul"] == "가상 하나"
    for key, values in before.items():
        row = apps.get_model(key[0])._base_manager.get(pk=key[1])
        if row.vault_case_id == shredded.pk:
            assert after[key] == LOCKED or not any(after[key].values())  # type: ignore[attr-defined]
        else:
            assert after[key] == values
    audit_verifies()


@pytest.mark.django_db(transaction=True)
def test_restore_into_a_new_installation_applies_the_ledger_given(
    world: Any, tmp_path: Path, passphrase_file: str, settings: Any
) -> None:
    coordinator, shredded = world.coordinator, world.person_at_a
    out = tmp_path / "before-the-shred.wsb"
    create_backup(out, PASSPHRASE)
    call_command("vault", "shred", shredded.case_code, "--yes", stdout=StringIO())
    ledger_copy = tmp_path / "ledger-from-the-old-laptop"
    shutil.copy(Path(settings.HOME) / LEDGER_NAME, ledger_copy)
    assert backed_up_wraps(out, shredded.pk)

    empty_installation()
    settings.HOME = tmp_path / "new-home"  # a new installation: no ledger file of its own
    settings.HOME.mkdir()
    damaged = tmp_path / "damaged-ledger"
    damaged.write_text(ledger_copy.read_text() + "not-a-case-id 2024-01-01T00:00:00+00:00\n")
    for bad, message in ((damaged, "damaged at line 2"), (tmp_path / "missing", "There is no shred ledger")):
        with pytest.raises(CommandError, match=message):
            restore(out, passphrase_file, str(bad))
        assert not any(row_counts().values())

    output = restore(out, passphrase_file, str(ledger_copy))

    assert "1 shredded cases of the backup stay shredded" in output
    assert_shredded(shredded.pk)
    assert set(read_ledger()) == {shredded.pk}  # the new installation's own ledger now holds it
    sign_in_again(coordinator)
    person_row = readable(coordinator)[("cases.person", str(shredded.pk))]
    assert person_row == LOCKED or not any(person_row.values())  # type: ignore[attr-defined]
    assert readable(coordinator)[("cases.person", str(world.person_at_b.pk))]["name_hangul"] == "가상 둘"
    audit_verifies()


@pytest.mark.django_db
def test_a_damaged_ledger_in_the_installation_refuses_the_restore(tmp_path: Path, settings: Any) -> None:
    from django.db import transaction

    out = tmp_path / "b.wsb"
    sid = transaction.savepoint()
    create_backup(out, PASSPHRASE, kdf=FAST)
    transaction.savepoint_rollback(sid)  # the installation is empty again
    (Path(settings.HOME) / LEDGER_NAME).write_bytes(b"\x89PNG not a ledger")
    with pytest.raises(BackupError, match="not a shred ledger"):
        restore_backup(out, PASSPHRASE, kdf_floor=FAST)
    assert not any(row_counts().values())


@pytest.mark.django_db(transaction=True)  # flush after deleting key rows: PostgreSQL wants no open transaction
def test_a_backup_older_than_the_kill_switch_does_not_bring_the_keys_back(
    world: Any, tmp_path: Path, passphrase_file: str
) -> None:
    coordinator = world.coordinator
    out = tmp_path / "before-the-kill.wsb"
    create_backup(out, PASSPHRASE)
    call_command("vault", "kill", "--yes", stdout=StringIO())

    empty_installation()  # the same $WAYSTATION_HOME: its kill ledger stays
    restore(out, passphrase_file)

    assert not CaseKeyWrap.objects.filter(holder__isnull=False).exists()  # the users' keys were not brought back
    assert CaseKeyWrap.objects.filter(holder__isnull=True).count() == Person.objects.count()  # recovery stays
    assert AuditEvent.objects.order_by("-seq").values_list("action", flat=True).first() == "vault.kill_switch_reapplied"
    sign_in_again(coordinator)
    assert readable(coordinator)[("cases.person", str(world.person_at_a.pk))] == LOCKED
    audit_verifies()


@pytest.mark.django_db(transaction=True)  # flush after deleting key rows: PostgreSQL wants no open transaction
def test_a_backup_taken_after_the_kill_and_the_recovery_keeps_the_recovered_keys(
    world: Any, tmp_path: Path, passphrase_file: str
) -> None:
    call_command("vault", "kill", "--yes", stdout=StringIO())
    shares = tmp_path / "shares"
    shares.write_text("\n".join(test_vault.recovery_shares()[: test_vault.THRESHOLD]) + "\n")
    call_command("vault", "recover", "--shares-file", str(shares), stdout=StringIO())
    out = tmp_path / "after-the-recovery.wsb"
    create_backup(out, PASSPHRASE)

    empty_installation()
    restore(out, passphrase_file)

    assert CaseKeyWrap.objects.filter(holder=world.coordinator).count() == Person.objects.count()
    sign_in_again(world.coordinator)
    assert readable(world.coordinator)[("cases.person", str(world.person_at_a.pk))] != LOCKED
