"""The change log: every write path records its change, with origin and clock; sensitive values stay ciphertext."""

from __future__ import annotations

from types import SimpleNamespace

from waystation.cases import care_services
from waystation.cases.services import person_update
from waystation.network import services as network_services
from waystation.sync.changes import log
from waystation.sync.changes.models import Change, RowState
from waystation.vault.shred import shred

CANARY = "CANARY-가상-7731 (fictional)"


def test_a_registration_logs_the_person_and_the_intake_movement(world: SimpleNamespace) -> None:
    person = world.person_at_a
    rows = Change.objects.filter(case_id=person.id)
    assert {c.model for c in rows} >= {"cases.person", "network.movement"}
    first = rows.filter(model="cases.person").order_by("seq").first()
    assert first.origin == log.origin() and first.hlc.endswith(first.origin)
    assert first.fields["sex"] == "F" and first.fields["case_code"] == person.case_code


def test_sensitive_values_are_logged_as_ciphertext_only(world: SimpleNamespace) -> None:
    person = world.person_at_a
    person_update(actor=world.coordinator, person=person, narrative=CANARY)
    care_services.note_add(actor=world.coordinator, person=person, text=CANARY)
    logged = Change.objects.filter(case_id=person.id)
    text = repr(list(logged.values_list("fields", flat=True))) + repr(list(RowState.objects.values("fields")))
    assert CANARY not in text and CANARY.encode().hex() not in text
    sensitive = [v for c in logged for k, v in c.fields.items() if k in ("narrative", "text") and v]
    assert len(sensitive) == 2 and all(v.startswith("w1:") for v in sensitive)


def test_an_edit_logs_only_what_changed_and_its_context_has_seen_the_creation(world: SimpleNamespace) -> None:
    person = world.person_at_a
    before = Change.objects.count()
    person_update(actor=world.coordinator, person=person, birth_year=1990)
    edit = Change.objects.order_by("-seq").first()
    assert Change.objects.count() == before + 1
    assert edit.fields == {"birth_year": 1990}
    created = Change.objects.filter(model="cases.person", gid=str(person.id)).order_by("seq").first()
    assert edit.ctx[created.origin] >= created.origin_seq
    assert edit.hlc > created.hlc


def test_movements_and_station_changes_are_logged(world: SimpleNamespace) -> None:
    movement = network_services.movement_plan(
        actor=world.coordinator, person=world.person_at_a, to_station=world.station_c, depart_now=True
    )
    assert Change.objects.filter(model="network.movement", gid=str(movement.uid)).exists()
    network_services.station_set_status(actor=world.coordinator, station=world.station_b, status="suspended")
    change = Change.objects.filter(model="network.station", gid=str(world.station_b.uid)).order_by("-seq").first()
    assert change.fields["status"] == "suspended" and change.case_id is None


def test_a_shred_is_logged_and_blanks_the_logged_ciphertexts(world: SimpleNamespace) -> None:
    person = world.person_at_a
    assert (
        Change.objects.filter(case_id=person.id, fields__has_key="name_hangul").exclude(fields__name_hangul="").exists()
    )
    shred(actor=world.coordinator, person_id=person.id)
    assert Change.objects.filter(model="vault.shred", gid=str(person.id)).exists()
    for change in Change.objects.filter(case_id=person.id, model="cases.person"):
        assert all(change.fields.get(name, "") == "" for name in ("name_hangul", "name_romanized", "narrative"))
    for state in RowState.objects.filter(case_id=person.id, model="cases.person"):
        assert all(v[3] == "" for v in state.fields["name_hangul"])


def test_rows_inserted_without_save_are_logged_by_the_baseline(world: SimpleNamespace) -> None:
    person = world.person_at_a
    RowState.objects.filter(gid=str(person.id)).delete()
    assert log.baseline() >= 1
    assert RowState.objects.filter(gid=str(person.id)).exists()
    assert log.baseline() == 0
