"""Setting the vault up once, and the way back in: the organisation's recovery key and index key.

``initialise`` makes the recovery key pair and splits its private half k-of-n into SLIP-39 word shares
(``shamir-mnemonic``), to be printed and carried to people outside the country; only the public half stays. It
makes the blind-index key and wraps it for the recovery key and for every user with a key pair.

``recover`` takes k shares, rebuilds the recovery private key (checked against the stored public half) and gives
every entitled user their wraps again: after the kill switch, or when nobody who holds a case can sign in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import shamir_mnemonic
from django.db import transaction
from nacl.public import PrivateKey

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.vault import crypto, grants
from waystation.vault.keyring import Keyring
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant, RecoveryKey, UserKey

MIN_THRESHOLD = 2
MAX_SHARES = 16


@dataclass(frozen=True)
class Initialised:
    shares: list[str]
    threshold: int
    index_key: bytes


def is_initialised() -> bool:
    return RecoveryKey.objects.exists()


def check_split(*, shares: int, threshold: int) -> None:
    if not MIN_THRESHOLD <= threshold <= shares <= MAX_SHARES:
        raise crypto.VaultError(
            f"Choose {MIN_THRESHOLD} ≤ threshold ≤ shares ≤ {MAX_SHARES} (got {threshold} of {shares})."
        )


def initialise(*, actor: User | None, shares: int = 5, threshold: int = 3) -> Initialised:
    check_split(shares=shares, threshold=threshold)
    with transaction.atomic():
        if is_initialised():
            raise crypto.VaultError("The vault is already set up; its recovery shares were printed then.")
        recovery = crypto.new_key_pair()
        words = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], bytes(recovery))[0]
        public = bytes(recovery.public_key)
        RecoveryKey.objects.create(public_key=public, threshold=threshold, shares=shares)
        index_key = crypto.new_key()
        IndexKeyWrap.objects.create(holder=None, sealed=crypto.seal_to(public, index_key))
        keyring = Keyring(None, None)
        keyring.adopt_index_key(index_key)
        for user in User.objects.filter(is_active=True, pk__in=UserKey.objects.values("user_id")):
            grants.grant_index_key(keyring, user)
        audit_record(actor=actor, action="vault.init", details={"shares": shares, "threshold": threshold})
    return Initialised(shares=words, threshold=threshold, index_key=index_key)


def combine(shares: Iterable[str]) -> PrivateKey:
    """The recovery private key from enough shares; ``VaultError`` with a plain reason otherwise."""
    cleaned = [" ".join(s.split()).lower() for s in shares if s.strip()]
    try:
        secret = shamir_mnemonic.combine_mnemonics(cleaned)
    except shamir_mnemonic.MnemonicError as exc:
        raise crypto.VaultError(f"The recovery shares do not combine: {exc}") from exc
    private = PrivateKey(secret)
    stored = RecoveryKey.objects.order_by("-pk").values_list("public_key", flat=True).first()
    if stored is None or bytes(stored) != bytes(private.public_key):
        raise crypto.VaultError("These shares belong to another installation's recovery key.")
    return private


def recovery_keyring(private: PrivateKey, case_ids: Iterable[uuid.UUID] | None = None) -> Keyring:
    """A keyring holding what the recovery key opens: the index key and the keys of ``case_ids`` (all cases when
    None). The one place that unwraps the recovery wraps; ``recover`` and the test fixtures use it."""
    keyring = Keyring(None, None)
    opener = crypto.Opener(private)  # a batch's wraps share one shared-key computation
    index_sealed = IndexKeyWrap.objects.filter(holder=None).values_list("sealed", flat=True).first()
    if index_sealed is not None:
        keyring.adopt_index_key(opener.open(bytes(index_sealed)))
    wraps = CaseKeyWrap.objects.filter(holder=None)
    if case_ids is not None:
        wraps = wraps.filter(person_id__in=list(case_ids))
    for pid, sealed in wraps.values_list("person_id", "sealed").iterator():
        keyring.adopt_case_key(pid, opener.open(bytes(sealed)))
    return keyring


def recover(*, actor: User | None, shares: Iterable[str]) -> dict[str, int]:
    """Give every entitled user their wraps again, from the recovery key."""
    private = combine(shares)
    with transaction.atomic():
        keyring = recovery_keyring(private)
        case_ids = list(CaseKeyWrap.objects.filter(holder=None).values_list("person_id", flat=True))
        grants.sync(keyring, case_ids)
        cases = len(case_ids)
        users = 0
        if IndexKeyWrap.objects.filter(holder=None).exists():
            for user in User.objects.filter(is_active=True, pk__in=UserKey.objects.values("user_id")):
                grants.grant_index_key(keyring, user)
                users += 1
        PendingGrant.objects.all().delete()
        # The installation's sync identity (sealed to the coordinators, destroyed with theirs by the kill switch)
        # comes back from its recovery wrap too. Imported here: sync builds on the vault, not the other way.
        from waystation.sync.identity import identity_reshare

        holders = identity_reshare(private)
        audit_record(
            actor=actor, action="vault.recover", details={"cases": cases, "users": users, "identity_holders": holders}
        )
    return {"cases": cases, "users": users}
