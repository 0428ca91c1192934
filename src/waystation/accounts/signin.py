"""Signing in: the password (Django's LoginView, with the lockout), then the second factor, or its enrolment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.middleware import is_verified
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice

from waystation.accounts import duress, passkeys, second_factor
from waystation.accounts.forms import EnrolForm, TokenForm
from waystation.accounts.lockout import is_locked, second_factor_failed, username_key
from waystation.accounts.sessions import mark_reauthenticated
from waystation.audit.services import audit_record
from waystation.vault.session import open_keys, pay_grants
from waystation.web.types import AuthedHttpRequest


def second_step_url(next_url: str) -> str:
    return f"{reverse('accounts:two_factor')}?{urlencode({'next': next_url})}"


class SignInView(LoginView):
    """The password step. A right password leads to the second step, never straight to ``next``."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user, password = form.get_user(), form.cleaned_data["password"]
        decoy = duress.prepare_sign_in(self.request, user, password)  # the duress password: keys destroyed, silently
        response = super().form_valid(form)  # signs in (a new session key), then the vault opens the user's keys
        if decoy is not None:
            duress.hold_keys(self.request, user, decoy)
        elif not open_keys(self.request, user, password):
            logout(self.request)
            # Said plainly (the password was right, the stored key material is not): the user can do nothing else.
            self.extra_context = {"keys_failed": _("Your keys could not be opened. Ask a coordinator for help.")}
            return self.form_invalid(form)
        return response

    def get_success_url(self) -> str:
        next_url = super().get_success_url()
        if getattr(self.request.user, "otp_device", None) is not None:  # already past the second step
            return next_url
        return second_step_url(next_url)


def _next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _passed(request: AuthedHttpRequest) -> None:
    """Both factors passed: forget this address's failed attempts for this user (not other addresses'), and count
    it as a fresh proof for the actions that need recent authentication (accounts.reauth)."""
    mark_reauthenticated(request.session)
    AxesProxyHandler.reset_attempts(
        username=username_key(request.user.username), ip_address=get_client_ip_address(request)
    )
    pay_grants(request.user)


def _failed(request: AuthedHttpRequest) -> HttpResponse | None:
    """A wrong code: a failed sign-in. Once that locks the account, the half-signed-in session ends."""
    user = request.user
    second_factor_failed(request, user)
    if is_locked(request, user.username):
        logout(request)
        return redirect("accounts:login")
    return None


def _second_factor_passed(request: AuthedHttpRequest, device: Device, method: str, next_url: str) -> HttpResponse:
    request.session.pop(passkeys.AUTHENTICATE_STATE, None)
    otp_login(request, device)
    _passed(request)
    audit_record(actor=request.user, action="auth.second_factor", target=request.user, details={"method": method})
    return redirect(next_url)


@sensitive_post_parameters("token", "credential")
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def two_factor(request: AuthedHttpRequest) -> HttpResponse:
    """The second step: a 6-digit code from the authenticator app, a backup code, or one of the user's passkeys
    (posted as ``credential`` by web/static/web/passkeys.js, where the browser offers WebAuthn)."""
    next_url = _next(request)
    user = request.user
    if is_verified(user):
        return redirect(next_url)
    if not second_factor.has_confirmed_device(user):
        return redirect(f"{reverse('accounts:two_factor_setup')}?{urlencode({'next': next_url})}")
    if is_locked(request, user.username):
        logout(request)
        return redirect("accounts:login")
    passkey_error = ""
    form = TokenForm(request.POST if request.method == "POST" and "credential" not in request.POST else None)
    if request.method == "POST" and "credential" in request.POST:
        passkey = passkeys.verify_assertion(request, user, request.POST["credential"][: passkeys.CREDENTIAL_MAX])
        if passkey is not None:
            return _second_factor_passed(request, passkey, "passkey", next_url)
        locked_out = _failed(request)
        if locked_out is not None:
            return locked_out
        passkey_error = _("The passkey was not accepted. Try again, or use a code.")
    elif request.method == "POST" and form.is_valid():
        device = second_factor.match_device(user, form.cleaned_data["token"])
        if device is not None:
            method = "backup_code" if isinstance(device, StaticDevice) else "totp"
            return _second_factor_passed(request, device, method, next_url)
        locked_out = _failed(request)
        if locked_out is not None:
            return locked_out
        form.add_error("token", _("The code is not right. Wait for a new code in your app and try again."))
    context = {
        "form": form,
        "next": next_url,
        "passkey_options": passkeys.authentication_options(request, user) if passkeys.has_passkey(user) else None,
        "passkey_error": passkey_error,
    }
    return render(request, "accounts/two_factor.html", context)


@sensitive_post_parameters("token")
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: AuthedHttpRequest) -> HttpResponse:
    """Enrolment: the secret as text and as a QR code; one right code confirms it. Only without a confirmed device."""
    next_url = _next(request)
    user = request.user
    if second_factor.has_confirmed_device(user):
        return redirect(next_url if is_verified(user) else second_step_url(next_url))
    if is_locked(request, user.username):
        logout(request)
        return redirect("accounts:login")
    device = second_factor.pending_totp_device(user, request.session)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = second_factor.normalise(form.cleaned_data["token"])
        if second_factor.is_totp_shaped(token) and device.verify_token(token):
            codes = second_factor.confirm_enrolment(user=user, device=device)
            otp_login(request, device)
            _passed(request)
            return render(request, "accounts/backup_codes.html", {"codes": codes, "next": next_url})
        locked_out = _failed(request)
        if locked_out is not None:
            return locked_out
        form.add_error("token", _("The code is not right. Check that the app shows Waystation and try again."))
    secret = second_factor.base32_secret(device)
    context = {
        "form": form,
        "next": next_url,
        "secret": second_factor.grouped(secret),
        "qr": second_factor.qr_svg(device, label=_("QR code of the secret")),
    }
    return render(request, "accounts/two_factor_setup.html", context)
