"""Sync from the web: this installation's fingerprint and QR code, enrolling and revoking peers (coordinators and
administrators, after a recent password and code), and on the hub, importing what stations pushed.

``push`` and ``pull`` are the network endpoints: not signed in and exempt from CSRF, because the signature and the
enrolment are their authentication (``services.bundle_check``, ``services.pull_answer``); capped in size. They act
without any user's keys: a push is checked with public keys and queued still encrypted; a pull is answered with a
bundle a coordinator prepared earlier.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from waystation.accounts.lockout import client_ip
from waystation.accounts.reauth import require_recent_auth
from waystation.api.auth import SettingRateThrottle
from waystation.sync import services
from waystation.sync.access import can_exchange, peer_for_user, require_manage_peers
from waystation.sync.bundle import BundleRefused, is_kill_notice, max_bundle_bytes
from waystation.sync.forms import EnrolForm
from waystation.sync.identity import SyncError, identity_ensure, parse_key_string, qr_svg
from waystation.sync.models import Peer, QueuedBundle
from waystation.vault.keyring import keyring_for
from waystation.vault.setup import is_initialised
from waystation.web.types import AuthedHttpRequest


@require_http_methods(["GET"])
def home(request: AuthedHttpRequest) -> HttpResponse:
    require_manage_peers(request.user)
    own = identity_ensure(actor=request.user) if is_initialised() else None
    queued = {
        direction: QueuedBundle.objects.filter(direction=direction).count() for direction in QueuedBundle.Direction
    }
    context = {
        "own": own,
        "qr": qr_svg(own, label=_("This installation's key as a QR code")) if own else None,
        "peers": Peer.objects.select_related("station"),
        "inbox": queued[QueuedBundle.Direction.INBOX],
        "outbox": queued[QueuedBundle.Direction.OUTBOX],
        "can_exchange": can_exchange(request.user),
    }
    return render(request, "sync/home.html", context)


@require_http_methods(["GET", "POST"])
@require_recent_auth
def enrol(request: AuthedHttpRequest) -> HttpResponse:
    require_manage_peers(request.user)
    form = EnrolForm(request.POST or None)
    fingerprint = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            fingerprint = parse_key_string(data["key"]).fingerprint()
            if not data["fingerprints_match"]:
                raise SyncError(
                    _("Compare the fingerprint below with the other installation's, then tick that they match."),
                    field="fingerprints_match",
                )
            peer = services.peer_enrol(
                actor=request.user,
                name=data["name"],
                key_string=data["key"],
                kind=data["kind"],
                station=data["station"],
                url=data["url"].strip(),
            )
        except SyncError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("%(name)s is enrolled.") % {"name": peer.name})
            return redirect("sync:home")
    return render(request, "sync/enrol.html", {"form": form, "fingerprint": fingerprint})


@require_POST
@require_recent_auth(back="sync:home")
def revoke(request: AuthedHttpRequest) -> HttpResponse:
    peer = peer_for_user(request.user, request.POST.get("name", ""))
    try:
        services.peer_revoke(actor=request.user, peer=peer)
    except SyncError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is revoked: its bundles are refused from now on.") % {"name": peer.name})
    return redirect("sync:home")


@require_POST
@require_recent_auth(back="sync:home")
def process(request: AuthedHttpRequest) -> HttpResponse:
    """On the hub: import the bundles stations pushed, and prepare one for each station to pull."""
    if not can_exchange(request.user):
        raise PermissionDenied
    try:
        counts = services.hub_process(actor=request.user, keyring=keyring_for(request.user))
    except SyncError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Bundles imported: %(imported)s; refused: %(refused)s; prepared for stations to pull: %(prepared)s.")
            % counts,
        )
    return redirect("sync:home")


# --- the network endpoints -------------------------------------------------------------------------------------------


def _refusal(message: str, *, status: int = 400) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class AddressRateThrottle(SettingRateThrottle):
    """``SYNC_REQUESTS_PER_MINUTE`` pushes and pulls a minute per address (the sign-in lockout's address: behind the
    one trusted proxy, the entry it appended). Counted before the body is read; a request is not signed in, and
    its signature is checked only after, so the address is what is known of the sender then."""

    scope = "sync_address"
    setting = "SYNC_REQUESTS_PER_MINUTE"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}


def _endpoint(handle: Callable[[bytes], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A network endpoint: a POST whose body (capped in size) ``handle`` answers; a refusal is a 400 saying why,
    429 over the rate limit."""

    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        throttle = AddressRateThrottle()
        if not throttle.allow_request(request):
            refused = _refusal(_("Too many requests from this address. Wait a moment and try again."), status=429)
            refused["Retry-After"] = str(max(1, int(throttle.wait() or 1)))
            return refused
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > max_bundle_bytes():
            return _refusal(_("The bundle is larger than this installation accepts."), status=413)
        try:
            return handle(request.read(length))
        except BundleRefused as exc:
            return _refusal(exc.message)

    return view


def _queued(data: bytes) -> HttpResponse:
    if is_kill_notice(data):  # a station's kill switch: acted on at once, it needs no private key
        services.kill_notice_receive(actor=None, data=data)
    else:
        services.bundle_queue(data=data)
    return HttpResponse(_("Received."), status=202, content_type="text/plain; charset=utf-8")


def _answered(data: bytes) -> HttpResponse:
    answer = services.pull_answer(data=data)
    if answer is None:
        return HttpResponse(status=204)
    return HttpResponse(answer, content_type="application/octet-stream")


push = _endpoint(_queued)
pull = _endpoint(_answered)
