"""The second factor (django-otp): a TOTP authenticator app, and single-use backup codes; passkeys beside them where
the browser offers WebAuthn (accounts.passkeys), never instead of them.

Every role signs in with a second factor: the four roles that see records must (DESIGN.md, protection model point 6),
and the analyst and the administrator do too, because an administrator's account can create users and unlock
accounts and an analyst's can be talked into exporting figures; one rule for everyone is also one rule to test.

A user without a confirmed device is sent to enrolment right after the password and reaches no other page before
confirming one code. A confirmed device cannot be replaced from a session that has not passed the second factor.
TOTP codes are single-use (django-otp keeps the last time step used) and throttled after failures; every wrong code
is a failed sign-in for the lockout (accounts.lockout).
"""

from __future__ import annotations

import re
from base64 import b32encode
from collections.abc import MutableMapping
from typing import Any

from django.db import transaction
from django.utils.safestring import SafeString
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.lib import qr

BACKUP_CODES = 10
TOTP_NAME = "authenticator"
BACKUP_NAME = "backup codes"


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


ENROL_SESSION_KEY = "waystation_enrol_device"


def pending_totp_device(user: User, session: MutableMapping[str, Any]) -> TOTPDevice:
    """The device being enrolled in THIS session, made on first need. Never one shown to another session: whoever
    saw the secret elsewhere (someone else holding the first password) must not end up holding the confirmed one."""
    device_id = session.get(ENROL_SESSION_KEY)
    device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first() if device_id else None
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
        session[ENROL_SESSION_KEY] = device.pk
    return device


def base32_secret(device: TOTPDevice) -> str:
    """The secret as an authenticator app asks for it (base32, without padding)."""
    return b32encode(device.bin_key).decode().rstrip("=")


def grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice, *, label: str) -> SafeString:
    """The device's otpauth:// URL as a QR code."""
    return qr.qr_svg(device.config_url, label=label)


def normalise(token: str) -> str:
    return re.sub(r"[\s-]", "", token or "").lower()


def is_totp_shaped(token: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", token))


def match_device(user: User, token: str) -> Device | None:
    """The confirmed device that accepts ``token`` (a TOTP code or an unused backup code), or None.

    Only the device the code's shape belongs to is asked, so a backup code does not count as a wrong TOTP code
    against the authenticator's throttling (and the other way round)."""
    token = normalise(token)
    if is_totp_shaped(token):
        devices: list[Device] = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    else:
        devices = list(StaticDevice.objects.filter(user=user, confirmed=True))
    for device in devices:
        if device.verify_token(token):
            return device
    return None


def new_backup_codes(*, actor: User, user: User) -> list[str]:
    """Replace the user's backup codes with ``BACKUP_CODES`` new ones (shown once, single use)."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(user=user, name=BACKUP_NAME, defaults={"confirmed": True})
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
        audit_record(actor=actor, action="auth.backup_codes_new", target=user)
    return codes


def confirm_enrolment(*, user: User, device: TOTPDevice) -> list[str]:
    """The first code was right: the device is the user's second factor; backup codes are made."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit_record(actor=user, action="auth.second_factor_enrolled", target=user)
        return new_backup_codes(actor=user, user=user)


def reset_second_factor(*, actor: User, user: User) -> None:
    """An administrator removes a user's devices, passkeys included (a lost phone): the user enrols again at the
    next sign-in."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        WebAuthnCredential.objects.filter(user=user).delete()
        audit_record(actor=actor, action="user.second_factor_reset", target=user)


def remaining_backup_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
