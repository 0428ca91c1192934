"""The change log and the replicated state it feeds.

- ``Installation``: this installation's random origin id and its hybrid logical clock (one row).
- ``Change``: the log. One write of one replicated row: origin, the origin's write number, clock, the row's global
  id, its case, the writer's context (version vector) and the fields written, as stored (sensitive values stay
  ciphertext). Local writes and writes received from peers (with their own origin: relayed, never re-stamped).
- ``RowState``: for each replicated row, each field's current versions (``merge``): what decides concurrent from
  sequential, and what a newly entitled peer receives in full.
- ``Conflict``: a field that two installations changed concurrently to different values, until a coordinator
  chose (or a later edit or a shred settled it). Its ``versions`` are as stored: ciphertext for sensitive fields.
- ``PeerState``: per peer (the transport's key fingerprint), the bundles sent and acknowledged, and what was
  received from it (acknowledged back in the next payload).
- ``PeerCase``: the cases a station peer has been sent in full (a case that comes into a station's scope is sent
  whole until the station acknowledges a bundle that carried it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Installation(models.Model):
    origin = models.CharField(max_length=32, unique=True)
    last_seq = models.BigIntegerField(default=0)
    clock_wall_ms = models.BigIntegerField(default=0)
    clock_counter = models.IntegerField(default=0)


class Change(models.Model):
    seq = models.BigAutoField(primary_key=True)
    origin = models.CharField(max_length=32)
    origin_seq = models.BigIntegerField()
    hlc = models.CharField(max_length=64)
    model = models.CharField(max_length=40)
    gid = models.CharField(max_length=36)
    case_id = models.UUIDField(null=True, db_index=True)
    ctx = models.JSONField(default=dict)
    fields = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["origin", "origin_seq"], name="change_dot")]


class RowState(models.Model):
    model = models.CharField(max_length=40)
    gid = models.CharField(max_length=36)
    case_id = models.UUIDField(null=True, db_index=True)
    fields = models.JSONField(default=dict)  # {field: [version as list, ...]}

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "gid"], name="one_state_per_row")]


class Conflict(models.Model):
    class Outcome(models.TextChoices):
        CHOSEN = "chosen", _("A coordinator chose")
        SUPERSEDED = "superseded", _("Settled by a later edit")
        SHREDDED = "shredded", _("The case was shredded")

    model = models.CharField(max_length=40)
    gid = models.CharField(max_length=36)
    case_id = models.UUIDField(null=True, db_index=True)
    field = models.CharField(max_length=40)
    versions = models.JSONField(default=list)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "gid", "field"], condition=models.Q(resolved_at__isnull=True), name="one_open_conflict"
            )
        ]


class PeerState(models.Model):
    peer = models.CharField(max_length=128, unique=True)
    bundles_built = models.BigIntegerField(default=0)
    acked_bundle = models.BigIntegerField(default=0)  # the highest of our bundles the peer said it received
    acked_upto = models.BigIntegerField(default=0)  # the log position that bundle covered
    received_bundle = models.BigIntegerField(default=0)  # the highest of the peer's bundles we received
    received_upto = models.BigIntegerField(default=0)


class PeerCase(models.Model):
    """A case sent to a peer (a station): from which bundle, whether the peer acknowledged it, and, once it left the
    peer's scope, the log position of the bundle that first found her gone (``payload._scoped_changes``)."""

    peer = models.CharField(max_length=128)
    person_id = models.UUIDField()
    first_bundle = models.BigIntegerField()
    confirmed = models.BooleanField(default=False)
    left_upto = models.BigIntegerField(null=True)  # what is sent of her once she left, at most

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "person_id"], name="one_peer_case")]
