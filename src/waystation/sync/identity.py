"""This installation's identity: an Ed25519 key that signs its bundles and an X25519 key that bundles to it are
encrypted to, shown to people as a key string, a fingerprint and a QR code.

Where the private halves live (the laptop may be seized): never in the clear, neither in the database nor in the
data folder. The two private keys are sealed, like a case's data key (``vault.crypto.seal_to``), to the public key of
every active coordinator and to the organisation's recovery key. A coordinator's own private key is opened only by
their password (Argon2id, ``vault.userkeys``), so exporting or importing a bundle needs a coordinator who gives their
password (``waystation sync ... --as``) or is signed in; with nobody signed in the identity cannot sign or decrypt
anything, and a seized database holds only sealed bytes. Administrators enrol and revoke peers, which needs the
public halves only, and are never given the private ones. A coordinator added later, or one whose key pair was
replaced, is given a wrap the next time any holder opens the identity (``identity_open``), and one who is no longer an
active coordinator loses theirs then. The kill switch destroys every holder's wrap with the users' other wraps
(``identity_wraps_destroy``); the recovery shares give it back (``identity_reshare``). The identity is made the
first time it is needed, once the vault is set up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.db import transaction
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from nacl.public import PrivateKey

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.lib import qr
from waystation.lib.errors import ServiceError
from waystation.sync.models import Identity, IdentityKeyWrap
from waystation.vault import crypto
from waystation.vault.keyring import Keyring
from waystation.vault.models import RecoveryKey, UserKey

KEY_STRING_PREFIX = "ws1:"
KEY_BYTES = 32
CHECK_BYTES = 4


class SyncError(ServiceError):
    """A sync action was refused; the message (translated) says why."""


@dataclass(frozen=True)
class PublicKeys:
    signing: bytes
    encryption: bytes

    @property
    def key_id(self) -> str:
        """The stable name of an installation: hex SHA-256 of its signing key (also ``peer`` for the change log)."""
        return hashlib.sha256(self.signing).hexdigest()

    def key_string(self) -> str:
        """What one installation gives another to enrol it: both keys and a checksum, in one pasteable line."""
        raw = self.signing + self.encryption
        check = hashlib.sha256(raw).digest()[:CHECK_BYTES]
        return KEY_STRING_PREFIX + base64.urlsafe_b64encode(raw + check).decode().rstrip("=")

    def fingerprint(self) -> str:
        """Twelve groups of five digits (as Signal's safety numbers), compared aloud or side by side."""
        digest = hashlib.sha512(b"waystation-fingerprint-v1\x1f" + self.signing + self.encryption).digest()
        groups = [int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 60, 5)]
        return " ".join(f"{g:05d}" for g in groups)


@dataclass(frozen=True)
class IdentityKeys:
    """The private halves, opened for one unit of work and then dropped."""

    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey
    public: PublicKeys


def parse_key_string(text: str) -> PublicKeys:
    """The keys in a key string, whitespace ignored; ``SyncError`` for anything mistyped or damaged."""
    cleaned = re.sub(r"\s+", "", text or "")
    refused = SyncError(_("This is not a Waystation key string, or it was copied incompletely."))
    if not cleaned.startswith(KEY_STRING_PREFIX):
        raise refused
    body = cleaned[len(KEY_STRING_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise refused from None
    if (
        len(raw) != 2 * KEY_BYTES + CHECK_BYTES
        or hashlib.sha256(raw[:-CHECK_BYTES]).digest()[:CHECK_BYTES] != raw[-CHECK_BYTES:]
    ):
        raise refused
    return PublicKeys(signing=raw[:KEY_BYTES], encryption=raw[KEY_BYTES : 2 * KEY_BYTES])


def qr_svg(public: PublicKeys, *, label: str) -> SafeString:
    """The key string as a QR code."""
    return qr.qr_svg(public.key_string(), label=label, size=240)


def public_keys() -> PublicKeys | None:
    identity = Identity.objects.order_by("pk").first()
    if identity is None:
        return None
    return PublicKeys(signing=bytes(identity.signing_public), encryption=bytes(identity.encryption_public))


def _holders() -> list[tuple[User, bytes]]:
    """Who is given the private halves: active coordinators with a key pair."""
    users = User.objects.filter(is_active=True, role=Role.COORDINATOR, under_duress=False)
    keys = dict(UserKey.objects.filter(user__in=users).values_list("user_id", "public_key"))
    return [(user, bytes(keys[user.pk])) for user in users if user.pk in keys]


def _secret(signing: Ed25519PrivateKey, encryption: X25519PrivateKey) -> bytes:
    return signing.private_bytes_raw() + encryption.private_bytes_raw()


def identity_ensure(*, actor: User | None) -> PublicKeys:
    """This installation's public keys, made (with their wraps) the first time."""
    with transaction.atomic():
        present = public_keys()
        if present is not None:
            return present
        recovery = RecoveryKey.objects.order_by("-pk").values_list("public_key", flat=True).first()
        if recovery is None:
            raise SyncError(_("Set the vault up first (waystation vault init): the identity's keys are kept in it."))
        signing, encryption = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
        public = PublicKeys(
            signing=signing.public_key().public_bytes_raw(), encryption=encryption.public_key().public_bytes_raw()
        )
        identity = Identity.objects.create(signing_public=public.signing, encryption_public=public.encryption)
        secret = _secret(signing, encryption)
        wraps = [IdentityKeyWrap(identity=identity, holder=None, holder_public=bytes(recovery), sealed=b"")]
        wraps += [IdentityKeyWrap(identity=identity, holder=u, holder_public=k, sealed=b"") for u, k in _holders()]
        for wrap in wraps:
            wrap.sealed = crypto.seal_to(bytes(wrap.holder_public), secret)
        IdentityKeyWrap.objects.bulk_create(wraps)
        audit_record(
            actor=actor, action="sync.identity_created", details={"key_id": public.key_id, "holders": len(wraps)}
        )
    return public


def identity_open(keyring: Keyring) -> IdentityKeys:
    """The private halves, from the acting coordinator's wrap; gives a wrap to coordinators who lack one."""
    user = keyring.user
    identity = Identity.objects.order_by("pk").first()
    if identity is None or user is None or keyring.private_key is None:
        raise SyncError(_("This installation's keys cannot be opened: a coordinator's password is needed."))
    own_public = bytes(keyring.private_key.public_key)
    wrap = IdentityKeyWrap.objects.filter(identity=identity, holder=user).first()
    if wrap is None or bytes(wrap.holder_public) != own_public:
        raise SyncError(
            _("You do not hold this installation's keys yet: another coordinator signs in once to give them to you.")
        )
    try:
        secret = crypto.unseal(keyring.private_key, bytes(wrap.sealed))
    except crypto.VaultError:
        raise SyncError(_("This installation's keys failed to open: their stored copy was changed.")) from None
    signing = Ed25519PrivateKey.from_private_bytes(secret[:KEY_BYTES])
    encryption = X25519PrivateKey.from_private_bytes(secret[KEY_BYTES:])
    public = PublicKeys(
        signing=signing.public_key().public_bytes_raw(), encryption=encryption.public_key().public_bytes_raw()
    )
    if public.signing != bytes(identity.signing_public) or public.encryption != bytes(identity.encryption_public):
        raise SyncError(_("This installation's keys failed to open: their stored copy was changed."))
    _share(identity, secret)
    return IdentityKeys(signing=signing, encryption=encryption, public=public)


def _share(identity: Identity, secret: bytes) -> None:
    """Seal the identity to every coordinator who has no wrap, or a wrap to a key pair they no longer have; take it
    from holders who are no longer active coordinators."""
    holders = _holders()
    IdentityKeyWrap.objects.filter(identity=identity, holder__isnull=False).exclude(
        holder__in=[user for user, _public in holders]
    ).delete()
    current = {
        holder: bytes(public)
        for holder, public in IdentityKeyWrap.objects.filter(identity=identity, holder__isnull=False).values_list(
            "holder_id", "holder_public"
        )
    }
    for user, public in holders:
        if current.get(user.pk) == public:
            continue
        IdentityKeyWrap.objects.update_or_create(
            identity=identity,
            holder=user,
            defaults={"holder_public": public, "sealed": crypto.seal_to(public, secret)},
        )


def identity_wraps_destroy() -> int:
    """Every holder's wrap (not the recovery key's), as the kill switch destroys the users' other wraps."""
    deleted, _kinds = IdentityKeyWrap.objects.filter(holder__isnull=False).delete()
    return deleted


def identity_reshare(recovery_private: PrivateKey) -> int:
    """After the kill switch: seal the identity again to every active coordinator, from the recovery wrap (for
    ``vault.setup.recover``, which holds the recovery private key). The number of holders."""
    identity = Identity.objects.order_by("pk").first()
    wrap = IdentityKeyWrap.objects.filter(identity=identity, holder__isnull=True).first()
    if identity is None or wrap is None:
        return 0
    _share(identity, crypto.unseal(recovery_private, bytes(wrap.sealed)))
    return IdentityKeyWrap.objects.filter(identity=identity, holder__isnull=False).count()
