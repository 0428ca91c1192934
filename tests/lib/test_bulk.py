"""``lib.bulk.insert_values``: rows written as values, without an instance each, and never a plaintext sensitive
value (only an instance can seal one)."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from waystation.accounts.models import User
from waystation.cases.models import Person
from waystation.lib import bulk
from waystation.network.models import Movement, MovementStatus, Station
from waystation.vault.fields import open_value
from waystation.vault.keyring import keyring_for

FIELDS = ("uid", "person_id", "to_station_id", "status", "planned_at", "arrived_at", "recorded_by_id")


def test_a_sensitive_field_left_out_keeps_its_empty_value(
    coordinator: User, person_at_a: Person, station_b: Station
) -> None:
    now = timezone.now()
    uid = uuid.uuid4()
    row = (uid, person_at_a.pk, station_b.pk, MovementStatus.ARRIVED, now, now, coordinator.pk)
    bulk.insert_values(Movement, FIELDS, [row], now)
    movement = Movement.objects.get(uid=uid)
    assert movement.note == "" and open_value(keyring_for(coordinator), movement, "note") == ""
    assert (movement.to_station_id, movement.status, movement.recorded_by_id) == (
        station_b.pk,
        "arrived",
        coordinator.pk,
    )


def test_a_sensitive_value_given_as_a_value_is_refused_and_nothing_is_written(
    coordinator: User, person_at_a: Person, station_b: Station
) -> None:
    now = timezone.now()
    before = Movement.objects.count()
    row = (uuid.uuid4(), person_at_a.pk, station_b.pk, "planned", now, None, coordinator.pk, "a plaintext note")
    with pytest.raises(ValueError, match="note is sensitive"):
        bulk.insert_values(Movement, (*FIELDS, "note"), [row], now)
    assert Movement.objects.count() == before
