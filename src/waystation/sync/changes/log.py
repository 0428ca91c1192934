"""Writing the change log: this installation's identity and clock, local writes, and trimming.

Capture (``capture``) calls :func:`record_local` after every save of a replicated row; the rows a writer inserts
without ``save()`` (the synthetic generator's batches) are logged by :func:`baseline` before the next export.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models, transaction
from django.db.models import Min
from django.utils import timezone

from waystation.sync.changes import merge
from waystation.sync.changes.models import Change, Conflict, Installation, PeerState, RowState
from waystation.sync.changes.registry import SHRED, SHRED_FIELD, SPECS, Spec, case_of, gid_of, stored_value

_applying: contextvars.ContextVar[bool] = contextvars.ContextVar("waystation_sync_applying", default=False)


@contextlib.contextmanager
def applying() -> Iterator[None]:
    """Inside: saves are the sync's own (a peer's writes being applied), not local writes to log."""
    token = _applying.set(True)
    try:
        yield
    finally:
        _applying.reset(token)


def is_applying() -> bool:
    return _applying.get()


def installation(*, lock: bool = False) -> Installation:
    """This installation's one row. ``lock`` (inside a transaction): held until the transaction ends, for whoever
    hands out the next write number or moves the clock. Without it two writers at once on PostgreSQL read the same
    number and both log a write under it: a peer that has seen that dot takes both writes as seen, and never asks
    for the second. (SQLite's writers are one at a time already: ``transaction_mode`` IMMEDIATE.)"""
    found = (Installation.objects.select_for_update() if lock else Installation.objects).first()
    if found is None:
        found = Installation.objects.create(origin=secrets.token_hex(8))
    return found


def origin() -> str:
    return installation().origin


def clock_of(inst: Installation) -> merge.Clock:
    return merge.Clock(inst.clock_wall_ms, inst.clock_counter)


def keep_clock(inst: Installation, clock: merge.Clock) -> None:
    inst.clock_wall_ms, inst.clock_counter = clock.wall_ms, clock.counter


def stamp() -> tuple[str, int, str]:
    """A new dot and clock for a local write: (origin, write number, hlc). Inside a transaction: the installation's
    row stays locked until it ends, so that write numbers are committed in the order they were handed out."""
    inst = installation(lock=True)
    clock = clock_of(inst)
    hlc = clock.tick(inst.origin)
    keep_clock(inst, clock)
    inst.last_seq += 1
    inst.save(update_fields=["last_seq", "clock_wall_ms", "clock_counter"])
    return inst.origin, inst.last_seq, hlc


def versions_of(raw: dict[str, list[list[Any]]]) -> dict[str, list[merge.Version]]:
    return {name: [merge.Version.from_list(v) for v in versions] for name, versions in raw.items()}


def raw_of(fields: dict[str, list[merge.Version]]) -> dict[str, list[list[Any]]]:
    return {name: [v.as_list() for v in versions] for name, versions in fields.items()}


def write_local(
    label: str, gid: str, case_id: uuid.UUID | None, values: dict[str, Any], *, settle: str = "superseded"
) -> Change | None:
    """Log a local write of ``values`` (as stored) to one row, where they differ from what the row's state shows.
    A field in conflict that the write sets is settled (``settle``: a later edit, or a coordinator's choice)."""
    with transaction.atomic(savepoint=False):  # the row's state, its dot and its change: together or not at all
        return _write_local(label, gid, case_id, values, settle=settle)


def _write_local(
    label: str, gid: str, case_id: uuid.UUID | None, values: dict[str, Any], *, settle: str
) -> Change | None:
    state = RowState.objects.filter(model=label, gid=gid).first()
    fields = versions_of(state.fields) if state else {}
    changed = {
        name: value
        for name, value in values.items()
        if name not in fields or len(fields[name]) != 1 or merge.winner(fields[name]).value != value
    }
    if not changed:
        return None
    in_conflict = [name for name in changed if len(fields.get(name, [])) > 1]
    origin_id, seq, hlc = stamp()
    ctx = merge.row_vector(fields)
    merge.local_write(fields, changed, origin=origin_id, seq=seq, hlc=hlc)
    if state is None:
        RowState.objects.create(model=label, gid=gid, case_id=case_id, fields=raw_of(fields))
    else:
        state.fields = raw_of(fields)
        state.save(update_fields=["fields"])
    if in_conflict:
        Conflict.objects.filter(model=label, gid=gid, field__in=in_conflict, resolved_at__isnull=True).update(
            resolved_at=timezone.now(), outcome=settle
        )
    return Change.objects.create(
        origin=origin_id, origin_seq=seq, hlc=hlc, model=label, gid=gid, case_id=case_id, ctx=ctx, fields=changed
    )


def record_local(spec: Spec, instance: models.Model, names: Iterable[str] | None = None) -> Change | None:
    wanted = spec.fields if names is None else [n for n in spec.fields if n in set(names)]
    if not wanted:
        return None
    values = {name: stored_value(spec, instance, name) for name in wanted}
    return write_local(spec.label, gid_of(spec, instance), case_of(spec, instance), values)


def record_shred(person_id: uuid.UUID) -> None:
    """A shred here: logged as a write of the case's ``vault.shred`` row; the log's and the state's copies of the
    case's sensitive values are blanked, as the shred blanked the rows (``vault.shred``)."""
    write_local(SHRED, str(person_id), person_id, {SHRED_FIELD: True})
    forget_case(person_id)


def forget_case(person_id: uuid.UUID) -> None:
    sensitive = {spec.label: [n for n in spec.fields if spec.sensitive(n)] for spec in SPECS}
    for state in RowState.objects.filter(case_id=person_id).exclude(model=SHRED):
        fields = versions_of(state.fields)
        for name in sensitive.get(state.model, []):
            if name in fields:
                fields[name] = merge.blanked(fields[name])
        state.fields = raw_of(fields)
        state.save(update_fields=["fields"])
    for change in Change.objects.filter(case_id=person_id).exclude(model=SHRED):
        names = sensitive.get(change.model, [])
        if any(change.fields.get(n) for n in names):
            change.fields = {k: ("" if k in names else v) for k, v in change.fields.items()}
            change.save(update_fields=["fields"])
    for conflict in Conflict.objects.filter(case_id=person_id, resolved_at__isnull=True):
        if conflict.field in sensitive.get(conflict.model, []):
            conflict.versions = [[*v[:3], "", *v[4:]] for v in conflict.versions]
            conflict.resolved_at, conflict.outcome = timezone.now(), Conflict.Outcome.SHREDDED
            conflict.save(update_fields=["versions", "resolved_at", "outcome"])


def baseline() -> int:
    """Log every replicated row that has no state yet (rows written before sync, or inserted in batches without
    ``save()``); how many."""
    logged = 0
    for spec in SPECS:
        known = set(RowState.objects.filter(model=spec.label).values_list("gid", flat=True))
        rows = spec.model._default_manager.values_list("pk", spec.gid_field)
        missing = [pk for pk, gid in rows.iterator(chunk_size=2000) if str(gid) not in known]
        for start in range(0, len(missing), 500):
            for instance in spec.model._default_manager.filter(pk__in=missing[start : start + 500]):
                if record_local(spec, instance) is not None:
                    logged += 1
    return logged


def trim() -> int:
    """Delete the log entries every peer has acknowledged; how many. (The state keeps what merging needs; a peer
    enrolled later is sent the state of what concerns it in full.)"""
    peers = PeerState.objects.all()
    if not peers.exists():
        return 0
    upto = peers.aggregate(low=Min("acked_upto"))["low"] or 0
    deleted, _ = Change.objects.filter(seq__lte=upto).delete()
    return deleted
