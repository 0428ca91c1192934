"""This installation's identity, the peers it exchanges bundles with, and what it has received from them.

- ``Identity``: one row, the public halves of this installation's Ed25519 (signing) and X25519 (encryption) keys.
- ``IdentityKeyWrap``: the private halves, sealed to one holder's public key (``holder`` null: the organisation's
  recovery key), never stored in the clear (``sync.identity``).
- ``Peer``: an enrolled hub or station, its public keys compared by fingerprint at enrolment; revoked peers stay,
  so that their bundles are refused by name.
- ``ReceivedBundle``: the ids of the bundles applied from each peer (a replay is refused).
- ``QueuedBundle``: on the hub, a bundle pushed over the network (verified, still encrypted) waiting for a
  coordinator to import it, or a bundle a coordinator prepared for a station to pull; on any installation, the kill
  notice signed for a peer when the kill switch was pulled here (``services.kill_announce``).
- ``PullNonce``: the nonces of recent pull requests (a replayed request is refused).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Identity(models.Model):
    signing_public = models.BinaryField()
    encryption_public = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)


class IdentityKeyWrap(models.Model):
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="wraps")
    holder = models.ForeignKey(USER, on_delete=models.CASCADE, null=True, related_name="+")  # null: recovery
    holder_public = models.BinaryField()  # the public key sealed to: a new key pair of the holder needs a new wrap
    sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["identity", "holder"], name="one_identity_wrap_per_holder")]


class PeerKind(models.TextChoices):
    HUB = "hub", _("Hub")
    STATION = "station", _("Station")


class Peer(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=PeerKind.choices)
    station = models.ForeignKey(
        "network.Station", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("station")
    )
    signing_public = models.BinaryField()
    encryption_public = models.BinaryField()
    key_id = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the signing key: the peer's stable name
    url = models.CharField(_("address"), max_length=300, blank=True, default="")  # the hub's, for `sync now`
    enrolled_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    killed_at = models.DateTimeField(null=True, blank=True)  # a station's kill switch, as its kill notice told
    last_sent_sequence = models.PositiveBigIntegerField(default=0)
    last_received_sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ReceivedBundle(models.Model):
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="+")
    bundle_id = models.CharField(max_length=32)
    sequence = models.PositiveBigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "bundle_id"], name="one_receipt_per_bundle")]


class QueuedBundle(models.Model):
    class Direction(models.TextChoices):
        INBOX = "in", "in"
        OUTBOX = "out", "out"
        KILL = "kil", "kill notice"  # signed when the kill switch was pulled here, waiting to reach the peer

    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    bundle_id = models.CharField(max_length=32)
    sequence = models.PositiveBigIntegerField()
    data = models.BinaryField()  # the bundle as it travels: encrypted to its recipient, signed by its sender
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["peer", "direction", "bundle_id"], name="one_queued_copy_per_bundle")
        ]


class PullNonce(models.Model):
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=32)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "nonce"], name="one_use_per_pull_nonce")]
