"""Enrolling and revoking peers, and exchanging bundles with them: each a keyword-only function, one transaction,
its audit event inside it (counts and peer names only, never content).

Refusals are :class:`BundleRefused` (a bundle) or :class:`SyncError` (anything else), raised before anything is
changed; a refused bundle is audited as ``sync.bundle_refused`` with the peer's name when it is known.

On the hub, the network endpoints act with no signed-in user (``sync.views``): a pushed bundle is checked with
public keys only and queued, still encrypted (``bundle_queue``); a coordinator imports the queue and prepares the
bundles that stations pull (``hub_process``). The hub's private keys are never opened by a request.

The kill switch travels as a **kill notice** (``sync.bundle``), not in the change log: pulled here, it is signed for
every enrolled peer in the transaction that pulls it, while the acting coordinator's keys can still open this
installation's identity (``kill_announce``); checking and applying a notice needs public keys only
(``kill_notice_receive``). The semantics, by the rule "leak less, lose nothing recoverable":

- a kill at the **hub** reaches every station enrolled then; each pulls its own kill switch on arrival (every
  user's wraps and the identity's destroyed, sessions ended, keys dropped). Nothing is deleted: the recovery shares
  give access back (``waystation vault recover``). Until then the station can open no bundle, so no later edit of a
  case, from either side, makes anything readable there again; what was not applied stays in the sender's log and
  travels after the recovery (lost: nothing);
- a kill at a **station** reaches the hub, which records when it was pulled, revokes the station (its bundles and
  requests are refused from then on: its laptop may be in other hands, and its identity's key was in the memory of a
  machine that may be seized) and shows the coordinators an alert on their dashboard. The station's data stays on
  its disk, sealed to the recovery key;
- a kill at a station is not relayed to the other stations (they are not in danger because of it);
- a notice is applied once (a copy is refused as a replay), and only from an enrolled, unrevoked peer.

A kill pulled where no coordinator's keys are open (``waystation vault kill`` on the command line, or an
administrator) cannot sign notices: it stays local, and the organisation warns its peers by other means.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.network.models import Station
from waystation.sync import bundle as bundles
from waystation.sync import exchange
from waystation.sync.bundle import BundleRefused
from waystation.sync.identity import PublicKeys, SyncError, identity_open, parse_key_string, public_keys
from waystation.sync.models import Peer, PeerKind, PullNonce, QueuedBundle, ReceivedBundle
from waystation.vault.keyring import Keyring

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")


@dataclass(frozen=True)
class Exported:
    peer: str
    bundle_id: str
    sequence: int
    size: int
    data: bytes


@dataclass(frozen=True)
class Imported:
    peer: str
    bundle_id: str
    sequence: int
    counts: dict[str, int]


def peer_keys(peer: Peer) -> PublicKeys:
    return PublicKeys(signing=bytes(peer.signing_public), encryption=bytes(peer.encryption_public))


# --- enrolment -----------------------------------------------------------------------------------------------------


def peer_enrol(
    *, actor: User | None, name: str, key_string: str, kind: str, station: Station | None = None, url: str = ""
) -> Peer:
    """Add a peer whose key string a person compared by fingerprint (the caller asks them first)."""
    if not NAME_RE.match(name or ""):
        raise SyncError(
            _("A peer's name is 1 to 60 letters, digits, dots, dashes or underscores, e.g. ALDER or hub."),
            field="name",
        )
    keys = parse_key_string(key_string)
    own = public_keys()
    if own is not None and own.key_id == keys.key_id:
        raise SyncError(_("This is this installation's own key: enrol the other installation's."), field="key")
    if kind == PeerKind.STATION and station is None:
        raise SyncError(_("Say which station this peer is."), field="station")
    if kind == PeerKind.HUB and Peer.objects.filter(kind=PeerKind.HUB, revoked_at__isnull=True).exists():
        raise SyncError(_("A hub is enrolled already: revoke it first to enrol another."))
    if url and not url.startswith(("https://", "http://")):
        raise SyncError(_("The hub's address starts with https://."), field="url")
    with transaction.atomic():
        if Peer.objects.filter(name=name).exists():
            raise SyncError(_("A peer named %(name)s exists already.") % {"name": name}, field="name")
        if Peer.objects.filter(key_id=keys.key_id).exists():
            raise SyncError(_("This key is enrolled already, under another name."), field="key")
        peer = Peer.objects.create(
            name=name,
            kind=kind,
            station=station if kind == PeerKind.STATION else None,
            signing_public=keys.signing,
            encryption_public=keys.encryption,
            key_id=keys.key_id,
            url=url if kind == PeerKind.HUB else "",
        )
        audit_record(actor=actor, action="sync.peer_enrolled", target=peer, details={"peer": name, "kind": kind})
    return peer


def peer_revoke(*, actor: User | None, peer: Peer) -> None:
    """From now on this peer's bundles and requests are refused, and nothing more is prepared for it."""
    if peer.is_revoked:
        raise SyncError(_("%(name)s was revoked already.") % {"name": peer.name})
    with transaction.atomic():
        peer.revoked_at = timezone.now()
        peer.save(update_fields=["revoked_at"])
        QueuedBundle.objects.filter(peer=peer).delete()
        audit_record(actor=actor, action="sync.peer_revoked", target=peer, details={"peer": peer.name})


# --- bundles -------------------------------------------------------------------------------------------------------


def bundle_export(*, actor: User, keyring: Keyring, peer: Peer) -> Exported:
    """A bundle of everything ``peer`` has not acknowledged, encrypted to it and signed by this installation."""
    if peer.is_revoked:
        raise SyncError(_("%(name)s is revoked: nothing is sent to it.") % {"name": peer.name})
    keys = identity_open(keyring)
    uids = {peer.station.uid} if peer.kind == PeerKind.STATION and peer.station is not None else None
    with transaction.atomic():
        locked = Peer.objects.select_for_update().get(pk=peer.pk)
        payload = exchange.build_payload(keyring=keyring, peer=peer.key_id, station_uids=uids)
        sequence = locked.last_sent_sequence + 1
        bundle_id, data = bundles.seal(payload, sender=keys, recipient=peer_keys(peer), sequence=sequence)
        locked.last_sent_sequence = sequence
        locked.save(update_fields=["last_sent_sequence"])
        audit_record(
            actor=actor,
            action="sync.export",
            target=peer,
            details={"peer": peer.name, "sequence": sequence, "bytes": len(data)},
        )
    return Exported(peer=peer.name, bundle_id=bundle_id, sequence=sequence, size=len(data), data=data)


def bundle_check(data: bytes) -> tuple[bundles.Bundle, Peer]:
    """A bundle whose sender is enrolled and not revoked, whose signature verifies, which is addressed to us and was
    not applied before; needs public keys only. ``BundleRefused`` otherwise."""
    bundle = bundles.parse(data)
    peer = _sender_of(bundle)
    done = ReceivedBundle.objects.filter(peer=peer, bundle_id=bundle.bundle_id).values_list("received_at", flat=True)
    if done:
        raise BundleRefused(
            _("This bundle from %(name)s was imported already (%(when)s): nothing was applied again.")
            % {"name": peer.name, "when": timezone.localtime(done[0]).strftime("%Y-%m-%d %H:%M")}
        )
    return bundle, peer


def _sender_of(signed: bundles.Bundle | bundles.KillNotice) -> Peer:
    """The enrolled, unrevoked peer who signed a bundle or notice addressed to us; ``BundleRefused`` otherwise."""
    peer = Peer.objects.filter(key_id=signed.sender_id).first()
    if peer is None:
        raise BundleRefused(_("The bundle is from an installation that is not enrolled here."))
    if peer.is_revoked:
        raise BundleRefused(_("The bundle is from %(name)s, which was revoked.") % {"name": peer.name})
    signed.verify(peer_keys(peer))
    own = public_keys()
    if own is None or signed.recipient_id != own.key_id:
        raise BundleRefused(_("The bundle is addressed to another installation, not to this one."))
    return peer


def bundle_import(*, actor: User, keyring: Keyring, data: bytes) -> Imported:
    """Verify, decrypt and apply one bundle in one transaction; a refused one changes nothing."""
    peer: Peer | None = None
    try:
        bundle, peer = bundle_check(data)
        payload = bundle.payload(identity_open(keyring))
        with transaction.atomic():
            counts = exchange.receive_payload(payload, keyring=keyring, actor=actor, peer=peer.key_id)
            _record_receipt(peer, bundle.bundle_id, bundle.sequence)
            audit_record(
                actor=actor,
                action="sync.import",
                target=peer,
                details={"peer": peer.name, "sequence": bundle.sequence, **counts},
            )
    except BundleRefused:
        _refusal_record(actor=actor, peer=peer)
        raise
    return Imported(peer=peer.name, bundle_id=bundle.bundle_id, sequence=bundle.sequence, counts=counts)


def _record_receipt(peer: Peer, bundle_id: str, sequence: int) -> None:
    """A bundle (or a kill notice, sequence 0) applied once: a second copy is refused as a replay."""
    try:
        with transaction.atomic():
            ReceivedBundle.objects.create(peer=peer, bundle_id=bundle_id, sequence=sequence)
    except IntegrityError:  # the same bundle imported at the same moment by someone else, or a replayed notice
        raise BundleRefused(_("This bundle was imported already: nothing was applied again.")) from None
    if sequence > peer.last_received_sequence:
        Peer.objects.filter(pk=peer.pk).update(last_received_sequence=sequence)
    QueuedBundle.objects.filter(peer=peer, direction=QueuedBundle.Direction.INBOX, bundle_id=bundle_id).delete()


# --- the kill switch ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KillReceived:
    peer: str
    kind: str

    def message(self) -> str:
        if self.kind == PeerKind.STATION:
            return _(
                "%(peer)s pulled its kill switch: it is revoked here and its bundles are refused from now on. "
                "The coordinators are alerted on their dashboard."
            ) % {"peer": self.peer}
        return _(
            "The hub (%(peer)s) pulled the kill switch: it is pulled here too. Every user's keys are destroyed; the "
            "recovery shares give access back (waystation vault recover)."
        ) % {"peer": self.peer}


def kill_announce(*, actor: User | None, killed_at: dt.datetime) -> int:
    """Sign a kill notice for every enrolled, unrevoked peer and queue it (called by the kill switch before the
    identity's wraps are destroyed); how many: 0 when there is no peer or ``actor``'s keys cannot open the identity."""
    from waystation.vault.keyring import keyring_for

    peers = list(Peer.objects.filter(revoked_at__isnull=True))
    if not peers:
        return 0
    try:
        keys = identity_open(keyring_for(actor))
    except SyncError:
        return 0
    for peer in peers:
        notice_id, data = bundles.kill_notice(
            sender=keys, recipient=peer_keys(peer), killed_at=int(killed_at.timestamp())
        )
        QueuedBundle.objects.filter(peer=peer, direction=QueuedBundle.Direction.KILL).delete()
        QueuedBundle.objects.create(
            peer=peer, direction=QueuedBundle.Direction.KILL, bundle_id=notice_id, sequence=0, data=data
        )
    audit_record(actor=actor, action="sync.kill_announced", details={"peers": len(peers)})
    return len(peers)


def kill_notice_waiting(peer: Peer) -> bytes | None:
    found = QueuedBundle.objects.filter(peer=peer, direction=QueuedBundle.Direction.KILL).first()
    return bytes(found.data) if found is not None else None


def kill_notice_instead(*, peer: Peer, keyring: Keyring) -> bytes | None:
    """What ``export`` writes for ``peer`` after the kill switch was pulled here: the kill notice waiting for it, as
    long as this installation's identity cannot be opened (until a recovery); None otherwise."""
    notice = kill_notice_waiting(peer)
    if notice is None:
        return None
    try:
        identity_open(keyring)
    except SyncError:
        return notice
    return None


def kill_notice_sent(peer: Peer) -> None:
    QueuedBundle.objects.filter(peer=peer, direction=QueuedBundle.Direction.KILL).delete()


def kill_notice_receive(*, actor: User | None, data: bytes) -> KillReceived:
    """Check one kill notice and act on it, in one transaction: from the hub, pull this installation's kill switch;
    from a station, record it, revoke the station and alert the coordinators. ``BundleRefused`` changes nothing."""
    from waystation.vault.shred import kill_switch

    peer: Peer | None = None
    try:
        notice = bundles.parse_kill_notice(data)
        peer = _sender_of(notice)
        killed_at = dt.datetime.fromtimestamp(notice.killed_at, tz=dt.UTC)
        with transaction.atomic():
            _record_receipt(peer, notice.notice_id, 0)
            details = {"peer": peer.name, "kind": peer.kind, "killed_at": killed_at.isoformat()}
            audit_record(actor=actor, action="sync.kill_received", target=peer, details=details)
            if peer.kind == PeerKind.STATION:
                Peer.objects.filter(pk=peer.pk).update(killed_at=killed_at)
                peer.refresh_from_db()
                peer_revoke(actor=actor, peer=peer)
            else:
                kill_switch(actor=actor, from_peer=peer.name)
    except BundleRefused:
        _refusal_record(actor=actor, peer=peer)
        raise
    return KillReceived(peer=peer.name, kind=peer.kind)


def killed_stations() -> list[Peer]:
    """The stations whose kill notice arrived, most recent first (the coordinators' dashboard alert)."""
    return list(Peer.objects.filter(killed_at__isnull=False).order_by("-killed_at"))


def _refusal_record(*, actor: User | None, peer: Peer | None) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action="sync.bundle_refused", target=peer, details={"peer": peer.name if peer else ""}
        )


# --- the hub's side of the network ---------------------------------------------------------------------------------


def bundle_queue(*, data: bytes) -> QueuedBundle:
    """A bundle pushed by a station: checked (public keys only) and kept, still encrypted, for a coordinator."""
    peer: Peer | None = None
    try:
        bundle, peer = bundle_check(data)
        if peer.kind != PeerKind.STATION:
            raise BundleRefused(_("Only stations push bundles to the hub."))
        with transaction.atomic():
            queued, created = QueuedBundle.objects.get_or_create(
                peer=peer,
                direction=QueuedBundle.Direction.INBOX,
                bundle_id=bundle.bundle_id,
                defaults={"sequence": bundle.sequence, "data": data},
            )
            if not created:
                raise BundleRefused(_("This bundle is queued already."))
            audit_record(
                actor=None,
                action="sync.push_queued",
                target=peer,
                details={"peer": peer.name, "sequence": bundle.sequence, "bytes": len(data)},
            )
    except BundleRefused:
        _refusal_record(actor=None, peer=peer)
        raise
    return queued


def pull_answer(*, data: bytes) -> bytes | None:
    """The bundle prepared for the station that signed this pull request, if newer than what it has; else None."""
    request = bundles.parse_pull_request(data)
    peer = Peer.objects.filter(key_id=request.station_id, kind=PeerKind.STATION).first()
    if peer is None or peer.is_revoked:
        raise BundleRefused(_("The request is from an installation that is not enrolled here, or was revoked."))
    request.verify(peer_keys(peer))
    own = public_keys()
    if own is None or request.hub_id != own.key_id:
        raise BundleRefused(_("The request is addressed to another installation, not to this one."))
    with transaction.atomic():
        horizon = timezone.now() - dt.timedelta(seconds=2 * bundles.PULL_WINDOW_SECONDS)
        PullNonce.objects.filter(at__lt=horizon).delete()
        try:
            with transaction.atomic():
                PullNonce.objects.create(peer=peer, nonce=request.nonce, at=timezone.now())
        except IntegrityError:
            raise BundleRefused(_("This request was made before: it is refused as a replay.")) from None
        # The hub's kill notice goes before any bundle, once (the station refuses a second copy as a replay); it
        # stays queued, marked pulled (sequence 1), for `export` to write it to a file if the answer was lost.
        kill = QueuedBundle.Direction.KILL
        waiting = QueuedBundle.objects.filter(peer=peer, direction=kill, sequence=0).first()
        if waiting is not None:
            QueuedBundle.objects.filter(pk=waiting.pk).update(sequence=1)
        else:
            waiting = (
                QueuedBundle.objects.filter(
                    peer=peer, direction=QueuedBundle.Direction.OUTBOX, sequence__gt=request.after
                )
                .order_by("-sequence")
                .first()
            )
        audit_record(
            actor=None, action="sync.pull", target=peer, details={"peer": peer.name, "sent": waiting is not None}
        )
    return bytes(waiting.data) if waiting is not None else None


def hub_process(*, actor: User, keyring: Keyring) -> dict[str, int]:
    """Import every queued bundle (a refused one is dropped from the queue and counted), then prepare a fresh bundle
    for every enrolled station to pull."""
    imported = refused = prepared = 0
    for queued in list(QueuedBundle.objects.filter(direction=QueuedBundle.Direction.INBOX).order_by("queued_at")):
        try:
            bundle_import(actor=actor, keyring=keyring, data=bytes(queued.data))
            imported += 1
        except BundleRefused:
            QueuedBundle.objects.filter(pk=queued.pk).delete()
            refused += 1
    for peer in Peer.objects.filter(kind=PeerKind.STATION, revoked_at__isnull=True):
        exported = bundle_export(actor=actor, keyring=keyring, peer=peer)
        with transaction.atomic():
            QueuedBundle.objects.filter(peer=peer, direction=QueuedBundle.Direction.OUTBOX).delete()
            QueuedBundle.objects.create(
                peer=peer,
                direction=QueuedBundle.Direction.OUTBOX,
                bundle_id=exported.bundle_id,
                sequence=exported.sequence,
                data=exported.data,
            )
        prepared += 1
    return {"imported": imported, "refused": refused, "prepared": prepared}
