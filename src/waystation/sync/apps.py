from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_save

KILL_SWITCH = "vault.kill_switch"


def _after_audit_event(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """The kill switch (``vault.shred.kill_switch``) destroys every user's wraps in the transaction that records it:
    this installation's identity is one of them (``sync.identity``). Pulled here (not by a hub's notice), it is first
    announced to the peers, while the identity can still sign (``sync.services.kill_announce``)."""
    if created and instance.action == KILL_SWITCH:
        from waystation.sync.identity import identity_wraps_destroy
        from waystation.sync.services import kill_announce

        if not (instance.details or {}).get("from_peer"):
            kill_announce(actor=instance.actor, killed_at=instance.at)
        identity_wraps_destroy()


class SyncConfig(AppConfig):
    """Offline stations: installation identity, enrolment of peers, signed and encrypted change bundles."""

    name = "waystation.sync"
    label = "sync"

    def ready(self) -> None:
        from waystation.audit.models import AuditEvent

        post_save.connect(_after_audit_event, sender=AuditEvent, dispatch_uid="sync-identity-kill-switch")
