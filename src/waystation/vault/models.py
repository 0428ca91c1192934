"""Key material, all of it wrapped: nothing in these tables opens a record without a user's password or the
organisation's offline recovery shares.

- ``UserKey``: a user's X25519 key pair; the private half encrypted (AES-256-GCM) under a key derived from the
  user's password with Argon2id. The KDF parameters are stored with it.
- ``CaseKeyWrap``: a case's data key sealed to one holder's public key (``holder`` null: the recovery key).
- ``IndexKeyWrap``: the organisation's blind-index key, sealed the same way.
- ``PendingGrant``: a wrap that is owed to an entitled user but that the actor could not make (it did not hold
  the key); the next signed-in holder of the key makes it.
- ``RecoveryKey``: the public half of the organisation's recovery key; its private half exists only as k-of-n
  printed shares.
- ``ShredRecord``: which cases were shredded (ids only), applied again by every restore.
- ``NameIndex``: keyed HMAC digests of a person's normalised names (exact search) and of their name keys
  (duplicate detection).

Key wraps are kept out of backups only in the sense that a restore re-applies every shred (``interop.backup``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class UserKey(models.Model):
    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="vault_key")
    public_key = models.BinaryField()
    wrapped_private = models.BinaryField()
    salt = models.BinaryField()
    kdf_time = models.PositiveIntegerField()
    kdf_memory_kib = models.PositiveIntegerField()
    kdf_lanes = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class CaseKeyWrap(models.Model):
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="+")
    holder = models.ForeignKey(USER, on_delete=models.CASCADE, null=True, related_name="+")  # null: recovery
    key_version = models.PositiveSmallIntegerField(default=1)
    sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "holder"], condition=models.Q(holder__isnull=False), name="one_wrap_per_holder"
            ),
            models.UniqueConstraint(
                fields=["person"], condition=models.Q(holder__isnull=True), name="one_recovery_wrap_per_case"
            ),
        ]
        indexes = [models.Index(fields=["holder", "person"])]


class IndexKeyWrap(models.Model):
    holder = models.OneToOneField(USER, on_delete=models.CASCADE, null=True, related_name="+")  # null: recovery
    sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)


class PendingGrant(models.Model):
    """A wrap owed to ``user``: of ``person``'s data key, or (``person`` null) of the index key."""

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, null=True, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "user"], name="one_pending_grant"),
        ]


class RecoveryKey(models.Model):
    public_key = models.BinaryField()
    threshold = models.PositiveSmallIntegerField()
    shares = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class ShredRecord(models.Model):
    person_id = models.UUIDField(unique=True)  # not a foreign key: the record outlives the wraps it names
    shredded_at = models.DateTimeField()


class NameIndex(models.Model):
    """One digest of one of a person's names (``kind`` name: the whole name, for exact search) or of one of its
    name keys (``kind`` h, p, s: the Hangul, phonetic and surname keys of ``waystation.linkage.keys``, which the
    duplicate finder compares without ever reading a name)."""

    class Kind(models.TextChoices):
        NAME = "name", "name"
        HANGUL_KEY = "h", "Hangul key"
        PHONETIC_KEY = "p", "phonetic key"
        SURNAME_KEY = "s", "surname key"

    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.NAME)
    digest = models.CharField(max_length=32, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "kind", "digest"], name="one_digest_per_person")]
