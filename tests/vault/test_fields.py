"""The sensitive field types refuse to store plaintext, whatever the path."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction
from vault_helpers import raw_get

from waystation.cases.models import Person
from waystation.vault.crypto import Locked, VaultError

pytestmark = pytest.mark.django_db


def test_a_bulk_update_with_plaintext_is_refused_and_changes_nothing(world: SimpleNamespace) -> None:
    person = world.person_at_a
    before = raw_get(person, "narrative")
    with pytest.raises(VaultError, match="without being encrypted"), transaction.atomic():
        Person.objects.filter(pk=person.pk).update(narrative="[SYNTHETIC] typed straight into the table")
    assert raw_get(person, "narrative") == before


def test_a_save_outside_a_keyring_is_refused_and_changes_nothing(world: SimpleNamespace) -> None:
    person = Person.objects.get(pk=world.person_at_a.pk)
    before = raw_get(person, "contacts")
    person.contacts = "[SYNTHETIC] a contact saved without keys"
    with pytest.raises(Locked), transaction.atomic():
        person.save(update_fields=["contacts"])  # no vault.acting(...): no key to seal with
    assert raw_get(person, "contacts") == before
