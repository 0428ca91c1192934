"""Forgetting for real.

:func:`shred` destroys every wrap of one case's data key (the recovery wrap too), its name digests, and the
ciphertexts themselves: the case's sensitive data is unrecoverable anywhere. Coded, non-identifying fields (sex,
birth year, province, months, status, HTCDS codes, movements between stations) remain for the statistics.

A backup taken before a shred still holds the wraps. So every shred is also written to the **shred ledger**: a
table (carried by every later backup) and a file in ``$WAYSTATION_HOME`` (which survives a restore into the same
installation); ``interop.backup`` applies both to whatever it restores. The ledger holds case ids and times only.

:func:`kill_switch` destroys every user's wraps at once and drops every key from the agent: nothing in the
installation opens a record until k recovery shares from outside the country are brought together
(``waystation vault recover``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.vault.agent import AGENT
from waystation.vault.crypto import VaultError
from waystation.vault.fields import is_sensitive
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, NameIndex, PendingGrant, ShredRecord

LEDGER_NAME = "shred-ledger"
KILL_LEDGER_NAME = "kill-ledger"  # the times the kill switch was pulled, for restores of older backups


def ledger_path() -> Path:
    return Path(settings.HOME) / LEDGER_NAME


def _blank_ciphertexts(person_ids: list[uuid.UUID]) -> int:
    """Overwrite the sensitive columns of the shredded cases (their rows stay, with their coded fields)."""
    from waystation.cases.models import Person

    rows = 0
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if is_sensitive(f)]
        if not fields:
            continue
        blank = {f.name: (None if f.null else "") for f in fields}
        if model is Person:
            rows += model._base_manager.filter(pk__in=person_ids).update(**blank)
        elif any(f.name == "person" for f in model._meta.concrete_fields):
            rows += model._base_manager.filter(person_id__in=person_ids).update(**blank)
    return rows


def _forget(person_ids: list[uuid.UUID]) -> dict[str, int]:
    """What was destroyed, counted: key wraps, owed grants, name digests, rows whose sensitive columns were blanked."""
    wraps, _ = CaseKeyWrap.objects.filter(person_id__in=person_ids).delete()
    grants, _ = PendingGrant.objects.filter(person_id__in=person_ids).delete()
    digests, _ = NameIndex.objects.filter(person_id__in=person_ids).delete()
    rows = _blank_ciphertexts(person_ids)
    return {"key_wraps": wraps, "pending_grants": grants, "name_digests": digests, "rows_blanked": rows}


def _append(path: Path, line: str) -> None:
    """One line more in a ledger file of the data folder (created owner-only when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a", encoding="ascii") as ledger:
        ledger.write(line + "\n")


def _append_ledger(person_id: uuid.UUID, when: dt.datetime) -> None:
    _append(ledger_path(), f"{person_id} {when.isoformat()}")


def read_ledger(path: Path | None = None) -> dict[uuid.UUID, dt.datetime]:
    """The ledger's entries (none when the file does not exist). A line that is not "<case id> <time>" raises
    ``VaultError``: a damaged ledger is named, never skipped in part (a skipped line would be a case not forgotten)."""
    path = path or ledger_path()
    found: dict[uuid.UUID, dt.datetime] = {}
    if not path.exists():
        return found
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultError(f"Cannot read the shred ledger {path}: it is unreadable or not a shred ledger.") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw_id, raw_when = line.split()
            when = dt.datetime.fromisoformat(raw_when)
            found[uuid.UUID(raw_id)] = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise VaultError(
                f"The shred ledger {path} is damaged at line {number}: expected a case id and a time."
            ) from exc
    return found


def shred(*, actor: User | None, person_id: uuid.UUID, purpose: str = "") -> dict[str, int]:
    """Shred one case; what was destroyed, counted (see ``_forget``)."""
    now = timezone.now()
    with transaction.atomic():
        destroyed = _forget([person_id])
        ShredRecord.objects.get_or_create(person_id=person_id, defaults={"shredded_at": now})
        audit_record(actor=actor, action="vault.shred", case_id=person_id, purpose=purpose)
    _append_ledger(person_id, now)
    return destroyed


def apply_ledger(*, actor: User | None, extra: Iterable[tuple[uuid.UUID, dt.datetime]] = ()) -> int:
    """Shred again every case in the ledger (file, table and ``extra``) that still has anything left to forget."""
    from waystation.cases.models import Person

    in_file = read_ledger()
    wanted = dict(ShredRecord.objects.values_list("person_id", "shredded_at"))
    wanted.update(in_file)
    wanted.update(dict(extra))
    present = set(Person.objects.filter(pk__in=list(wanted)).values_list("pk", flat=True))
    with transaction.atomic():
        if present:
            _forget(sorted(present))
        known = set(ShredRecord.objects.values_list("person_id", flat=True))
        ShredRecord.objects.bulk_create(
            [ShredRecord(person_id=pid, shredded_at=when) for pid, when in wanted.items() if pid not in known]
        )
        if wanted:
            audit_record(actor=actor, action="vault.shred_ledger_applied", details={"cases": len(wanted)})
    for pid, when in wanted.items():
        if pid not in in_file:
            _append_ledger(pid, when)
    return len(present)


def _destroy_user_wraps() -> tuple[int, int]:
    """Every user's case-key and index-key wraps, every grant owed, and every API token's wrap of a user's key (a
    token made before the kill must not open what a recovery grants again); the recovery wraps stay."""
    from waystation.api.tokens import destroy_all_wraps

    destroy_all_wraps()
    cases, _ = CaseKeyWrap.objects.filter(holder__isnull=False).delete()
    index, _ = IndexKeyWrap.objects.filter(holder__isnull=False).delete()
    PendingGrant.objects.all().delete()
    return cases, index


def kill_ledger_path() -> Path:
    return Path(settings.HOME) / KILL_LEDGER_NAME


def read_kills() -> list[dt.datetime]:
    path = kill_ledger_path()
    if not path.exists():
        return []
    kills = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        if not line.strip():
            continue
        try:
            when = dt.datetime.fromisoformat(line.strip())
        except ValueError as exc:
            raise VaultError(f"The kill ledger {path} is damaged at line {number}: expected a time.") from exc
        kills.append(when if when.tzinfo else when.replace(tzinfo=dt.UTC))
    return kills


def apply_kills(*, actor: User | None) -> bool:
    """After a restore: when the kill switch was pulled in this installation after the restored data was written
    (its audit trail shows neither that kill nor a recovery since), pull it again. True when it did."""
    from waystation.audit.models import AuditEvent

    kills = read_kills()
    if not kills:
        return False
    last_kill = max(kills)
    seen = (
        AuditEvent.objects.filter(action__in=("vault.kill_switch", "vault.recover"))
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if seen is not None and seen >= last_kill:
        return False
    with transaction.atomic():
        _destroy_user_wraps()
        audit_record(actor=actor, action="vault.kill_switch_reapplied")
    return True


def is_shredded(person_id: uuid.UUID) -> bool:
    return ShredRecord.objects.filter(person_id=person_id).exists()


def kill_switch(*, actor: User | None, from_peer: str = "") -> dict[str, int]:
    """Destroy every user's wraps and drop every key in memory. The recovery wraps stay: with k shares, and only
    then, ``waystation vault recover`` opens the records again.

    ``from_peer``: the hub whose kill notice pulled it here (``sync.services.kill_notice_receive``). A kill pulled
    here (no ``from_peer``) is announced to the enrolled peers by the sync app, in the same transaction, when the
    actor's keys can still sign for this installation (``sync.services.kill_announce``)."""
    from waystation.accounts.sessions import sessions_end_all

    details: dict[str, int | str] = {}
    with transaction.atomic():
        cases, index = _destroy_user_wraps()
        details = {"case_wraps": cases, "index_wraps": index} | ({"from_peer": from_peer} if from_peer else {})
        event = audit_record(actor=actor, action="vault.kill_switch", details=details)
    _append(kill_ledger_path(), event.at.isoformat())
    dropped = AGENT.drop_all()
    sessions = sessions_end_all(actor=actor)
    return {"case_wraps": cases, "index_wraps": index, "keys_dropped": dropped, "sessions": sessions}
