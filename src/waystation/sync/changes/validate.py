"""A payload's shape, checked before anything is applied: every message names what is wrong."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from waystation.sync.changes import merge
from waystation.sync.changes.registry import BY_LABEL, SHRED, SHRED_FIELD

MAX_ORIGIN = 32


@dataclass(frozen=True)
class Entry:
    origin: str
    seq: int
    hlc: str
    model: str
    gid: str
    case_id: uuid.UUID | None
    ctx: dict[str, int]
    fields: dict[str, Any]


@dataclass(frozen=True)
class Checked:
    bundle: int
    upto: int
    ack: tuple[int, int] | None
    changes: list[Entry]


def _bad(message: str) -> Exception:
    from waystation.sync.changes.payload import BadPayload

    return BadPayload(message)


def _count(value: Any, what: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise _bad(_("The bundle's %(what)s is not a valid number.") % {"what": what})
    return value


def _origin(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.isalnum() or not 0 < len(value) <= MAX_ORIGIN:
        raise _bad(_("Change %(where)s has no valid origin.") % {"where": where})
    return value


def _uuid(value: Any, where: str) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise _bad(_("Change %(where)s names a record by an id that is not valid.") % {"where": where})


def _entry(raw: Any, number: int) -> Entry:
    where = str(number)
    if not isinstance(raw, dict) or set(raw) != {"o", "n", "h", "m", "g", "c", "x", "f"}:
        raise _bad(_("Change %(where)s is not a change record.") % {"where": where})
    origin = _origin(raw["o"], where)
    seq = _count(raw["n"], _("write number of change %(where)s") % {"where": where}, positive=True)
    hlc = raw["h"]
    try:
        if not isinstance(hlc, str) or not hlc.endswith(origin):
            raise ValueError
        merge.hlc_parse(hlc)
    except ValueError:
        raise _bad(_("Change %(where)s has no valid clock.") % {"where": where}) from None
    model = raw["m"]
    spec = BY_LABEL.get(model) if isinstance(model, str) else None
    if spec is None and model != SHRED:
        raise _bad(_("Change %(where)s is for a kind of record that is not replicated.") % {"where": where})
    gid = str(_uuid(raw["g"], where))
    case_id = None if raw["c"] is None else _uuid(raw["c"], where)
    ctx = raw["x"]
    if not isinstance(ctx, dict) or not all(
        isinstance(k, str) and k.isalnum() and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in ctx.items()
    ):
        raise _bad(_("Change %(where)s has no valid context.") % {"where": where})
    fields = raw["f"]
    if not isinstance(fields, dict) or not fields:
        raise _bad(_("Change %(where)s changes no field.") % {"where": where})
    if spec is None:
        if fields != {SHRED_FIELD: True} or case_id is None or str(case_id) != gid:
            raise _bad(_("Change %(where)s is not a valid shred.") % {"where": where})
    else:
        unknown = sorted(set(fields) - set(spec.fields))
        if unknown:
            raise _bad(
                _("Change %(where)s sets fields that are not replicated: %(fields)s.")
                % {"where": where, "fields": ", ".join(unknown)[:200]}
            )
        is_station = model == "network.station"
        is_person = model == "cases.person"
        if (case_id is None) != is_station or (is_person and str(case_id) != gid):
            raise _bad(_("Change %(where)s names the wrong case for its record.") % {"where": where})
        for name, value in fields.items():
            if spec.sensitive(name) and not isinstance(value, str):
                raise _bad(_("Change %(where)s has a value that is not text.") % {"where": where})
    return Entry(origin, seq, hlc, model, gid, case_id, dict(ctx), dict(fields))


def validated(payload: Any) -> Checked:
    if not isinstance(payload, dict) or payload.get("format") != "waystation-changes/1":
        raise _bad(_("This is not a Waystation change bundle, or it is from a version this one cannot read."))
    _origin(payload.get("origin"), _("header"))
    bundle = _count(payload.get("bundle"), _("bundle number"), positive=True)
    upto = _count(payload.get("upto"), _("log position"))
    ack_raw = payload.get("ack")
    ack = None
    if ack_raw is not None:
        if not isinstance(ack_raw, dict):
            raise _bad(_("The bundle's acknowledgement is not valid."))
        ack = (
            _count(ack_raw.get("bundle"), _("acknowledged bundle"), positive=True),
            _count(ack_raw.get("upto"), _("acknowledged log position")),
        )
    changes = payload.get("changes")
    if not isinstance(changes, list):
        raise _bad(_("The bundle has no list of changes."))
    return Checked(bundle, upto, ack, [_entry(raw, n) for n, raw in enumerate(changes, 1)])
