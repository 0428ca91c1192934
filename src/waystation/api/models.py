"""API tokens: a user's bearer token for /api/v1/, its scopes, and the wrap of their private key that it opens.

The token itself is shown once and never stored: ``secret_hash`` is its SHA-256, and ``key_id`` (random, not
secret) finds the row. ``TokenKeyWrap`` holds the user's X25519 private key encrypted under a key derived from
the token (``api.tokens``), so that a request with the token can open the user's case keys for that request only,
as a signed-in session does through the key agent. Revoking, expiry, deactivation, a duress sign-in and the kill
switch delete the wrap; the wrap also dies with the user's key pair (``on_delete=CASCADE`` on ``UserKey``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=60)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def usable(self) -> bool:
        return not self.revoked and not self.expired


class TokenKeyWrap(models.Model):
    """The token's owner's private key, AES-256-GCM under HKDF(token); bound to the token and the user."""

    token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, related_name="key_wrap")
    user_key = models.ForeignKey("vault.UserKey", on_delete=models.CASCADE, related_name="+")
    wrapped_private = models.BinaryField()
