"""The two functions of the change log (``sync.changes.payload``) that bundles carry, looked up when called.

The change log is another app's (``sync.changes``); reaching it through this one module keeps the transport's own
code importable and testable on its own, and gives tests one place to substitute a payload."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.sync.bundle import BundleRefused
from waystation.sync.identity import SyncError
from waystation.vault.keyring import Keyring


def _changes() -> Any:
    try:
        return importlib.import_module("waystation.sync.changes.payload")
    except ModuleNotFoundError:
        raise SyncError(_("This installation has no change log yet: nothing can be exchanged.")) from None


def build_payload(*, keyring: Keyring, peer: str, station_uids: set[uuid.UUID] | None) -> dict[str, Any]:
    changes = _changes()
    try:
        payload: dict[str, Any] = changes.build_payload(keyring=keyring, peer=peer, station_uids=station_uids)
    except changes.CannotExport as exc:
        raise SyncError(str(exc)) from None
    return payload


def receive_payload(payload: dict[str, Any], *, keyring: Keyring, actor: User, peer: str) -> dict[str, int]:
    """The counts of what was applied (``ApplyReport.as_dict``); ``BundleRefused`` for a payload refused whole."""
    changes = _changes()
    try:
        report = changes.receive_payload(payload, keyring=keyring, actor=actor, peer=peer)
    except changes.BadPayload as exc:
        raise BundleRefused(str(exc)) from None
    counts: dict[str, int] = report.as_dict()
    return counts
