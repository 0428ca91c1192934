"""Shared by the backup tests: weak Argon2 parameters for speed, a dump of every backed-up table, and a keyring
opened with the recovery shares."""

from __future__ import annotations

from typing import Any

from waystation.interop.backup import KdfParams, backed_up_models
from waystation.vault import setup
from waystation.vault.keyring import Keyring

# Tests only: the production parameters are fixed in code and the command line cannot lower them.
FAST = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
PASSPHRASE = "river-lantern-autumn-7"
CANARY = "CANARY-7f3a9c-backup-narrative"


def recovery_keyring(shares: list[str]) -> Keyring:
    """A keyring holding every case key the recovery key opens in this database (as `waystation vault recover`
    opens them): the way into data that synth made, whose staff have passwords nobody knows."""
    return setup.recovery_keyring(setup.combine(shares))


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def dump_tables() -> dict[str, list[dict[str, Any]]]:
    """Every row of every backed-up table, by primary key, values as the database gives them; a permission (whose id
    differs between installations) by its natural key."""
    from django.contrib.auth.models import Permission

    perms = {p.pk: p.natural_key() for p in Permission.objects.select_related("content_type")}
    return {
        model._meta.label_lower: [
            {k: perms[v] if k == "permission_id" else _plain(v) for k, v in row.items()}
            for row in model._base_manager.order_by("pk").values()
        ]
        for model in backed_up_models()
    }
