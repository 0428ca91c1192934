"""A ciphertext moved to another row, column or table does not open there: whoever can write to the database file
cannot make one person's record show another person's words."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from vault_helpers import raw_get, raw_set

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases import care_services
from waystation.cases.choices import ServiceKind
from waystation.cases.models import CaseNote, Person, ServiceRecord
from waystation.cases.services import person_register
from waystation.network.models import Station
from waystation.vault import crypto
from waystation.vault.fields import open_value
from waystation.vault.keyring import keyring_for
from waystation.vault.reveal import reveal

NARRATIVE_A = "She crossed the river in March (fictional narrative A)."
NARRATIVE_B = "She worked on a farm near the border (fictional narrative B)."


def _swap(first: Any, second: Any, field: str, other_field: str | None = None) -> None:
    other_field = other_field or field
    one, two = raw_get(first, field), raw_get(second, other_field)
    raw_set(first, field, two)
    raw_set(second, other_field, one)


def _fresh(obj: Any) -> Any:
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def two_persons(coordinator: User, keeper_a: User, station_a: Station) -> tuple[Person, Person]:
    made = []
    for name, narrative in (("Gasang Alpha (fictional)", NARRATIVE_A), ("Gasang Beta (fictional)", NARRATIVE_B)):
        made.append(
            person_register(actor=coordinator, station=station_a, sex="F", name_romanized=name, narrative=narrative)
        )
    return made[0], made[1]


def test_narratives_swapped_between_two_persons_are_tampered(
    coordinator: User, two_persons: tuple[Person, Person]
) -> None:
    first, second = two_persons
    assert reveal(user=coordinator, items=[(first, ["narrative"])], purpose="test")[0]["narrative"] == NARRATIVE_A
    _swap(first, second, "narrative")
    for person in two_persons:
        with pytest.raises(crypto.Tampered):
            reveal(user=coordinator, items=[(_fresh(person), ["narrative"])], purpose="test")


def test_notes_swapped_within_one_case_are_tampered(coordinator: User, person_at_a: Person) -> None:
    # Same case, same data key: only the row in the associated data tells the two cells apart.
    one = care_services.note_add(actor=coordinator, person=person_at_a, text="First fictional note.")
    two = care_services.note_add(actor=coordinator, person=person_at_a, text="Second fictional note.")
    keyring = keyring_for(coordinator)
    assert open_value(keyring, _fresh(one), "text") == "First fictional note."
    _swap(one, two, "text")
    for note in (one, two):
        with pytest.raises(crypto.Tampered):
            open_value(keyring_for(coordinator), _fresh(note), "text")


def test_a_value_moved_to_another_column_of_the_same_row_is_tampered(
    coordinator: User, two_persons: tuple[Person, Person]
) -> None:
    person = two_persons[0]
    raw_set(person, "contacts", raw_get(person, "narrative"))  # same row, same key: only the column differs
    with pytest.raises(crypto.Tampered):
        reveal(user=coordinator, items=[(_fresh(person), ["contacts"])], purpose="test")
    assert reveal(user=coordinator, items=[(_fresh(person), ["narrative"])], purpose="test")[0]["narrative"]


def test_a_value_moved_to_another_table_is_tampered(coordinator: User, person_at_a: Person) -> None:
    # Same case, same key, same column name ("note"), even the same row id: only the table differs.
    today = timezone.localdate()
    assessment = care_services.needs_assess(
        actor=coordinator, person=person_at_a, assessed_on=today, levels={}, risk_level="low", note="A fictional note."
    )
    record = care_services.service_record(
        actor=coordinator, person=person_at_a, kind=ServiceKind.MEDICAL, delivered_on=today, note="Other words."
    )
    assert ServiceRecord._meta.get_field("note").column == type(assessment)._meta.get_field("note").column
    ServiceRecord.objects.filter(pk=record.pk).update(uid=_fresh(assessment).uid)
    raw_set(record, "note", raw_get(assessment, "note"))
    with pytest.raises(crypto.Tampered):
        open_value(keyring_for(coordinator), _fresh(record), "note")


def test_a_row_given_another_rows_id_does_not_open(coordinator: User, person_at_a: Person) -> None:
    note = care_services.note_add(actor=coordinator, person=person_at_a, text="A fictional note.")
    other = care_services.note_add(actor=coordinator, person=person_at_a, text="Another fictional note.")
    # A row's uid is unique (it names the row across installations too): the database refuses another row's...
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseNote.objects.filter(pk=note.pk).update(uid=_fresh(other).uid)
    # ...and under any other id its ciphertext does not open.
    CaseNote.objects.filter(pk=note.pk).update(uid=uuid.uuid4())
    with pytest.raises(crypto.Tampered):
        open_value(keyring_for(coordinator), _fresh(note), "text")


def test_photos_swapped_between_two_persons_are_tampered(
    coordinator: User, two_persons: tuple[Person, Person], client_for: Any
) -> None:
    from waystation.cases.choices import ConsentScope
    from waystation.cases.services import consent_record, person_set_photo

    first, second = two_persons
    photos = {first.pk: b"\x89PNG\r\n\x1a\n" + b"fictional photo A", second.pk: b"\x89PNG\r\n\x1a\n" + b"photo B"}
    for person in two_persons:
        consent_record(actor=coordinator, person=person, scope=ConsentScope.PHOTOS, given=True)
        person_set_photo(actor=coordinator, person=person, data=photos[person.pk])
    _swap(first, second, "photo")
    client = client_for(coordinator)
    client.raise_request_exception = False
    for person in two_persons:
        with pytest.raises(crypto.Tampered):
            reveal(user=coordinator, items=[(_fresh(person), ["photo"])], purpose="test")
        response = client.get(f"/cases/{person.case_code}/photo/")
        assert response.status_code == 409
        assert not any(photo in response.content for photo in photos.values())


# --- what the case page answers -----------------------------------------------------------------------------------


def _case_page_after_swap(
    coordinator: User, two_persons: tuple[Person, Person], client_for: Any, caplog: Any
) -> tuple[Any, str]:
    first, second = two_persons
    _swap(first, second, "narrative")
    client = client_for(coordinator)
    client.raise_request_exception = False
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"/cases/{first.case_code}/")
    return response, response.content.decode(errors="replace")


def test_the_case_page_says_the_record_was_altered_and_shows_neither_narrative(
    coordinator: User, two_persons: tuple[Person, Person], client_for: Any, caplog: Any
) -> None:
    before = AuditEvent.objects.filter(action="vault.tampered").count()
    response, page = _case_page_after_swap(coordinator, two_persons, client_for, caplog)
    assert response.status_code == 409, response.status_code  # a clear refusal, not a server error
    assert "integrity check" in page
    assert NARRATIVE_A not in page and NARRATIVE_B not in page
    assert NARRATIVE_A not in caplog.text and NARRATIVE_B not in caplog.text
    assert AuditEvent.objects.filter(action="vault.tampered").count() == before + 1
