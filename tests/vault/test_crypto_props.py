"""Field encryption: what is written comes back exactly, a nonce is never used twice, and a stored value that was
changed by even one bit never comes back as text."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vault_helpers import as_cell, blob_of, flip_bit, raw_get, raw_set

from waystation.accounts.models import User
from waystation.cases.models import CaseNote, Person
from waystation.vault import crypto
from waystation.vault.fields import Sealed, open_value
from waystation.vault.keyring import acting, keyring_for

DB_EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
KEYS = st.binary(min_size=crypto.KEY_BYTES, max_size=crypto.KEY_BYTES)
ADS = st.binary(max_size=80)
# Text with the awkward cases always in the mix: empty, NUL, astral characters (Hypothesis' text() has no lone
# surrogates, which no UTF-8 store can hold anyway).
AWKWARD = ["", "\x00", "a\x00b", "\U0001f600\U00010348\U0010ffff", "가상 하나\u200d\n\t\r", " ", "w1:AAAA"]
TEXTS = st.sampled_from(AWKWARD) | st.text(max_size=300) | st.text(alphabet=st.characters(min_codepoint=0x10000))


def _stored(model: type[Any], obj: Any) -> Any:
    return model.objects.get(pk=obj.pk)


# --- the primitives ----------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(key=KEYS, plaintext=st.binary(max_size=2048), ad=ADS)
def test_decrypt_gives_back_exactly_what_was_encrypted(key: bytes, plaintext: bytes, ad: bytes) -> None:
    blob = crypto.encrypt(key, plaintext, ad)
    assert crypto.decrypt(key, blob, ad) == plaintext


@settings(max_examples=200, deadline=None)
@given(key=KEYS, plaintext=st.binary(max_size=256), ad=ADS, data=st.data())
def test_any_flipped_bit_of_a_ciphertext_is_tampered(key: bytes, plaintext: bytes, ad: bytes, data: Any) -> None:
    blob = crypto.encrypt(key, plaintext, ad)
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1), label="bit")
    with pytest.raises(crypto.Tampered):
        crypto.decrypt(key, flip_bit(blob, bit), ad)


@settings(max_examples=100, deadline=None)
@given(key=KEYS, other=KEYS, plaintext=st.binary(max_size=256), ad=ADS, other_ad=ADS)
def test_another_key_or_other_associated_data_is_tampered(
    key: bytes, other: bytes, plaintext: bytes, ad: bytes, other_ad: bytes
) -> None:
    blob = crypto.encrypt(key, plaintext, ad)
    if other != key:
        with pytest.raises(crypto.Tampered):
            crypto.decrypt(other, blob, ad)
    if other_ad != ad:
        with pytest.raises(crypto.Tampered):
            crypto.decrypt(key, blob, other_ad)


def test_truncated_or_extended_ciphertexts_are_tampered() -> None:
    key, ad = crypto.new_key(), b"ad"
    blob = crypto.encrypt(key, b"a short fictional note", ad)
    for cut in range(len(blob)):
        with pytest.raises(crypto.Tampered):
            crypto.decrypt(key, blob[:cut], ad)
    with pytest.raises(crypto.Tampered):
        crypto.decrypt(key, blob + b"\x00", ad)


def test_the_same_value_encrypted_again_and_again_never_repeats_a_nonce() -> None:
    key, ad = crypto.new_key(), b"waystation-field\x1fcases_casenote\x1ftext\x1frow\x1f1"
    blobs = [crypto.encrypt(key, b"the same fictional note", ad) for _ in range(20_000)]
    head = len(crypto.FORMAT)
    nonces = {blob[head : head + crypto.NONCE_BYTES] for blob in blobs}
    assert len(nonces) == len(blobs)
    assert len(set(blobs)) == len(blobs)


# --- through a model: save, load again, open ----------------------------------------------------------------------


@pytest.fixture
def case(coordinator: User, person_at_a: Person) -> tuple[User, Person]:
    return coordinator, person_at_a


@DB_EXAMPLES
@given(text=TEXTS)
def test_any_text_survives_the_field_round_trip(case: tuple[User, Person], text: str) -> None:
    coordinator, person = case
    with acting(coordinator):
        note = CaseNote.objects.create(person=person, text=text, author=coordinator)
    stored = _stored(CaseNote, note)
    cell = raw_get(note, "text")
    if text == "":
        assert stored.text == "" and cell == ""  # empty stays empty: whether a field is filled is visible
    else:
        assert isinstance(stored.text, Sealed) and str(stored.text) != text
        assert cell.startswith(crypto.TEXT_PREFIX)
        if len(text) >= 8:  # (a shorter text may occur in any base64 by chance)
            assert text not in cell[len(crypto.TEXT_PREFIX) :]
    # a keyring made afresh from the agent (as a later request would), which opens the case key from its wrap
    assert open_value(keyring_for(coordinator), stored, "text") == text


@DB_EXAMPLES
@given(data=st.binary(max_size=4096) | st.sampled_from([b"", b"\x00", b"\x89PNG\r\n\x1a\n" + bytes(range(256))]))
def test_any_bytes_survive_the_field_round_trip(case: tuple[User, Person], data: bytes) -> None:
    coordinator, person = case
    with acting(coordinator):
        person.photo = data
        person.save(update_fields=["photo"])
    stored = _stored(Person, person)
    assert isinstance(stored.photo, Sealed)
    if len(data) >= 8:
        assert data not in raw_get(person, "photo")
    assert open_value(keyring_for(coordinator), stored, "photo") == data


def test_the_same_text_saved_twice_is_stored_differently(case: tuple[User, Person]) -> None:
    coordinator, person = case
    with acting(coordinator):
        notes = [CaseNote.objects.create(person=person, text="Same words (fictional)", author=coordinator)]
        notes += [CaseNote.objects.create(person=person, text="Same words (fictional)", author=coordinator)]
    notes += [CaseNote.objects.create(person=person, text="", author=coordinator)]  # empty needs no keyring
    cells = [raw_get(n, "text") for n in notes[:2]]
    head = len(crypto.FORMAT)
    assert cells[0] != cells[1]
    assert blob_of(cells[0])[head : head + crypto.NONCE_BYTES] != blob_of(cells[1])[head : head + crypto.NONCE_BYTES]


# --- every bit of a stored value ----------------------------------------------------------------------------------


def _every_flip_is_tampered(coordinator: User, obj: Any, field: str) -> int:
    model = type(obj)
    cell = raw_get(obj, field)
    blob = blob_of(cell)
    keyring = keyring_for(coordinator)
    assert open_value(keyring, _stored(model, obj), field)  # the untouched value opens
    gave_text = []
    for bit in range(len(blob) * 8):
        raw_set(obj, field, as_cell(flip_bit(blob, bit), cell))
        try:
            value = open_value(keyring, _stored(model, obj), field)
        except crypto.Tampered:
            continue
        gave_text.append((bit, value))
    raw_set(obj, field, cell)
    assert not gave_text, f"{model.__name__}.{field}: flipped bits that still opened: {gave_text[:5]}"
    return len(blob) * 8


def test_every_single_bit_flip_of_a_stored_note_is_tampered(case: tuple[User, Person]) -> None:
    coordinator, person = case
    with acting(coordinator):
        note = CaseNote.objects.create(person=person, text="She arrived at night (fictional).", author=coordinator)
    assert _every_flip_is_tampered(coordinator, note, "text") > 8 * (2 + 12 + 16)


def test_every_single_bit_flip_of_a_stored_photo_is_tampered(case: tuple[User, Person], photo_a: bytes) -> None:
    coordinator, person = case
    assert _every_flip_is_tampered(coordinator, person, "photo") > 8 * len(photo_a)


def test_a_damaged_text_token_never_loads_as_text(case: tuple[User, Person]) -> None:
    coordinator, person = case
    with acting(coordinator):
        note = CaseNote.objects.create(person=person, text="A fictional note.", author=coordinator)
    cell = raw_get(note, "text")
    for damaged in (cell[:-3], cell + "!", "w1:", "w2:" + cell[3:], "A fictional note."):
        raw_set(note, "text", damaged)
        with pytest.raises(crypto.Tampered):
            open_value(keyring_for(coordinator), _stored(CaseNote, note), "text")
