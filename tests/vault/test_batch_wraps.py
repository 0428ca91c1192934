"""Wraps made many at once (``crypto.Sealer``: one ephemeral key pair per batch, a precomputed ``Box`` per
recipient) beside the sealed boxes every wrap used before: both open with the holder's private key alone, only
with it, and a wrap changed by one bit opens as neither. Wraps written before the batch format keep opening."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from vault_helpers import flip_bit

from waystation.testing import vault as test_vault
from waystation.vault import crypto
from waystation.vault.agent import AGENT
from waystation.vault.grants import recovery_public_key
from waystation.vault.keyring import Keyring
from waystation.vault.models import CaseKeyWrap
from waystation.vault.userkeys import public_keys


def test_a_batch_wrap_opens_for_its_recipient_only() -> None:
    alice, bob = crypto.new_key_pair(), crypto.new_key_pair()
    secret = os.urandom(crypto.KEY_BYTES)
    sealer = crypto.Sealer()
    for_alice = sealer.seal_to(bytes(alice.public_key), secret)
    for_bob = sealer.seal_to(bytes(bob.public_key), secret)
    assert crypto.unseal(alice, for_alice) == secret
    assert crypto.unseal(bob, for_bob) == secret
    with pytest.raises(crypto.Tampered):
        crypto.unseal(bob, for_alice)
    with pytest.raises(crypto.Tampered):
        crypto.unseal(alice, for_bob)
    assert secret not in for_alice and secret not in for_bob


def test_a_batch_shares_its_sender_key_and_nothing_else() -> None:
    """What the format shows: the wraps of one batch carry the same ephemeral public key (they were made together,
    which their rows show already); another batch another key; every wrap its own nonce and ciphertext."""
    alice = crypto.new_key_pair()
    head = len(crypto.BATCH_WRAP) + crypto.PUBLIC_BYTES
    one, other = crypto.Sealer(), crypto.Sealer()
    secret = os.urandom(crypto.KEY_BYTES)
    wraps = [one.seal_to(bytes(alice.public_key), secret) for _ in range(50)]
    assert len({w[:head] for w in wraps}) == 1
    assert len({w[head:] for w in wraps}) == 50  # the same secret to the same key: never the same bytes
    assert other.seal_to(bytes(alice.public_key), secret)[:head] != wraps[0][:head]
    assert bytes(alice.public_key) not in wraps[0]  # the recipient is not named in the wrap


def test_every_bit_flip_of_a_batch_wrap_is_tampered() -> None:
    alice = crypto.new_key_pair()
    wrap = crypto.Sealer().seal_to(bytes(alice.public_key), os.urandom(crypto.KEY_BYTES))
    opener = crypto.Opener(alice)
    opened = []
    for bit in range(len(wrap) * 8):
        try:
            opener.open(flip_bit(wrap, bit))
        except crypto.Tampered:
            continue
        opened.append(bit)
    assert opened == []
    with pytest.raises(crypto.Tampered):
        opener.open(wrap[:-1])
    with pytest.raises(crypto.Tampered):
        opener.open(wrap[: len(crypto.BATCH_WRAP) + crypto.PUBLIC_BYTES])


def test_a_sealed_box_that_happens_to_start_like_a_batch_wrap_still_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sealed box starts with a random public key: one in 2^32 begins with the batch marker. Made certain here by
    taking the marker from the box's own first bytes; it is read as a sealed box once the batch reading fails."""
    alice = crypto.new_key_pair()
    secret = os.urandom(crypto.KEY_BYTES)
    boxed = crypto.seal_to(bytes(alice.public_key), secret)
    monkeypatch.setattr(crypto, "BATCH_WRAP", boxed[:4])
    assert crypto.unseal(alice, boxed) == secret


def test_wraps_sealed_before_the_batch_format_still_open(world: SimpleNamespace) -> None:
    """Existing databases hold sealed boxes only: a case whose every wrap is a sealed box opens for each holder, and
    for the recovery key, as before."""
    person = world.person_at_a
    key = Keyring(world.coordinator, AGENT.for_user(world.coordinator.pk)).case_key(person.id)
    recovery = recovery_public_key()
    wraps = list(CaseKeyWrap.objects.filter(person=person))
    keys = public_keys({w.holder_id for w in wraps if w.holder_id is not None})
    for wrap in wraps:
        to = recovery if wrap.holder_id is None else keys[wrap.holder_id]
        CaseKeyWrap.objects.filter(pk=wrap.pk).update(sealed=crypto.seal_to(to, key))
    assert len(wraps) >= 3  # the coordinator, the keeper of station A, the recovery key
    for wrap in wraps:
        if wrap.holder_id is not None:
            assert Keyring(wrap.holder, AGENT.for_user(wrap.holder_id)).case_key(person.id) == key
    (sealed,) = CaseKeyWrap.objects.filter(person=person, holder=None).values_list("sealed", flat=True)
    assert bytes(sealed)[:4] != crypto.BATCH_WRAP
    assert crypto.unseal(test_vault.recovery_key(), bytes(sealed)) == key
