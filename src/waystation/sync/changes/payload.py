"""The two calls the transport makes (see the interface in ``sync``): what to send a peer, and applying what a
peer sent.

A payload::

    {"format": "waystation-changes/1", "origin": <sender's origin id>, "bundle": <n>, "upto": <log position>,
     "ack": {"bundle": <the peer's highest bundle received>, "upto": <its log position>} | null,
     "changes": [{"o": origin, "n": write number, "h": clock, "m": model, "g": global id, "c": case id | null,
                  "x": {origin: number} (the writer's context), "f": {field: value}}, ...]}

Values are plaintext (sensitive ones opened with the exporting user's keys): the transport encrypts the whole
payload to the peer. Changes are those of the log the peer has not acknowledged, within its scope; a case that has
just come into a station's scope is sent whole, from the replicated state, until the station acknowledges a bundle
that carried it. A case that leaves a station's scope by moving (she arrived elsewhere) is followed by her
movements' changes until the station acknowledges a bundle that carried them: its installation then sees her out
of its scope, as the hub does. Shreds go to every peer (case ids only: a station forgets a case it held before it
left its scope).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.lib import bulk
from waystation.sync.changes import log
from waystation.sync.changes.models import Change, PeerCase, PeerState, RowState
from waystation.sync.changes.registry import BY_LABEL, SHRED, open_stored
from waystation.sync.changes.scope import persons_in_scope
from waystation.vault import crypto
from waystation.vault.keyring import Keyring

FORMAT = "waystation-changes/1"


class CannotExport(Exception):
    """The exporting user's keys cannot open a case that must be sent (translated message)."""


class BadPayload(Exception):
    """A malformed or inconsistent payload, or one this user cannot apply (translated message); nothing changed."""


@dataclass(frozen=True)
class ApplyReport:
    applied: int
    duplicates: int
    conflicts: int
    refused: int

    def as_dict(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "refused": self.refused,
        }


def _entry(change: Change) -> dict[str, Any]:
    return {
        "o": change.origin,
        "n": change.origin_seq,
        "h": change.hlc,
        "m": change.model,
        "g": change.gid,
        "c": str(change.case_id) if change.case_id else None,
        "x": change.ctx,
        "f": change.fields,
    }


def _snapshot(states: list[RowState]) -> list[dict[str, Any]]:
    """The current versions of these rows, as entries (one per row and write)."""
    entries: list[dict[str, Any]] = []
    for state in states:
        by_dot: dict[tuple[str, int], dict[str, Any]] = {}
        for name, versions in log.versions_of(state.fields).items():
            for v in versions:
                entry = by_dot.setdefault(
                    (v.origin, v.seq),
                    {"o": v.origin, "n": v.seq, "h": v.hlc, "m": state.model, "g": state.gid,
                     "c": str(state.case_id) if state.case_id else None, "x": dict(v.ctx), "f": {}},
                )  # fmt: skip
                entry["f"][name] = v.value
        entries.extend(by_dot.values())
    return entries


def _opened(entry: dict[str, Any], keyring: Keyring) -> dict[str, Any]:
    spec = BY_LABEL.get(entry["m"])
    if spec is None or not any(spec.sensitive(n) and entry["f"][n] for n in entry["f"]):
        return entry
    case_id = uuid.UUID(entry["c"])
    fields = dict(entry["f"])
    try:
        for name, value in fields.items():
            if spec.sensitive(name):
                fields[name] = open_stored(spec, name, entry["g"], case_id, value, keyring)
    except crypto.Locked as exc:
        code = Person.objects.filter(pk=case_id).values_list("case_code", flat=True).first() or str(case_id)
        raise CannotExport(
            _("Your keys cannot open case %(code)s, which this bundle must carry: export as a coordinator.")
            % {"code": code}
        ) from exc
    return {**entry, "f": fields}


# What tells a station why a case left its scope: her movements (her arrival elsewhere, say). Not her own row: its
# changes may merge her into a record the station does not hold (it would show no merge where its state has one).
LEAVING_MODELS = frozenset({"network.movement"})


def _scoped_changes(peer_state: PeerState, station_uids: set[uuid.UUID], bundle: int, upto: int) -> list[Any]:
    persons = persons_in_scope(station_uids)
    mine = PeerCase.objects.filter(peer=peer_state.peer)
    mine.filter(confirmed=False, first_bundle__lte=peer_state.acked_bundle).update(confirmed=True)
    # A case that left the scope, once the peer has acknowledged everything up to where she left, is forgotten here;
    # so is one back in scope before that (what was written of her while she was out was not sent): either is sent
    # whole when she is (again) in scope.
    mine.filter(left_upto__lte=peer_state.acked_upto).delete()
    mine.filter(left_upto__isnull=False, person_id__in=persons).delete()
    out = mine.exclude(person_id__in=persons)
    # Never acknowledged (the bundle that carried her whole may be lost): forgotten, as before leaving was told. OPEN:
    # a peer that did receive her, its acknowledgement not yet back, keeps her as last known.
    out.filter(confirmed=False, first_bundle__gt=peer_state.acked_bundle).delete()
    out.filter(left_upto__isnull=True).update(left_upto=upto)
    # Leaving: the peer holds her, so it is told why she left (her movements up to the bundle that first found her
    # gone: say, her arrival elsewhere), never what is written of her afterwards; until it acknowledges a bundle
    # that carried them.
    leaving = {pid: last for pid, last in out.values_list("person_id", "left_upto") if last is not None}
    sent = {pc.person_id: pc for pc in mine.exclude(person_id__in=leaving)}
    confirmed = {pid for pid, pc in sent.items() if pc.confirmed}
    PeerCase.objects.bulk_create(
        [PeerCase(peer=peer_state.peer, person_id=pid, first_bundle=bundle) for pid in persons if pid not in sent]
    )
    whole = persons - confirmed
    entries: list[Any] = []
    pending = Change.objects.filter(seq__gt=peer_state.acked_upto, seq__lte=upto).order_by("seq")
    for change in pending.iterator(chunk_size=2000):
        concerns = change.case_id is None or change.model == SHRED or change.case_id in persons
        told = change.case_id in leaving and change.model in LEAVING_MODELS and change.seq <= leaving[change.case_id]
        if (concerns and change.case_id not in whole) or told:
            entries.append(_entry(change))
    whole_ids = sorted(whole)
    for start in range(0, len(whole_ids), 500):
        entries.extend(_snapshot(list(RowState.objects.filter(case_id__in=whole_ids[start : start + 500]))))
    return entries


def build_payload(*, keyring: Keyring, peer: str, station_uids: set[uuid.UUID] | None) -> dict[str, Any]:
    """Everything ``peer`` has not acknowledged, within its scope (None: the hub, everything), with our
    acknowledgement of what we received from it. Raises ``CannotExport`` when ``keyring`` cannot open a case that
    must be sent."""
    with transaction.atomic():
        log.baseline()
        state, _created = PeerState.objects.get_or_create(peer=peer)
        state.bundles_built += 1
        bundle = state.bundles_built
        upto = Change.objects.aggregate(top=Max("seq"))["top"] or 0
        if station_uids is None:
            pending = Change.objects.filter(seq__gt=state.acked_upto, seq__lte=upto).order_by("seq")
            raw = [_entry(change) for change in pending.iterator(chunk_size=2000)]
        else:
            raw = _scoped_changes(state, station_uids, bundle, upto)
        keyring.prefetch(list({uuid.UUID(e["c"]) for e in raw if e["c"]}))
        changes = [_opened(entry, keyring) for entry in raw]
        state.save(update_fields=["bundles_built"])
        audit_record(
            actor=keyring.user,
            action="sync.export",
            details={"peer": peer[:64], "bundle": bundle, "changes": len(changes),
                     "cases": len({e["c"] for e in changes if e["c"]})},
        )  # fmt: skip
        return {
            "format": FORMAT,
            "origin": log.origin(),
            "bundle": bundle,
            "upto": upto,
            "ack": {"bundle": state.received_bundle, "upto": state.received_upto} if state.received_bundle else None,
            "changes": changes,
        }


def receive_payload(payload: dict[str, Any], *, keyring: Keyring, actor: User, peer: str) -> ApplyReport:
    """Validate and apply in one transaction, all or nothing; idempotent and order-independent. Raises
    ``BadPayload`` (having changed nothing) for a malformed or inconsistent payload."""
    from waystation.sync.changes.apply import Unappliable, apply_changes
    from waystation.sync.changes.validate import validated

    checked = validated(payload)
    try:
        # A large bundle is a bulk write: SQLite's 2 MB page cache would make its index inserts wait on the disk.
        with bulk.large_sqlite_cache(), transaction.atomic():
            state, _created = PeerState.objects.select_for_update().get_or_create(peer=peer)
            ack = checked.ack
            if ack is not None and ack[0] > state.bundles_built:
                raise BadPayload(_("The bundle acknowledges bundle %(n)s, which was never sent to it.") % {"n": ack[0]})
            report = apply_changes(checked.changes, keyring=keyring, actor=actor)
            if ack is not None and ack[0] > state.acked_bundle:
                state.acked_bundle, state.acked_upto = ack
            if checked.bundle > state.received_bundle:
                state.received_bundle, state.received_upto = checked.bundle, checked.upto
            state.save()
            audit_record(
                actor=actor,
                action="sync.apply",
                details={"peer": peer[:64], "bundle": checked.bundle, **report.as_dict()},
            )
    except Unappliable as exc:
        raise BadPayload(str(exc)) from exc
    except crypto.VaultError as exc:
        raise BadPayload(_("Your keys cannot open a case this bundle changes: import as a coordinator.")) from exc
    return report
