"""Every look is written down first: a reveal writes its one audit event before any key is unwrapped or any value
decrypted; when the event cannot be written nothing is decrypted and nothing shown; a reveal that cannot open its
values (no key, or a changed ciphertext) is still written down, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from vault_helpers import raw_get, raw_set

from waystation.audit.models import AuditEvent
from waystation.cases.services import person_update
from waystation.testing.db import audit_unavailable
from waystation.vault import crypto
from waystation.vault.agent import AGENT
from waystation.vault.reveal import reveal

NARRATIVE = "She hid in a cellar for a winter (fictional)."


def reveals() -> int:
    return AuditEvent.objects.filter(action="reveal").count()


@pytest.fixture
def crypto_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Each unwrap and decryption as it happens (it still happens), with the number of reveal events written by
    then."""
    calls: list[tuple[str, int]] = []
    decrypt, open_wrap = crypto.decrypt, crypto.Opener.open

    def counted_decrypt(key: bytes, blob: bytes, ad: bytes) -> bytes:
        calls.append(("decrypt", reveals()))
        return decrypt(key, blob, ad)

    def counted_unseal(opener: crypto.Opener, sealed: bytes) -> bytes:  # every unwrap goes through Opener.open
        calls.append(("unseal", reveals()))
        return open_wrap(opener, sealed)

    monkeypatch.setattr(crypto, "decrypt", counted_decrypt)
    monkeypatch.setattr(crypto.Opener, "open", counted_unseal)
    yield calls


@pytest.fixture
def person(world: SimpleNamespace) -> Any:
    person = world.person_at_a
    person_update(actor=world.coordinator, person=person, narrative=NARRATIVE)
    return type(person).objects.get(pk=person.pk)


def test_the_event_is_written_before_any_key_is_unwrapped_or_value_decrypted(
    world: SimpleNamespace, person: Any, crypto_calls: list[tuple[str, int]]
) -> None:
    before = reveals()
    values = reveal(user=world.caseworker, items=[(person, ["narrative", "name_romanized"])], purpose="test")
    assert values == [{"narrative": NARRATIVE, "name_romanized": "Gasang Hana (fictional)"}]
    assert reveals() == before + 1
    assert {name for name, _ in crypto_calls} == {"unseal", "decrypt"}
    assert all(written == before + 1 for _name, written in crypto_calls), crypto_calls
    event = AuditEvent.objects.filter(action="reveal").latest("id")
    assert NARRATIVE not in json.dumps(event.details) and "person.narrative" in json.dumps(event.details)


def test_without_the_audit_log_nothing_is_decrypted_or_shown(
    world: SimpleNamespace,
    person: Any,
    crypto_calls: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    client_for: Any,
    photo_a: bytes,
) -> None:
    client = client_for(world.caseworker)
    client.raise_request_exception = False
    crypto_calls.clear()
    with audit_unavailable(monkeypatch):
        with pytest.raises(RuntimeError):
            reveal(user=world.caseworker, items=[(person, ["narrative"])], purpose="test")
        assert crypto_calls == []  # not one key unwrapped, not one value decrypted
        page = client.get(f"/cases/{person.case_code}/")
        photo = client.get(f"/cases/{person.case_code}/photo/")
    assert page.status_code >= 400 and NARRATIVE not in page.content.decode()
    assert "Gasang Hana" not in page.content.decode()
    assert photo.status_code >= 400 and photo_a not in photo.content
    assert not [call for call in crypto_calls if call[0] == "decrypt"]


def test_a_locked_reveal_is_still_written_down_once(world: SimpleNamespace, person: Any) -> None:
    AGENT.drop_all()  # a restart: nobody's keys are at hand
    before = reveals()
    try:
        values = reveal(user=world.caseworker, items=[(person, ["narrative"])], purpose="test")
    except crypto.Locked:
        values = [{}]
    assert NARRATIVE not in json.dumps(values, default=repr)
    assert reveals() == before + 1


def test_a_reveal_of_someone_without_the_key_is_written_down_once(world: SimpleNamespace, person: Any) -> None:
    before = reveals()
    try:  # the unassigned caseworker's keys are open, but they hold no wrap for this case
        values = reveal(user=world.caseworker_unassigned, items=[(person, ["narrative"])], purpose="test")
    except crypto.Locked:
        values = [{}]
    assert NARRATIVE not in json.dumps(values, default=repr)
    assert reveals() == before + 1


def test_a_tampered_reveal_is_still_written_down_once(world: SimpleNamespace, person: Any) -> None:
    raw_set(person, "narrative", raw_get(person, "contacts") or raw_get(person, "name_romanized"))
    person = type(person).objects.get(pk=person.pk)
    before = reveals()
    with pytest.raises(crypto.Tampered):
        reveal(user=world.caseworker, items=[(person, ["narrative"])], purpose="test")
    assert reveals() == before + 1
