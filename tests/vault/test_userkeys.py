"""Users' key pairs and the wraps made for them: the private half opens only with the user's password, under the
production Argon2id parameters; a changed bit of any wrapped key, or a wrap moved to another holder, gives an
error and never a key."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from vault_helpers import flip_bit

from waystation.accounts.models import Role, User
from waystation.accounts.services import user_create
from waystation.audit.models import AuditEvent
from waystation.cases.models import Person
from waystation.vault import crypto, userkeys
from waystation.vault.agent import AGENT
from waystation.vault.keyring import Keyring
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, UserKey

PASSWORD = "lantern-river-morning-42"  # the personas' (tests/conftest.py)


def fresh_keyring(user: User) -> Keyring:
    return Keyring(user, AGENT.for_user(user.pk))


def test_a_user_made_by_the_app_gets_the_production_key_derivation(administrator: User) -> None:
    user, password = user_create(actor=administrator, username="cw-new-plover", role=Role.CASEWORKER)
    key = UserKey.objects.get(user=user)
    assert key.kdf_time >= 3
    assert key.kdf_memory_kib >= 64 * 1024
    assert len(bytes(key.salt)) >= 16
    private = userkeys.unlock(user, password)  # the stored parameters are the ones the wrap was made with
    assert bytes(private.public_key) == bytes(key.public_key)


def test_a_wrong_password_opens_nothing(caseworker: User) -> None:
    assert userkeys.unlock(caseworker, PASSWORD)
    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], "lantern-river-morning-43"):
        with pytest.raises(crypto.Tampered):
            userkeys.unlock(caseworker, wrong)


def test_the_wrong_password_is_refused_at_sign_in(caseworker: User, client_for: Any) -> None:
    client = client_for(None)
    client.get("/accounts/login/")
    response = client.submit("/accounts/login/", {"username": caseworker.username, "password": PASSWORD + "x"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def _every_flip_fails(blob: bytes, attempt: Any) -> list[int]:
    """The bits whose flip did *not* end in ``Tampered``."""
    opened = []
    for bit in range(len(blob) * 8):
        try:
            attempt(flip_bit(blob, bit))
        except crypto.Tampered:
            continue
        opened.append(bit)
    return opened


def test_every_bit_flip_of_a_wrapped_private_key_is_tampered(caseworker: User) -> None:
    key = UserKey.objects.get(user=caseworker)
    original = bytes(key.wrapped_private)

    def attempt(changed: bytes) -> None:
        UserKey.objects.filter(pk=key.pk).update(wrapped_private=changed)
        userkeys.unlock(caseworker, PASSWORD)

    assert _every_flip_fails(original, attempt) == []
    UserKey.objects.filter(pk=key.pk).update(wrapped_private=original)
    assert userkeys.unlock(caseworker, PASSWORD)


def test_a_changed_salt_or_public_half_is_tampered(caseworker: User) -> None:
    key = UserKey.objects.get(user=caseworker)
    other_public = bytes(crypto.new_key_pair().public_key)
    for change in ({"salt": flip_bit(bytes(key.salt), 0)}, {"public_key": other_public}):
        UserKey.objects.filter(pk=key.pk).update(**change)
        with pytest.raises(crypto.Tampered):
            userkeys.unlock(caseworker, PASSWORD)
        UserKey.objects.filter(pk=key.pk).update(salt=key.salt, public_key=key.public_key)


def test_a_key_pair_moved_to_another_account_does_not_open(caseworker: User, caseworker_unassigned: User) -> None:
    # Everything of the caseworker's row (wrap, salt, public half, parameters) written into another user's row:
    # the wrap is bound to its user id, so even the right password does not open it there.
    source = UserKey.objects.get(user=caseworker)
    fields = ["public_key", "wrapped_private", "salt", "kdf_time", "kdf_memory_kib", "kdf_lanes"]
    UserKey.objects.filter(user=caseworker_unassigned).update(**{f: getattr(source, f) for f in fields})
    with pytest.raises(crypto.Tampered):
        userkeys.unlock(caseworker_unassigned, PASSWORD)


def test_every_bit_flip_of_a_case_key_wrap_is_tampered(caseworker: User, person_at_a: Person) -> None:
    wrap = CaseKeyWrap.objects.get(person=person_at_a, holder=caseworker)
    original = bytes(wrap.sealed)
    key = fresh_keyring(caseworker).case_key(person_at_a.id)

    def attempt(changed: bytes) -> None:
        CaseKeyWrap.objects.filter(pk=wrap.pk).update(sealed=changed)
        fresh_keyring(caseworker).case_key(person_at_a.id)

    assert _every_flip_fails(original, attempt) == []
    CaseKeyWrap.objects.filter(pk=wrap.pk).update(sealed=original)
    assert fresh_keyring(caseworker).case_key(person_at_a.id) == key


def test_every_bit_flip_of_an_index_key_wrap_is_tampered(caseworker: User) -> None:
    wrap = IndexKeyWrap.objects.get(holder=caseworker)
    original = bytes(wrap.sealed)

    def attempt(changed: bytes) -> None:
        IndexKeyWrap.objects.filter(pk=wrap.pk).update(sealed=changed)
        fresh_keyring(caseworker).index_key()

    assert _every_flip_fails(original, attempt) == []


def test_a_wrap_sealed_for_one_user_does_not_open_for_another(world: SimpleNamespace) -> None:
    person = world.person_at_a
    coordinators_wrap = CaseKeyWrap.objects.get(person=person, holder=world.coordinator).sealed
    # into a row that the keeper holds already ...
    CaseKeyWrap.objects.filter(person=person, holder=world.keeper_a).update(sealed=coordinators_wrap)
    with pytest.raises(crypto.Tampered):
        fresh_keyring(world.keeper_a).case_key(person.id)
    # ... and as a new row for someone who holds none
    CaseKeyWrap.objects.create(person=person, holder=world.caseworker_unassigned, sealed=coordinators_wrap)
    with pytest.raises(crypto.Tampered):
        fresh_keyring(world.caseworker_unassigned).case_key(person.id)
    # the recovery wrap is sealed to the recovery key, not to anyone's
    recovery_wrap = CaseKeyWrap.objects.get(person=person, holder=None).sealed
    CaseKeyWrap.objects.filter(person=person, holder=world.caseworker).update(sealed=recovery_wrap)
    with pytest.raises(crypto.Tampered):
        fresh_keyring(world.caseworker).case_key(person.id)


@pytest.mark.xfail(
    strict=True,
    reason="OPEN: public keys are read from the database unauthenticated; a public key substituted there (by "
    "someone who can write the file, e.g. a seized and returned laptop) receives every later wrap",
)
def test_a_public_key_substituted_in_the_database_receives_no_wrap(
    coordinator: User, keeper_a: User, station_a: Any
) -> None:
    from waystation.cases.services import person_register

    intruder = crypto.new_key_pair()
    UserKey.objects.filter(user=coordinator).update(public_key=bytes(intruder.public_key))
    person = person_register(actor=keeper_a, station=station_a, sex="F", name_romanized="Gasang Net (fictional)")
    sealed = CaseKeyWrap.objects.filter(person=person, holder=coordinator).values_list("sealed", flat=True).first()
    assert sealed is not None, "the coordinator is entitled to the new case"
    with pytest.raises(crypto.Tampered):
        crypto.unseal(intruder, bytes(sealed))  # the intruder's private key must not open the coordinator's wrap


def test_a_sign_in_with_damaged_key_material_is_refused_clearly_and_changes_nothing(
    world: SimpleNamespace, client_for: Any
) -> None:
    """Corrupted key material: the right password and a damaged wrapped private key. The sign-in is refused with a
    plain message, no session is left signed in, the failure is audited and the stored bytes stay as they were."""
    key = UserKey.objects.get(user=world.coordinator)
    damaged = flip_bit(bytes(key.wrapped_private), 77)
    UserKey.objects.filter(pk=key.pk).update(wrapped_private=damaged)
    client = client_for(None)
    client.get("/accounts/login/")
    page = client.submit("/accounts/login/", {"username": world.coordinator.username, "password": PASSWORD})
    assert page.status_code == 200
    assert "Your keys could not be opened. Ask a coordinator for help." in page.content.decode()
    assert client.get("/cases/")["Location"].startswith("/accounts/login/")  # not signed in
    assert bytes(UserKey.objects.get(pk=key.pk).wrapped_private) == damaged  # nothing rewritten or replaced
    assert AuditEvent.objects.filter(action="vault.user_key_failed", target_id=str(world.coordinator.pk)).exists()
