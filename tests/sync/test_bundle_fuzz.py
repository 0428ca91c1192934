"""Crafted bundles (Hypothesis): random bytes, and a valid bundle with bytes changed, cut, inserted or appended,
never raise anything but the one refusal, and never reach the change log."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_helpers import ChangesLog, bundle_from, changes_log, enrol, local_keys, other_installation

from waystation.sync import bundle as bundles
from waystation.sync.bundle import BundleRefused
from waystation.sync.models import ReceivedBundle
from waystation.sync.services import bundle_import, bundle_queue
from waystation.vault.keyring import keyring_for

pytestmark = pytest.mark.django_db

__all__ = ["changes_log"]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def valid(world: SimpleNamespace) -> SimpleNamespace:
    hub = local_keys(world.coordinator)
    alder = other_installation()
    enrol(world.coordinator, alder, name="ALDER", station=world.station_a)
    data = bundle_from(alder, hub.public, {"changes": [{"field": "note", "value": "fictional"}] * 3})
    return SimpleNamespace(data=data, coordinator=world.coordinator)


def only_refused(valid: SimpleNamespace, log: ChangesLog, data: bytes) -> None:
    with pytest.raises(BundleRefused) as refusal:
        bundle_import(actor=valid.coordinator, keyring=keyring_for(valid.coordinator), data=data)
    assert refusal.value.message
    with pytest.raises(BundleRefused):
        bundle_queue(data=data)
    assert log.received == [] and not ReceivedBundle.objects.exists()


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_are_refused(valid: SimpleNamespace, changes_log: ChangesLog, data: bytes) -> None:
    only_refused(valid, changes_log, data)


@FUZZ
@given(data=st.binary(max_size=400).map(lambda tail: bundles.MAGIC + bytes([bundles.VERSION]) + tail))
def test_random_bytes_behind_a_right_header_start_are_refused(
    valid: SimpleNamespace, changes_log: ChangesLog, data: bytes
) -> None:
    only_refused(valid, changes_log, data)


@st.composite
def mutations(draw: st.DrawFn, size: int) -> tuple[str, int, bytes]:
    kind = draw(st.sampled_from(["flip", "cut", "insert", "append", "replace"]))
    position = draw(st.integers(min_value=0, max_value=size - 1))
    extra = draw(st.binary(min_size=1, max_size=40))
    return kind, position, extra


def mutate(data: bytes, kind: str, position: int, extra: bytes) -> bytes:
    if kind == "flip":
        return data[:position] + bytes([data[position] ^ (extra[0] or 1)]) + data[position + 1 :]
    if kind == "cut":
        return data[:position]
    if kind == "insert":
        return data[:position] + extra + data[position:]
    if kind == "append":
        return data + extra
    changed = data[:position] + extra + data[position + len(extra) :]
    return changed if changed != data else data[:position]


@FUZZ
@given(change=mutations(size=bundles.MINIMUM + 40))
def test_a_valid_bundle_changed_anywhere_is_refused(
    valid: SimpleNamespace, changes_log: ChangesLog, change: tuple[str, int, bytes]
) -> None:
    kind, position, extra = change
    only_refused(valid, changes_log, mutate(valid.data, kind, position % len(valid.data), extra))


def test_the_valid_bundle_itself_is_accepted(valid: SimpleNamespace, changes_log: ChangesLog) -> None:
    """The fuzzed bundle is a good one: the refusals above come from the changes, not from the bundle."""
    bundle_import(actor=valid.coordinator, keyring=keyring_for(valid.coordinator), data=valid.data)
    assert len(changes_log.received) == 1
