"""``sync now`` on a station: push this station's bundle to the hub, then pull the hub's bundle for it, over HTTPS
(TLS verified with the system's certificate authorities; plain HTTP only with ``WAYSTATION_DEV_HTTP=1``).

The hub knows the station by its signature alone (``sync.views``); the station knows the hub by the key it enrolled:
a pulled bundle goes through the same checks as a file (``services.bundle_import``).
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.sync import bundle as bundles
from waystation.sync.identity import SyncError, identity_open
from waystation.sync.models import Peer, PeerKind
from waystation.sync.services import (
    Imported,
    KillReceived,
    bundle_export,
    bundle_import,
    kill_notice_instead,
    kill_notice_receive,
    kill_notice_sent,
    peer_keys,
)
from waystation.vault.keyring import Keyring

TIMEOUT_SECONDS = 120
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class SyncResult:
    pushed_bytes: int
    pulled: Imported | None
    kill_sent: bool = False  # the kill switch was pulled here: only its notice was pushed
    kill_received: KillReceived | None = None  # the hub's kill notice, applied here


def hub_peer() -> Peer:
    hub = Peer.objects.filter(kind=PeerKind.HUB, revoked_at__isnull=True).first()
    if hub is None:
        raise SyncError(_("No hub is enrolled: enrol it first (waystation sync enrol --hub)."))
    if not hub.url:
        raise SyncError(_("The hub's address is not known: enrol it again with --url."))
    return hub


def endpoint(hub: Peer, action: str) -> str:
    url = hub.url.rstrip("/") + f"/sync/{action}/"
    if not url.startswith("https://") and not (settings.DEV_HTTP and url.startswith("http://")):
        raise SyncError(_("The hub's address must start with https:// (plain HTTP is for development only)."))
    return url


def post(url: str, data: bytes) -> tuple[int, bytes]:
    """The status and body of a POST; ``SyncError`` with the hub's own message when it refuses."""
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": CONTENT_TYPE})  # noqa: S310 - https, or http in development only (endpoint)
    context = ssl.create_default_context()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as response:  # noqa: S310
            return response.status, response.read(bundles.max_bundle_bytes() + 1)
    except urllib.error.HTTPError as exc:
        reason = exc.read(2000).decode("utf-8", errors="replace").strip()
        raise SyncError(_("The hub refused: %(reason)s") % {"reason": reason or exc.reason}) from None
    except (urllib.error.URLError, OSError) as exc:
        raise SyncError(_("The hub cannot be reached: %(reason)s") % {"reason": getattr(exc, "reason", exc)}) from None


def sync_now(*, actor: User, keyring: Keyring) -> SyncResult:
    hub = hub_peer()
    push_url, pull_url = endpoint(hub, "push"), endpoint(hub, "pull")
    notice = kill_notice_instead(peer=hub, keyring=keyring)
    if notice is not None:
        post(push_url, notice)
        kill_notice_sent(hub)
        return SyncResult(pushed_bytes=len(notice), pulled=None, kill_sent=True)
    exported = bundle_export(actor=actor, keyring=keyring, peer=hub)
    post(push_url, exported.data)
    request = bundles.pull_request(station=identity_open(keyring), hub=peer_keys(hub), after=hub.last_received_sequence)
    status, body = post(pull_url, request)
    if status == 200 and bundles.is_kill_notice(body):
        return SyncResult(
            pushed_bytes=exported.size, pulled=None, kill_received=kill_notice_receive(actor=actor, data=body)
        )
    pulled = bundle_import(actor=actor, keyring=keyring, data=body) if status == 200 and body else None
    return SyncResult(pushed_bytes=exported.size, pulled=pulled)
