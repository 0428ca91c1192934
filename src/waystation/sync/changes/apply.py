"""Applying a peer's changes: merge each field version into the row's state (``merge``), then make the rows show
the winners, keep the new versions as stored (sensitive values encrypted under this installation's keys), append
what was new to the log under its own origin (so that it is relayed, never re-stamped), open and settle conflicts,
and forget what a received shred forgets.

Two installations that each sent a woman on her way at the same time made two open movements, which the database
refuses (one way at a time): the same one of them gives way at every installation (``_open_clash``), so that all
show the same records, and the clash stays before a coordinator as a conflict on its status."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.network.models import OPEN_MOVEMENT_STATUSES, Movement, MovementStatus
from waystation.sync.changes import log, merge
from waystation.sync.changes.models import Change, Conflict, RowState
from waystation.sync.changes.registry import (
    BY_LABEL,
    ORDER,
    SHRED,
    Spec,
    local_value,
    plain_for_field,
    sealed_of,
    stored_value,
)
from waystation.sync.changes.validate import Entry
from waystation.vault import crypto, grants
from waystation.vault.fields import seal_value
from waystation.vault.keyring import Keyring, acting
from waystation.vault.models import ShredRecord
from waystation.vault.shred import shred

CHUNK = 500


class Unappliable(Exception):
    """The changes cannot be applied here as they are (translated message)."""


@dataclass
class Row:
    label: str
    gid: str
    case_id: uuid.UUID | None
    fields: dict[str, list[merge.Version]]
    state: RowState | None
    touched: set[str] = field(default_factory=set)
    plain: dict[tuple[str, str, int], Any] = field(default_factory=dict)  # sensitive versions still in plaintext
    instance: models.Model | None = None
    refused: bool = False


def _load(entries: list[Entry]) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    for e in entries:
        rows.setdefault((e.model, e.gid), Row(e.model, e.gid, e.case_id, {}, None))
    by_model: dict[str, list[str]] = {}
    for label, gid in rows:
        by_model.setdefault(label, []).append(gid)
    for label, gids in by_model.items():
        for start in range(0, len(gids), CHUNK):
            for state in RowState.objects.filter(model=label, gid__in=gids[start : start + CHUNK]):
                row = rows[(label, state.gid)]
                row.state, row.fields = state, log.versions_of(state.fields)
                if row.case_id != state.case_id:
                    raise Unappliable(_("A change names another case than the record belongs to."))
    return rows


def _merge_all(entries: list[Entry], rows: dict[tuple[str, str], Row]) -> list[tuple[Entry, dict[str, Any]]]:
    """Merge every version; the entries with what each brought that was new."""
    fresh: list[tuple[Entry, dict[str, Any]]] = []
    for e in entries:
        row = rows[(e.model, e.gid)]
        spec = BY_LABEL.get(e.model)
        new: dict[str, Any] = {}
        for name, value in e.fields.items():
            version = merge.Version(e.origin, e.seq, e.hlc, value, e.ctx)
            merged, changed = merge.merge(row.fields.get(name, []), version)
            if changed:
                row.fields[name] = merged
                row.touched.add(name)
                new[name] = value
                if spec is not None and spec.sensitive(name):
                    row.plain[(name, e.origin, e.seq)] = value
        if new:
            fresh.append((e, new))
    return fresh


def _user_fields(model: type[models.Model]) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey) and f.related_model == _user_model() and not f.null
    ]


def _user_model() -> Any:
    from django.apps import apps

    return apps.get_model(settings.AUTH_USER_MODEL)


def _gids_by_model(rows: list[Row]) -> Iterator[tuple[str, list[str]]]:
    """The rows' global ids by model, ``CHUNK`` at a time: one query each where one a row would do."""
    by_label: dict[str, list[str]] = {}
    for row in rows:
        by_label.setdefault(row.label, []).append(row.gid)
    for label, gids in by_label.items():
        for start in range(0, len(gids), CHUNK):
            yield label, gids[start : start + CHUNK]


class Here:
    """What exists here during one apply, asked of the database as little as may be. Records are made, and none
    removed, while a bundle applies (shredding comes after): a person found stays found (one not found is asked
    again: the bundle may make her later), and which of the bundle's records exist is asked once, a query a model
    and ``CHUNK`` rows, then kept as ``_materialise`` makes them."""

    def __init__(self, rows: list[Row]) -> None:
        self._persons: set[str] = set()
        self._records: set[tuple[str, str]] = set()
        for label, gids in _gids_by_model(rows):
            spec = BY_LABEL[label]
            found = spec.model._default_manager.filter(**{f"{spec.gid_field}__in": [uuid.UUID(g) for g in gids]})
            self._records |= {(label, str(gid)) for gid in found.values_list(spec.gid_field, flat=True)}

    def has_person(self, pk: Any) -> bool:
        key = str(pk)
        if key in self._persons:
            return True
        if Person.objects.filter(pk=pk).exists():
            self._persons.add(key)
            return True
        return False

    def has_record(self, row: Row) -> bool:
        return (row.label, str(uuid.UUID(row.gid))) in self._records

    def made(self, row: Row) -> None:
        self._records.add((row.label, str(uuid.UUID(row.gid))))


def _set_value(spec: Spec, row: Row, instance: models.Model, name: str, here: Here) -> None:
    f = spec.field(name)
    top = merge.winner(row.fields[name])
    if spec.sensitive(name):
        key = (name, top.origin, top.seq)
        if key in row.plain:
            plain = plain_for_field(spec, name, row.plain[key])
            setattr(instance, f.attname, plain if plain else (None if f.null else ""))
        else:
            sealed = sealed_of(top.value)
            setattr(instance, f.attname, sealed if sealed is not None else (None if f.null else ""))
        return
    value = local_value(spec, name, top.value)
    refers = isinstance(f, models.ForeignKey) and f.related_model is Person and value is not None
    if refers and not here.has_person(value):
        if name == "merged_into":
            return  # set once every person of the bundle is here (``_link_merges``)
        raise Unappliable(_("A change refers to a case that is neither here nor in the bundle."))
    setattr(instance, f.attname, value)


def _set_aside(row: Row) -> None:
    """A local write of the movement's status as failed that has seen none of its versions (an empty context): it
    joins them instead of replacing them, so the status is in conflict at every installation it reaches, and shows
    "failed" (the write's clock is later than every one received) until a coordinator chooses."""
    origin_id, seq, hlc = log.stamp()
    failed = str(MovementStatus.FAILED)
    row.fields["status"], _changed = merge.merge(
        row.fields.get("status", []), merge.Version(origin_id, seq, hlc, failed)
    )
    row.touched.add("status")
    Change.objects.create(
        origin=origin_id, origin_seq=seq, hlc=hlc, model=row.label, gid=row.gid, case_id=row.case_id, ctx={},
        fields={"status": failed},
    )  # fmt: skip


def _open_clash(row: Row, instance: models.Model, rows: dict[tuple[str, str], Row]) -> Row | None:
    """When this movement, open, would be the person's second open movement: the one with the greater global id
    gives way (``_set_aside``), the same one wherever the two meet. Returns the other row when it is the one set
    aside (already here: its record is changed now; the caller saves its state and records its conflict)."""
    if not isinstance(instance, Movement) or instance.status not in OPEN_MOVEMENT_STATUSES:
        return None
    other = (
        Movement.objects.filter(person_id=instance.person_id, status__in=OPEN_MOVEMENT_STATUSES)
        .exclude(uid=instance.uid)
        .first()
    )
    if other is None:
        return None
    if row.gid > str(other.uid):
        _set_aside(row)
        instance.status = merge.winner(row.fields["status"]).value
        return None
    key = (row.label, str(other.uid))
    if key not in rows:
        state = RowState.objects.filter(model=row.label, gid=key[1]).first()
        fields = log.versions_of(state.fields) if state else {}
        rows[key] = Row(row.label, key[1], other.person_id, fields, state)
    aside = rows[key]
    _set_aside(aside)
    other.status = merge.winner(aside.fields["status"]).value
    other.save(update_fields=["status"])
    return aside


def _materialise(row: Row, actor: User, rows: dict[tuple[str, str], Row], here: Here) -> Row | None:
    """Make or update the row's record from its state; the other movement set aside, if any (``_open_clash``)."""
    spec = BY_LABEL[row.label]
    manager = spec.model._default_manager
    instance = manager.filter(**{spec.gid_field: uuid.UUID(row.gid)}).first() if here.has_record(row) else None
    new = instance is None
    if instance is None:
        instance = spec.model(**{spec.gid_field: uuid.UUID(row.gid)})
        for attname in _user_fields(spec.model):
            setattr(instance, attname, actor.pk)
    names = [n for n in spec.fields if n in row.fields] if new else sorted(row.touched)
    kept = {}
    try:
        for name in names:
            if name in spec.kept_times:
                kept[name] = local_value(spec, name, merge.winner(row.fields[name]).value)
            else:
                _set_value(spec, row, instance, name, here)
    except (ValueError, TypeError) as exc:
        raise Unappliable(
            _("A change holds a value this installation cannot take (%(field)s).") % {"field": name}
        ) from exc
    aside = _open_clash(row, instance, rows)
    if aside is not None:
        here.made(aside)  # the movement set aside is one here (changed now), whether the bundle named it or not
    if not new and "status" in row.touched and "status" not in names:
        names.append("status")
    try:
        with transaction.atomic():
            if new:
                instance.save(force_insert=True)
                here.made(row)
            else:
                attnames = [spec.field(n).attname for n in names if n not in spec.kept_times]
                if attnames:
                    instance.save(update_fields=attnames)
            if kept:
                manager.filter(pk=instance.pk).update(**kept)
    except IntegrityError:
        # Two installations each made a row that together break a rule (a second open movement for one person):
        # the row is not made here; its change is kept in the state and the log (and relayed), and counted as
        # refused in the report.
        row.refused = True
    except crypto.Locked as exc:
        raise Unappliable(_("Your keys cannot open a case this bundle changes: import as a coordinator.")) from exc
    row.instance = instance
    return aside


def _link_merges(rows: list[Row]) -> None:
    for row in rows:
        if row.label != "cases.person" or "merged_into" not in row.fields or row.instance is None:
            continue
        target = merge.winner(row.fields["merged_into"]).value
        if target and Person.objects.filter(pk=target).exists():
            Person.objects.filter(pk=row.gid).update(merged_into=target)


MERGE_RING_LIMIT = 50  # records followed along merged_into before a chain is taken for no ring


def _ring_from(person_id: uuid.UUID) -> set[uuid.UUID]:
    """The records of the merge ring ``person_id`` is in (each merged into the next, the last into the first), or
    an empty set when her chain of merges ends at a record merged into no other."""
    seen: list[uuid.UUID] = [person_id]
    current = person_id
    for _step in range(MERGE_RING_LIMIT):
        target = Person.objects.filter(pk=current).values_list("merged_into", flat=True).first()
        if target is None:
            return set()
        if target in seen:
            return set(seen[seen.index(target) :])
        seen.append(target)
        current = target
    return set()


def _break_merge_rings(rows: list[Row], actor: User) -> None:
    """Merges made apart can meet in a ring: here B was merged into A while elsewhere A was merged into B (each
    installation refuses a ring among its own merges, ``linkage.services``; sync sets ``merged_into`` field by
    field). Left so, every record of the ring is merged into another and she is in no list and no figure. The
    merge written first (the oldest clock of the ring's ``merged_into`` versions) is undone, so the latest stands,
    as a write here that travels on: every installation that holds the ring holds the same versions, undoes the
    same merge, and their writes agree (the same value: no conflict)."""
    starts = {  # the persons of the bundle it merges into another (most rows of a bundle merge nothing: no lookup)
        uuid.UUID(r.gid)
        for r in rows
        if r.label == "cases.person" and r.fields.get("merged_into") and merge.winner(r.fields["merged_into"]).value
    }
    settled: set[uuid.UUID] = set()
    for start in sorted(starts):
        ring = _ring_from(start) if start not in settled else set()
        if not ring:
            continue
        settled |= ring
        states = RowState.objects.filter(model="cases.person", gid__in=[str(p) for p in ring])
        clocks = {uuid.UUID(s.gid): log.versions_of(s.fields).get("merged_into", []) for s in states}
        undone = min(ring, key=lambda p: (merge.winner(clocks[p]).hlc if clocks.get(p) else "", str(p)))
        was = Person.objects.filter(pk=undone).values_list("merged_into", flat=True).first()
        Person.objects.filter(pk=undone).update(merged_into=None)
        log.write_local("cases.person", str(undone), undone, {"merged_into": None})
        audit_record(
            actor=actor,
            action="sync.merge_ring_undone",
            case_id=undone,
            details={"ring": sorted(str(p) for p in ring), "was_merged_into": str(was) if was else ""},
        )


def _store_plaintexts(row: Row, here: Here) -> None:
    """Each sensitive version that arrived in plaintext, encrypted as the row's own value is (its case's key, the
    row's associated data), for the state and the log."""
    if not row.plain:
        return
    spec = BY_LABEL[row.label]
    if row.instance is None or (row.case_id and not here.has_person(row.case_id)):
        raise Unappliable(_("A change refers to a case that is neither here nor in the bundle."))
    stored: dict[tuple[str, str, int], Any] = {}
    for (name, origin, seq), value in row.plain.items():
        plain = plain_for_field(spec, name, value)
        if not plain:
            stored[(name, origin, seq)] = ""
            continue
        data = plain if isinstance(plain, bytes) else plain.encode()
        sealed = seal_value(row.instance, spec.field(name), data, add=False)
        holder = spec.model(**{spec.gid_field: uuid.UUID(row.gid)})
        setattr(holder, spec.field(name).attname, sealed)
        stored[(name, origin, seq)] = stored_value(spec, holder, name)
    for name, versions in row.fields.items():
        row.fields[name] = [
            merge.Version(v.origin, v.seq, v.hlc, stored.get((name, v.origin, v.seq), v.value), v.ctx) for v in versions
        ]
    row.plain = stored


def _save_states(rows: list[Row]) -> None:
    new = [
        RowState(model=r.label, gid=r.gid, case_id=r.case_id, fields=log.raw_of(r.fields))
        for r in rows
        if r.state is None
    ]
    RowState.objects.bulk_create(new, batch_size=CHUNK)
    old = [(r, r.state) for r in rows if r.state is not None]
    for r, state in old:
        state.fields = log.raw_of(r.fields)
    RowState.objects.bulk_update([state for _r, state in old], ["fields"], batch_size=CHUNK)


def _append_log(fresh: list[tuple[Entry, dict[str, Any]]], rows: dict[tuple[str, str], Row]) -> None:
    changes = []
    for e, new in fresh:
        row = rows[(e.model, e.gid)]
        values = {name: row.plain.get((name, e.origin, e.seq), value) for name, value in new.items()}
        changes.append(
            Change(origin=e.origin, origin_seq=e.seq, hlc=e.hlc, model=e.model, gid=e.gid, case_id=e.case_id,
                   ctx=e.ctx, fields=values)
        )  # fmt: skip
    Change.objects.bulk_create(changes, batch_size=CHUNK)


def _open_conflicts(rows: list[Row]) -> dict[tuple[str, str, str], Conflict]:
    """The open conflicts of these rows, by (model, gid, field): a query a model and ``CHUNK`` rows, not one a row
    (open conflicts are few; the rows of a bundle many)."""
    found: dict[tuple[str, str, str], Conflict] = {}
    for label, gids in _gids_by_model(rows):
        for c in Conflict.objects.filter(model=label, gid__in=gids, resolved_at__isnull=True):
            found[(c.model, c.gid, c.field)] = c
    return found


def _record_conflicts(rows: list[Row]) -> int:
    opened = 0
    now = timezone.now()
    open_ones = _open_conflicts(rows)
    for row in rows:
        spec = BY_LABEL.get(row.label)
        names = sorted(row.touched)
        for name in names:
            siblings = row.fields.get(name, [])
            sensitive = spec is not None and spec.sensitive(name)
            conflicting = merge.in_conflict(siblings, sensitive=sensitive)
            versions = [v.as_list() for v in sorted(siblings, key=lambda v: v.hlc, reverse=True)]
            existing = open_ones.get((row.label, row.gid, name))
            if conflicting and existing is None:
                Conflict.objects.create(
                    model=row.label, gid=row.gid, case_id=row.case_id, field=name, versions=versions, opened_at=now
                )
                opened += 1
            elif conflicting and existing is not None:
                existing.versions = versions
                existing.save(update_fields=["versions"])
            elif existing is not None:
                existing.resolved_at, existing.outcome = now, Conflict.Outcome.SUPERSEDED
                existing.save(update_fields=["resolved_at", "outcome"])
    return opened


def apply_changes(entries: list[Entry], *, keyring: Keyring, actor: User) -> Any:
    from waystation.sync.changes.payload import ApplyReport

    with acting(actor, keyring), log.applying():
        inst = log.installation(lock=True)  # the clock moves forward only, whatever else writes meanwhile
        clock = log.clock_of(inst)
        clock.receive(e.hlc for e in entries)
        log.keep_clock(inst, clock)
        inst.save(update_fields=["clock_wall_ms", "clock_counter"])

        rows = _load(entries)
        fresh = _merge_all(entries, rows)
        cases = {r.case_id for r in rows.values() if r.case_id}
        shredded = set(ShredRecord.objects.filter(person_id__in=cases).values_list("person_id", flat=True))
        incoming = {r.case_id for r in rows.values() if r.label == SHRED and r.touched and r.case_id}
        gone = shredded | incoming
        touched = sorted((r for r in rows.values() if r.touched and r.label != SHRED), key=lambda r: ORDER[r.label])
        here = Here(touched)
        for row in touched:
            if row.case_id in gone:
                spec = BY_LABEL[row.label]
                for name in row.fields:
                    if spec.sensitive(name):
                        row.fields[name] = merge.blanked(row.fields[name])
                row.plain = dict.fromkeys(row.plain, "")
            aside = _materialise(row, actor, rows, here)
            if aside is not None and all(r is not aside for r in touched):
                touched.append(aside)  # made again from its state in turn, its conflict recorded below
        _link_merges(touched)
        for row in touched:
            _store_plaintexts(row, here)
        _save_states(list(rows.values()))
        _append_log(fresh, rows)
        _break_merge_rings(touched, actor)  # after the states: its undoing is a local write on top of them
        opened = _record_conflicts(touched)
        for person_id in sorted(incoming - shredded):
            shred(actor=actor, person_id=person_id, purpose="sync")
            log.forget_case(person_id)
        present = set(Person.objects.filter(pk__in=cases).values_list("pk", flat=True))
        keyring.new_cases -= gone  # a shredded case gets no key wrapped, whatever arrived for it
        grants.sync(keyring, sorted(present - gone))
    return ApplyReport(
        applied=len(fresh),
        duplicates=len(entries) - len(fresh),
        conflicts=opened,
        refused=sum(1 for r in touched if r.refused),
    )
