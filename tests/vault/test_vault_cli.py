"""``waystation vault``: the recovery shares (any K rebuild the key, K-1 or another installation's do not), the kill
switch and the way back, and shredding one case for good. Every refusal is one clear line and changes nothing."""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import shamir_mnemonic
from django.core.management import call_command
from django.core.management.base import CommandError

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.audit.verify import verify_log
from waystation.cases.models import Person
from waystation.testing import vault as test_vault
from waystation.vault import blind, crypto, setup
from waystation.vault.agent import AGENT
from waystation.vault.fields import Sealed, _associated_data, is_sensitive
from waystation.vault.keyring import keyring_for
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, NameIndex, RecoveryKey, ShredRecord
from waystation.vault.reveal import reveal
from waystation.vault.shred import read_ledger

NAME_A = "가상 하나"  # person_at_a's name (tests/conftest.py)
NAME_B = "가상 둘"  # person_at_b's
SENSITIVE = ["name_hangul", "name_romanized", "narrative", "photo"]


@pytest.fixture(autouse=True)
def _own_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shred ledger lives in $WAYSTATION_HOME: each test has its own, as each has its own database."""
    settings.HOME = tmp_path_factory.mktemp("home")
    return settings.HOME


def vault(*args: str) -> str:
    out = StringIO()
    call_command("vault", *args, stdout=out)
    return out.getvalue()


def key_state() -> tuple[object, ...]:
    """Everything a vault command could change: key wraps, the recovery key, shreds, the ledger file."""
    return (
        sorted(
            (str(p), h or 0, bytes(s))
            for p, h, s in CaseKeyWrap.objects.values_list("person_id", "holder_id", "sealed")
        ),
        sorted((h or 0, bytes(s)) for h, s in IndexKeyWrap.objects.values_list("holder_id", "sealed")),
        [bytes(k) for k in RecoveryKey.objects.values_list("public_key", flat=True)],
        list(ShredRecord.objects.values_list("person_id", flat=True)),
        read_ledger(),
        list(Person.objects.order_by("pk").values_list("name_hangul", flat=True)),
    )


def refused(message: str, *args: str) -> None:
    """The command fails with ``message``, and nothing changed (a refused recovery is audited, nothing else)."""
    before, events = key_state(), list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    with pytest.raises(CommandError, match=message):
        vault(*args)
    assert key_state() == before
    added = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))[len(events) :]
    assert added in ([], ["vault.recover_refused"])


def printed_shares(output: str) -> list[str]:
    lines = output.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if re.fullmatch(r"Share \d+ of \d+", line)]


def shares_file(tmp_path: Path, shares: list[str] | tuple[str, ...]) -> str:
    path = tmp_path / f"shares-{uuid.uuid4().hex[:8]}.txt"
    path.write_text("\n".join(shares) + "\n")
    return str(path)


def wraps_of(person: Person) -> list[tuple[int | None, bytes]]:
    return sorted(
        ((h, bytes(s)) for h, s in CaseKeyWrap.objects.filter(person=person).values_list("holder_id", "sealed")),
        key=lambda w: (w[0] is None, w[0] or 0),
    )


LOCKED = "(locked)"


def read_name(user: User, person: Person) -> object:
    """What ``user`` gets of the person's name through the one gate: the name, or LOCKED when the gate says the key
    is not at hand (it raises ``Locked``, or gives values marked ``locked``)."""
    person.refresh_from_db()
    try:
        values = reveal(user=user, items=[(person, ["name_hangul"])], purpose="test", case_id=person.id)[0]
    except crypto.Locked:
        return LOCKED
    return LOCKED if getattr(values, "locked", False) else values["name_hangul"]


# --- init and recover ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_init_prints_k_of_n_shares_any_k_recover_and_no_fewer(tmp_path: Path) -> None:
    output = vault("init", "--shares", "5", "--threshold", "3")

    shares = printed_shares(output)
    assert len(shares) == 5 and len(set(shares)) == 5
    assert all(len(s.split()) == 33 for s in shares)  # SLIP-39 words of a 32-byte key
    assert "any 3 of them rebuild it" in output
    assert "different trusted person OUTSIDE the country" in output
    assert "Never store a share on this machine" in output
    assert [f"Share {n} of 5" for n in range(1, 6)] == re.findall(r"Share \d of 5", output)
    key = RecoveryKey.objects.get()
    assert (key.threshold, key.shares) == (3, 5)
    assert AuditEvent.objects.filter(action="vault.init").count() == 1
    assert not any(s in str(list(AuditEvent.objects.values_list("details", flat=True))) for s in shares)

    for three in itertools.combinations(shares, 3):
        output = vault("recover", "--shares-file", shares_file(tmp_path, three))
        assert "Access restored" in output
    assert AuditEvent.objects.filter(action="vault.recover").count() == 10

    for two in itertools.combinations(shares, 2):
        with pytest.raises(crypto.VaultError):  # the cryptography refuses, not only the command's count
            setup.combine(two)
        refused(
            "Only 2 different shares given; this vault needs 3", "recover", "--shares-file", shares_file(tmp_path, two)
        )
    refused(
        "Only 2 different shares given", "recover", "--shares-file", shares_file(tmp_path, [*shares[:2], shares[0]])
    )
    assert AuditEvent.objects.filter(action="vault.recover").count() == 10
    assert AuditEvent.objects.filter(action="vault.recover_refused").count() == 11


@pytest.mark.django_db
def test_shares_of_another_installation_and_damaged_shares_are_refused(tmp_path: Path) -> None:
    shares = printed_shares(vault("init"))
    other = shamir_mnemonic.generate_mnemonics(1, [(3, 5)], os.urandom(32))[0]  # another installation, also 3 of 5

    refused("another installation", "recover", "--shares-file", shares_file(tmp_path, other[1:4]))
    refused("another installation", "recover", "--shares-file", shares_file(tmp_path, test_vault.recovery_shares()))
    refused("do not belong together", "recover", "--shares-file", shares_file(tmp_path, [*shares[:2], other[0]]))
    words = shares[1].split()
    misspelt = " ".join([*words[:7], words[7][:-1] + "q", *words[8:]])
    refused(
        "Share 2 is not a valid recovery share",
        "recover",
        "--shares-file",
        shares_file(tmp_path, [shares[0], misspelt, shares[2]]),
    )
    refused(
        "Share 3 is not a valid", "recover", "--shares-file", shares_file(tmp_path, [*shares[:2], " ".join(words[:-1])])
    )
    refused("Cannot read the shares file", "recover", "--shares-file", str(tmp_path / "missing.txt"))
    refused("No shares: give --shares-file", "recover")  # not on a terminal, nothing to read
    assert not AuditEvent.objects.filter(action="vault.recover").exists()
    error = pytest.raises(CommandError, vault, "recover", "--shares-file", shares_file(tmp_path, [shares[0], misspelt]))
    assert words[7] not in str(error.value) and misspelt.split()[7] not in str(error.value)  # never echoes words


@pytest.mark.django_db
def test_init_twice_is_refused_and_keeps_the_first_key(tmp_path: Path) -> None:
    shares = printed_shares(vault("init", "--shares", "3", "--threshold", "2"))
    first = bytes(RecoveryKey.objects.get().public_key)

    refused("already set up", "init")
    refused("already set up", "init", "--shares", "4", "--threshold", "2")

    assert bytes(RecoveryKey.objects.get().public_key) == first
    assert "Access restored" in vault("recover", "--shares-file", shares_file(tmp_path, shares[1:]))


@pytest.mark.django_db
def test_init_refuses_an_impossible_split() -> None:
    refused("threshold", "init", "--shares", "3", "--threshold", "4")
    refused("threshold", "init", "--shares", "5", "--threshold", "1")
    assert not RecoveryKey.objects.exists()
    assert "NOT set up" in vault("status")


# --- the kill switch -------------------------------------------------------------------------------------------------


def test_kill_switch_locks_everyone_out_until_k_shares_recover(
    world: Any,
    client_for: Callable[..., Any],
    sign_in_fully: Callable[..., Any],
    persona_password: str,
    tmp_path: Path,
) -> None:
    coordinator, caseworker, person = world.coordinator, world.caseworker, world.person_at_a
    assert read_name(coordinator, person) == NAME_A
    signed_in = client_for(caseworker)
    users = list(User.objects.filter(vault_key__isnull=False))
    persons = list(Person.objects.all())
    refused("needs confirmation", "kill")  # not on a terminal and no --yes
    assert CaseKeyWrap.objects.filter(holder__isnull=False).exists()

    output = vault("kill", "--yes")

    assert "Kill switch pulled" in output and "case key wraps destroyed" in output
    event = AuditEvent.objects.filter(action="vault.kill_switch").get()
    assert event.details["case_wraps"] > 0
    assert len(AGENT) == 0
    assert signed_in.get("/").status_code == 302  # the session ended
    browsers = {}
    for user in (coordinator, caseworker):  # signing in again, through the forms, opens the key pair...
        browsers[user] = client_for(None)
        response = sign_in_fully(browsers[user], user.username)
        assert response.status_code == 302 and AGENT.for_user(user.pk) is not None
        page = browsers[user].get(f"/cases/{person.case_code}/")
        assert page.status_code == 200 and NAME_A not in page.content.decode()
    for user in users:
        test_vault.unlock(user, persona_password)
    for user in users:  # ...but it opens no case, and no name search
        keyring = keyring_for(user)
        for each in persons:
            with pytest.raises(crypto.Locked):
                keyring.case_key(each.id)
        with pytest.raises(crypto.Locked):
            keyring.index_key()
    assert read_name(coordinator, person) == LOCKED

    refused(
        "Only 1 share given; this vault needs 2",
        "recover",
        "--shares-file",
        shares_file(tmp_path, test_vault.recovery_shares()[:1]),
    )
    assert read_name(coordinator, person) == LOCKED

    output = vault("recover", "--shares-file", shares_file(tmp_path, test_vault.recovery_shares()[1:]))

    assert "Access restored: 3 cases" in output
    assert NAME_A in browsers[coordinator].get(f"/cases/{person.case_code}/").content.decode()
    assert read_name(coordinator, person) == NAME_A
    assert read_name(caseworker, person) == NAME_A
    assert blind.matching(keyring_for(coordinator), NAME_B) == {world.person_at_b.id}
    with pytest.raises(crypto.Locked):  # recovery gives back what each is entitled to, no more
        keyring_for(caseworker).case_key(world.person_at_b.id)
    assert verify_log().ok


# --- shredding -------------------------------------------------------------------------------------------------------


def _sensitive_blobs(person: Person) -> list[tuple[Any, str, bytes]]:
    """Every ciphertext of the case: (row, field, stored bytes)."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if is_sensitive(f)]
        if not fields:
            continue
        rows = (
            [Person.objects.get(pk=person.pk)]
            if model is Person
            else model._base_manager.filter(person=person)
            if any(f.name == "person" for f in model._meta.concrete_fields)
            else []
        )
        for row in rows:
            for field in fields:
                value = getattr(row, field.attname)
                if isinstance(value, Sealed):
                    found.append((row, field, value.blob))
    return found


def test_shred_leaves_nothing_anyone_can_decrypt(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    person, other = world.person_at_a, world.person_at_b
    blobs = _sensitive_blobs(person)
    assert {f.name for _row, f, _b in blobs} >= {"name_hangul", "name_romanized", "photo", "description"}
    coded = (
        Person.objects.filter(pk=person.pk).values("case_code", "sex", "birth_year", "origin_province", "status").get()
    )
    movements = person.movements.count()
    refused("There is no case ZZZZ-ZZZZ", "shred", "zzzz-zzzz")
    refused("confirm by typing the case code again on a terminal, or give --yes", "shred", person.case_code)
    monkeypatch.setattr("waystation.vault.management.commands.vault.on_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": other.case_code)
    refused("does not match; nothing was shredded", "shred", person.case_code)
    assert len(wraps_of(person)) >= 4 and not ShredRecord.objects.exists()

    monkeypatch.setattr("builtins.input", lambda prompt="": person.case_code.lower().replace("-", " "))
    output = vault("shred", person.case_code.lower())

    assert f"Case {person.case_code} shredded" in output
    assert re.search(r"key wraps destroyed \(the recovery key's included\): [4-9]", output)
    assert wraps_of(person) == [] and not NameIndex.objects.filter(person=person).exists()
    assert AuditEvent.objects.filter(action="vault.shred", case_id=person.pk).count() == 1
    assert set(read_ledger()) == {person.pk} and ShredRecord.objects.get().person_id == person.pk
    assert str(person.pk) in vault("ledger")
    # Nobody reads anything: the columns are blank, and the old ciphertexts open with no key that exists any more,
    # not even one the recovery key can reach.
    for user in world.personas.values():
        if AGENT.for_user(user.pk) is None:
            continue
        revealed = reveal(user=user, items=[(Person.objects.get(pk=person.pk), SENSITIVE)], purpose="test")[0]
        assert revealed == {"name_hangul": "", "name_romanized": "", "narrative": "", "photo": None}
        with pytest.raises(crypto.Locked):
            keyring_for(user).case_key(person.id)
    assert _sensitive_blobs(person) == []
    vault("recover", "--shares-file", shares_file(tmp_path, test_vault.recovery_shares()[:2]))
    assert wraps_of(person) == []
    reachable = [
        crypto.unseal(test_vault.recovery_key(), bytes(s))
        for s in CaseKeyWrap.objects.filter(holder__isnull=True).values_list("sealed", flat=True)
    ]
    assert len(reachable) == 2  # the two other cases
    for row, field, blob in blobs:
        for key in reachable:
            with pytest.raises(crypto.Tampered):
                crypto.decrypt(key, blob, _associated_data(row, field))
    # The name is gone from the blind index; another's is still found; the coded facts remain.
    index = keyring_for(world.coordinator)
    assert blind.matching(index, NAME_A) == set() and blind.matching(index, NAME_B) == {other.id}
    after = Person.objects.filter(pk=person.pk).values("case_code", "sex", "birth_year", "origin_province", "status")
    assert after.get() == coded and person.movements.count() == movements
    assert read_name(world.coordinator, other) == NAME_B
    refused("shredded already", "shred", person.case_code, "--yes")
    assert verify_log().ok


def test_status_and_ledger_report_counts_and_ids_only(world: Any) -> None:
    import json

    status = json.loads(vault("status", "--json"))
    assert status["set_up"] and status["threshold"] == test_vault.THRESHOLD
    assert status["users_with_key_pairs"] == User.objects.filter(vault_key__isnull=False).count()
    assert status["recovery_wraps"] == 3 and status["case_wraps"] > 3 and status["shredded_cases"] == 0
    assert "any 2 of 3 recovery shares" in vault("status")

    vault("shred", world.person_at_b.case_code, "--yes")

    status = json.loads(vault("status", "--json"))
    assert status["recovery_wraps"] == 2 and status["shredded_cases"] == 1
    entries = json.loads(vault("ledger", "--json"))["entries"]
    assert [e["case_id"] for e in entries] == [str(world.person_at_b.pk)]
    assert entries[0]["in_database"] and entries[0]["in_file"]
    text = vault("ledger")
    assert world.person_at_b.case_code not in text and NAME_B not in text
    assert set(IndexKeyWrap.objects.values_list("holder_id", flat=True)) >= {world.coordinator.pk}


@pytest.mark.django_db
def test_recover_on_a_terminal_asks_for_k_shares_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    shares = printed_shares(vault("init", "--shares", "4", "--threshold", "3"))
    asked: list[str] = []
    typed = iter([shares[3], shares[0], shares[2], shares[1]])

    def getpass(prompt: str = "") -> str:  # the terminal, typing without echo
        asked.append(prompt)
        return next(typed)

    monkeypatch.setattr("waystation.vault.management.commands.vault.on_terminal", lambda: True)
    monkeypatch.setattr("getpass.getpass", getpass)

    assert "Access restored" in vault("recover")
    assert asked == ["Share 1 of 3: ", "Share 2 of 3: ", "Share 3 of 3: "]

    typed = iter([shares[0], ""])  # an empty answer ends the input
    refused("Only 1 share given; this vault needs 3", "recover")
