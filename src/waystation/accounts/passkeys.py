"""Passkeys (WebAuthn) as a second factor, beside the authenticator app (TOTP) and the backup codes, which stay.

django-otp-webauthn gives the credential model (a django-otp device) and the ceremony (py_webauthn's checks of the
challenge, relying party id, origin, signature and signature counter); its own JSON views are not used. They would
skip this project's bookkeeping (audit, lockout, re-authentication) and offer passwordless sign-in, while here the
password opens the user's keys and is never skipped. Instead:

- the server puts a ceremony's options in the page (``json_script``) and keeps its challenge in the session, used
  once; ``web/static/web/passkeys.js`` asks the browser's authenticator and posts its answer in an ordinary form
  (CSRF token, no inline script), where WebAuthn exists and this page's host can use the relying party id;
- at the second step (accounts.signin.two_factor) an answer that verifies counts exactly like a right TOTP code, and
  one that does not counts as a wrong code for the lockout;
- adding and removing a passkey are key changes: the page and both actions need a recent password and code
  (accounts.reauth). A removed passkey no longer verifies any session, this one included.

The relying party id and the accepted origins come from the settings (``OTP_WEBAUTHN_RP_ID``,
``OTP_WEBAUTHN_ALLOWED_ORIGINS``). The audit trail gets the passkey's id, never the name the user gave it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError, IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from waystation.accounts.models import User
from waystation.accounts.reauth import require_recent_auth
from waystation.audit.services import audit_record
from waystation.web.types import AuthedHttpRequest

logger = logging.getLogger(__name__)

REGISTER_STATE = "waystation_passkey_register"
AUTHENTICATE_STATE = "waystation_passkey_authenticate"
CREDENTIAL_MAX = 32_768  # an answer with attestation "none" is well under 2 KB; a certificate chain a few KB


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's helper (``OTP_WEBAUTHN_HELPER_CLASS``): the development origin added, and the username
    as the only name the device keeps."""

    def get_allowed_origins(self) -> list[str]:
        origins = list(super().get_allowed_origins())
        if settings.DEV_HTTP:
            # Plain HTTP is a secure context only on localhost; the demo and the tests' live server use any port.
            host = self.request.get_host()
            if split_domain_port(host)[0] == "localhost":
                origins.append(f"http://{host}")
        return origins

    def get_credential_display_name(self, user: User) -> str:
        # The work alias only, never a full name: a passkey's names can be read on the device, which may be searched.
        return user.get_username()


def passkeys_of(user: User) -> list[WebAuthnCredential]:
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk"))


def has_passkey(user: User) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def _parse(credential: str) -> dict[str, Any] | None:
    try:
        data = json.loads(credential)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refused(what: str, exc: Exception) -> None:
    # Which check failed (an origin, a challenge, a signature) helps an operator with a misconfigured origin. The
    # message may quote what the browser sent: shortened and escaped (repr), so it cannot forge log lines.
    logger.warning("passkey %s refused: %s: %r", what, type(exc).__name__, str(exc)[:200])


def registration_options(request: HttpRequest, user: User) -> dict[str, Any]:
    """The options for adding a passkey (the user's existing ones excluded); the challenge waits in the session."""
    options, state = PasskeyHelper(request).register_begin(user=user)
    request.session[REGISTER_STATE] = state
    return options


def passkey_add(*, request: HttpRequest, user: User, name: str, credential: str) -> WebAuthnCredential | None:
    """Verify the browser's answer to this session's registration challenge and keep the passkey under ``name``.

    None when it does not verify (the challenge is used up either way)."""
    state = request.session.pop(REGISTER_STATE, None)
    data = _parse(credential)
    if not state or data is None:
        return None
    try:
        with transaction.atomic():
            passkey = PasskeyHelper(request).register_complete(user=user, state=state, data=data)
            passkey.name = name
            passkey.save(update_fields=["name"])
            audit_record(actor=user, action="auth.passkey_added", target=user, details={"passkey": passkey.pk})
    except IntegrityError:  # this very credential is registered already
        return None
    except DatabaseError:
        raise
    except Exception as exc:  # py_webauthn raises many kinds for answers that do not verify or do not parse
        _refused("registration", exc)
        return None
    return passkey


def authentication_options(request: HttpRequest, user: User) -> dict[str, Any]:
    """The options for using one of ``user``'s passkeys; the challenge waits in the session."""
    # User verification (a PIN, a fingerprint) is not required: the password was the first factor.
    options, state = PasskeyHelper(request).authenticate_begin(user=user, require_user_verification=False)
    request.session[AUTHENTICATE_STATE] = state
    return options


def verify_assertion(request: HttpRequest, user: User, credential: str) -> WebAuthnCredential | None:
    """The passkey of ``user``'s that signed this session's challenge, or None (the challenge is used up either way).

    A passkey of another user, an answer for another site, a replayed or cloned answer: None."""
    state = request.session.pop(AUTHENTICATE_STATE, None)
    data = _parse(credential)
    if not state or data is None:
        return None
    try:
        passkey = PasskeyHelper(request).authenticate_complete(user=user, state=state, data=data)
    except DatabaseError:
        raise
    except Exception as exc:  # as in passkey_add
        _refused("assertion", exc)
        return None
    return passkey if passkey.confirmed and passkey.user_id == user.pk else None


def passkey_remove(*, actor: User, passkey: WebAuthnCredential) -> None:
    with transaction.atomic():
        passkey_id = passkey.pk
        passkey.delete()
        audit_record(actor=actor, action="auth.passkey_removed", target=passkey.user, details={"passkey": passkey_id})


# --- views -----------------------------------------------------------------------------------------------------------


class PasskeyAddForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of the passkey"),
        max_length=64,
        help_text=gettext_lazy("So that you can tell your passkeys apart, for example “work laptop”."),
    )
    credential = forms.CharField(max_length=CREDENTIAL_MAX, widget=forms.HiddenInput)


def _page(request: AuthedHttpRequest, form: PasskeyAddForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "passkeys": passkeys_of(request.user),
        "options": registration_options(request, request.user),
    }
    return render(request, "accounts/two_factor_passkeys.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD"])
@require_recent_auth
def passkey_list(request: AuthedHttpRequest) -> HttpResponse:
    """The user's passkeys, and the form that adds one. Behind re-authentication, so that the browser's ceremony
    does not start in a session that would then be refused its result."""
    return _page(request, PasskeyAddForm())


@never_cache
@require_POST
@require_recent_auth(back="passkeys:list")
def passkey_add_view(request: AuthedHttpRequest) -> HttpResponse:
    form = PasskeyAddForm(request.POST)
    if form.is_valid():
        passkey = passkey_add(
            request=request,
            user=request.user,
            name=form.cleaned_data["name"],
            credential=form.cleaned_data["credential"],
        )
        if passkey is not None:
            messages.success(request, _("The passkey is added. Use it at the second step of your next sign-in."))
            return redirect("passkeys:list")
        form.add_error(None, _("The passkey could not be added. Try again, or with another device."))
    elif "credential" in form.errors and "name" not in form.errors:
        form.add_error(None, _("The passkey could not be added. Try again, or with another device."))
    return _page(request, form)


@never_cache
@require_POST
@require_recent_auth(back="passkeys:list")
def passkey_remove_view(request: AuthedHttpRequest) -> HttpResponse:
    raw_id = request.POST.get("passkey", "")
    well_formed = raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18
    passkey = WebAuthnCredential.objects.filter(pk=int(raw_id), user=request.user).first() if well_formed else None
    if passkey is None:  # someone else's, or none at all: not known here
        raise Http404
    passkey_remove(actor=request.user, passkey=passkey)
    messages.success(request, _("The passkey is removed."))
    return redirect("passkeys:list")


app_name = "passkeys"
urlpatterns = [
    path("", passkey_list, name="list"),
    path("add/", passkey_add_view, name="add"),
    path("remove/", passkey_remove_view, name="remove"),
]
