"""API tokens: scopes tied to roles, creation (shown once), checking a presented token, and revocation.

A token reads ``wst_<key_id>_<secret>``: ``key_id`` finds the row, ``secret`` is 256 random bits of which only the
SHA-256 is stored. At creation the user's private key (from a signed-in session's key agent, or from the password
at the command line) is wrapped under ``HKDF-SHA256(secret)`` with AES-256-GCM, the associated data binding the
token and the user; a request with the token unwraps it into a keyring for that request only (``api.auth``), never
into the agent. Revoking or expiry deletes the wrap: the token then opens nothing even if its hash were forged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from nacl.public import PrivateKey

from waystation.accounts.models import Role, User
from waystation.api.models import ApiToken, TokenKeyWrap
from waystation.audit.services import audit_record
from waystation.lib.errors import ServiceError
from waystation.vault import crypto
from waystation.vault.models import UserKey

PREFIX = "wst"
SECRET_BYTES = 32
MAX_DAYS = 365
DEFAULT_DAYS = 30


class Scope:
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    MOVEMENTS_WRITE = "movements:write"
    SERVICES_WRITE = "services:write"
    STATIONS_READ = "stations:read"
    FIGURES_READ = "figures:read"


ALL_SCOPES = (
    Scope.CASES_READ,
    Scope.CASES_WRITE,
    Scope.MOVEMENTS_WRITE,
    Scope.SERVICES_WRITE,
    Scope.STATIONS_READ,
    Scope.FIGURES_READ,
)

# What each role's tokens may carry: never more than the role may do on the pages (``cases.access``,
# ``network.access``). Analysts read released figures only, never a record; auditors and administrators get none.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.KEEPER: frozenset({Scope.CASES_READ, Scope.MOVEMENTS_WRITE, Scope.STATIONS_READ}),
    Role.CASEWORKER: frozenset({Scope.CASES_READ, Scope.CASES_WRITE, Scope.SERVICES_WRITE, Scope.STATIONS_READ}),
    Role.COORDINATOR: frozenset(
        {Scope.CASES_READ, Scope.CASES_WRITE, Scope.MOVEMENTS_WRITE, Scope.SERVICES_WRITE, Scope.STATIONS_READ}
    ),
    Role.ANALYST: frozenset({Scope.FIGURES_READ}),
}


def scopes_for(user: User) -> frozenset[str]:
    if not user.is_active or user.under_duress:
        return frozenset()
    return ROLE_SCOPES.get(user.role, frozenset())


def _kek(secret: bytes, key_id: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=crypto.KEY_BYTES,
        salt=None,
        info=b"waystation-api-token\x1f" + key_id.encode(),
    )
    return hkdf.derive(secret)


def _ad(token: ApiToken) -> bytes:
    return b"waystation-api-token-wrap\x1f" + f"{token.pk}\x1f{token.key_id}\x1f{token.user_id}".encode()


def _digest(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def _encode(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode().rstrip("=")


def _decode(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    return raw if len(raw) == SECRET_BYTES else None


@dataclass(frozen=True)
class Created:
    token: ApiToken
    plaintext: str  # shown once, never stored


def token_create(
    *, actor: User, private_key: PrivateKey, name: str, scopes: list[str] | None = None, days: int = DEFAULT_DAYS
) -> Created:
    """A token for ``actor`` (their own), with ``scopes`` (default: all their role allows), valid ``days`` days."""
    allowed = scopes_for(actor)
    if not allowed:
        raise ServiceError(_("Your role cannot use the API."))
    wanted = sorted(set(scopes) if scopes else allowed)
    beyond = [s for s in wanted if s not in allowed]
    if beyond:
        raise ServiceError(_("Your role does not allow these scopes: %(scopes)s.") % {"scopes": ", ".join(beyond)})
    name = name.strip()
    if not name or len(name) > 60:
        raise ServiceError(_("Name the token (at most 60 characters), e.g. after the device that uses it."))
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(_("A token is valid for 1 to %(days)s days.") % {"days": MAX_DAYS})
    user_key = UserKey.objects.filter(user=actor).first()
    if user_key is None or bytes(user_key.public_key) != bytes(private_key.public_key):
        raise ServiceError(_("Your keys are not open: sign in again."))
    secret = secrets.token_bytes(SECRET_BYTES)
    key_id = secrets.token_hex(8)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            key_id=key_id,
            secret_hash=_digest(secret),
            scopes=wanted,
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        wrapped = crypto.encrypt(_kek(secret, key_id), bytes(private_key), _ad(token))
        TokenKeyWrap.objects.create(token=token, user_key=user_key, wrapped_private=wrapped)
        audit_record(
            actor=actor,
            action="api.token_created",
            target=token,
            details={"scopes": wanted, "days": days},
        )
    return Created(token, f"{PREFIX}_{key_id}_{_encode(secret)}")


def _forget_wraps(tokens: object) -> int:
    deleted, _rows = TokenKeyWrap.objects.filter(token__in=tokens).delete()
    return deleted


def forget_expired() -> int:
    """Delete the wraps of every expired token (each request does this, so a token unused since it expired does not
    keep its wrap until it is presented again)."""
    return _forget_wraps(ApiToken.objects.filter(expires_at__lte=timezone.now()))


def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    if token.revoked:
        raise ServiceError(_("This token is already revoked."))
    with transaction.atomic():
        token.revoked = True
        token.save(update_fields=["revoked"])
        _forget_wraps(ApiToken.objects.filter(pk=token.pk))
        audit_record(actor=actor, action="api.token_revoked", target=token)
    return token


def tokens_revoke_for_user(*, actor: User | None, user: User) -> int:
    """Every token of ``user`` revoked and its wrap deleted (deactivation, duress). Returns how many."""
    with transaction.atomic():
        live = ApiToken.objects.filter(user=user, revoked=False)
        ids = list(live.values_list("pk", flat=True))
        live.update(revoked=True)
        _forget_wraps(ApiToken.objects.filter(user=user))
        if ids:
            audit_record(actor=actor, action="api.tokens_revoked", target=user, details={"tokens": ids})
    return len(ids)


def destroy_all_wraps() -> int:
    """The kill switch: no token opens anything any more (the tokens stay listed, useless, until revoked)."""
    deleted, _rows = TokenKeyWrap.objects.all().delete()
    return deleted


@dataclass
class Caller:
    """Who a request with a valid token acts as, and the private key its token opened for this request."""

    token: ApiToken
    user: User
    private_key: PrivateKey


def _parse(presented: str) -> tuple[str, bytes] | None:
    parts = presented.split("_", 2)  # the secret (URL-safe base64) may itself hold "_"
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16:
        return None
    secret = _decode(parts[2])
    return (parts[1], secret) if secret is not None else None


def caller_for(presented: str) -> Caller | None:
    """The caller a presented token stands for, or None (unknown, forged, revoked, expired, owner gone or under
    duress, wrap deleted). A refusal of a known token is audited."""
    forget_expired()
    parsed = _parse(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    token = ApiToken.objects.select_related("user").filter(key_id=key_id).first()
    if token is None:
        return None
    if not hmac.compare_digest(token.secret_hash, _digest(secret)):
        audit_record(actor=None, action="api.token_refused", target=token, details={"reason": "secret"})
        return None
    user = token.user
    reason = None
    if token.revoked:
        reason = "revoked"
    elif token.expired:
        reason = "expired"
    elif not scopes_for(user):
        reason = "user"
    private = None if reason else _unwrap(token, secret)
    if private is None:
        audit_record(actor=None, action="api.token_refused", target=token, details={"reason": reason or "keys"})
        return None
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    return Caller(token=token, user=user, private_key=private)


def _unwrap(token: ApiToken, secret: bytes) -> PrivateKey | None:
    wrap = TokenKeyWrap.objects.select_related("user_key").filter(token=token).first()
    if wrap is None or wrap.user_key.user_id != token.user_id:
        return None
    try:
        raw = crypto.decrypt(_kek(secret, token.key_id), bytes(wrap.wrapped_private), _ad(token))
    except crypto.Tampered:
        return None
    private = PrivateKey(raw)
    # A key pair replaced since (an administrator's password reset) is not this one: the token opens nothing.
    if bytes(private.public_key) != bytes(wrap.user_key.public_key):
        return None
    return private
