"""One Waystation installation for the sync tests (tests/sync/test_end_to_end.py, test_sync_stateful.py), driven
step by step in a process of its own: Django is bound to one data folder a process, and a hub and a station are two.

    python tests/sync/installation.py STEP [ARGUMENTS...]     (WAYSTATION_HOME names the installation)
    python tests/sync/installation.py serve                   (many steps, one process: ``Served``)

A step prints one line of JSON. ``serve`` starts Django once and answers many: it reads one JSON command a line on
standard input, ``{"step": NAME, "args": [...]}``, and answers one JSON line on standard output, ``{"ok": RESULT}``
or ``{"error": TEXT}`` (anything else the process prints goes to standard error). The accounts and persons are
clearly fictional; the installations are throwaway folders of the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
import weakref
from pathlib import Path
from typing import IO, Any

DATABASE = "waystation.sqlite3"  # in the data folder (settings.DATABASES without DATABASE_URL)
_PRIVATE: dict[tuple[str, str], Any] = {}  # (username, password) -> private key, opened once a process


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waystation.settings")
    os.environ["WAYSTATION_DEV_HTTP"] = "1"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _acting_as(username: str, password: str) -> Any:
    """The user's keys opened as a sign-in opens them, and a context that acts with them."""
    from waystation.accounts.models import User
    from waystation.vault import userkeys
    from waystation.vault.agent import AGENT
    from waystation.vault.keyring import acting, keyring_for

    user = User.objects.get(username=username)
    if (username, password) not in _PRIVATE:  # production Argon2: a few tenths of a second, once
        _PRIVATE[(username, password)] = userkeys.unlock(user, password)
    AGENT.put(f"e2e:{user.pk}", user.pk, _PRIVATE[(username, password)])
    return user, acting(user, keyring_for(user))


def setup(username: str, password: str) -> dict[str, Any]:
    """A new installation: its coordinator (password given), the vault set up, the sync identity made."""
    from waystation.accounts.models import Role
    from waystation.accounts.services import user_create
    from waystation.sync.identity import identity_ensure
    from waystation.vault import setup as vault_setup

    user, _ = user_create(actor=None, username=username, role=Role.COORDINATOR, password=password)
    vault_setup.initialise(actor=user, shares=3, threshold=2)
    public = identity_ensure(actor=user)
    return {"key": public.key_string(), "fingerprint": public.fingerprint()}


def station(username: str, password: str, code_name: str) -> dict[str, Any]:
    from waystation.network.services import station_create

    user, acts = _acting_as(username, password)
    with acts:
        made = station_create(
            actor=user, code_name=code_name, country="CN", region="Fictional north", kind="safe_house"
        )
    return {"uid": str(made.uid)}


def register(username: str, password: str, code_name: str, name: str) -> dict[str, Any]:
    from waystation.cases.services import person_register
    from waystation.network.models import Station

    user, acts = _acting_as(username, password)
    with acts:
        person = person_register(
            actor=user, station=Station.objects.get(code_name=code_name), sex="F", birth_year=1990, name_hangul=name
        )
    return {"id": str(person.id), "case_code": person.case_code}


def read(username: str, password: str, person_id: str) -> dict[str, Any]:
    """What this installation holds of the person, her name decrypted with the user's keys (None if absent)."""
    from waystation.cases.models import Person
    from waystation.vault.reveal import reveal

    user, acts = _acting_as(username, password)
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return {"person": None}
    with acts:
        (shown,) = reveal(user=user, items=[(person, ["name_hangul"])], purpose="e2e_check")
    return {
        "person": person_id,
        "name_hangul": str(shown["name_hangul"]),
        "locked": shown.locked,
        "sex": person.sex,
        "birth_year": person.birth_year,
    }


def kill(username: str, password: str) -> dict[str, Any]:
    """The kill switch, pulled as the dashboard pulls it: by a coordinator whose keys are open."""
    from waystation.sync.identity import IdentityKeyWrap
    from waystation.vault.models import CaseKeyWrap
    from waystation.vault.shred import kill_switch

    user, _acts = _acting_as(username, password)
    kill_switch(actor=user)
    left = CaseKeyWrap.objects.filter(holder__isnull=False).count()
    return {"user_wraps": left + IdentityKeyWrap.objects.filter(holder__isnull=False).count()}


def edit(username: str, password: str, person_id: str, birth_year: str) -> dict[str, Any]:
    from waystation.cases.models import Person
    from waystation.cases.services import person_update

    user, acts = _acting_as(username, password)
    with acts:
        person_update(actor=user, person=Person.objects.get(pk=person_id), birth_year=int(birth_year))
    return {"birth_year": int(birth_year)}


def conflicts(person_id: str) -> dict[str, Any]:
    """The open conflicts on the person's fields, and the value this installation shows meanwhile."""
    from waystation.cases.models import Person
    from waystation.sync.changes.models import Conflict

    open_ = Conflict.objects.filter(gid=person_id, resolved_at__isnull=True)
    return {
        "fields": sorted(open_.values_list("field", flat=True)),
        "birth_year": Person.objects.get(pk=person_id).birth_year,
    }


def stations() -> dict[str, Any]:
    from waystation.network.models import Station

    return {"stations": {s.code_name: str(s.uid) for s in Station.objects.all()}}


# --- the stateful test's steps (test_sync_stateful.py): actions, bundles, and what the installation holds ----------


def _log_top() -> int:
    from django.db.models import Max

    from waystation.sync.changes.models import Change

    return int(Change.objects.aggregate(top=Max("seq"))["top"] or 0)


def _local_writes(since: int) -> list[list[Any]]:
    """The writes logged here after log position ``since``, one a field: [model, gid, field, origin, number]."""
    from waystation.sync.changes import log
    from waystation.sync.changes.models import Change

    here = Change.objects.filter(seq__gt=since, origin=log.origin()).order_by("seq")
    return [[c.model, c.gid, name, c.origin, c.origin_seq] for c in here for name in sorted(c.fields)]


def _person(person_id: str) -> Any:
    from waystation.cases.models import Person
    from waystation.lib.errors import ServiceError

    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise ServiceError("not held here")
    return person


def _do_register(user: Any, code_name: str, name: str) -> dict[str, Any]:
    from waystation.cases.services import person_register
    from waystation.network.models import Station

    station = Station.objects.get(code_name=code_name)
    person = person_register(actor=user, station=station, sex="F", birth_year=1990, name_hangul=name)
    return {"id": str(person.id)}


def _do_edit(user: Any, person_id: str, field: str, value: Any) -> dict[str, Any]:
    from waystation.cases.services import person_update
    from waystation.lib.errors import ServiceError
    from waystation.vault.shred import is_shredded

    person = _person(person_id)
    if field.startswith("name") and is_shredded(person.pk):
        raise ServiceError("a shredded case's name is gone")  # the case page offers no such edit
    person_update(actor=user, person=person, **{field: value})
    return {}


def _do_move(user: Any, person_id: str, code_name: str) -> dict[str, Any]:
    import datetime as dt

    from django.utils import timezone

    from waystation.network.models import Station
    from waystation.network.services import movement_plan

    station = Station.objects.get(code_name=code_name)
    expected = timezone.now() + dt.timedelta(days=3)
    movement_plan(actor=user, person=_person(person_id), to_station=station, depart_now=True, expected_arrival=expected)
    return {}


def _do_arrive(user: Any, person_id: str) -> dict[str, Any]:
    from waystation.lib.errors import ServiceError
    from waystation.network.selectors import open_movement
    from waystation.network.services import movement_arrive

    movement = open_movement(_person(person_id).pk)
    if movement is None:
        raise ServiceError("no movement under way")
    movement_arrive(actor=user, movement=movement)
    return {}


def _do_merge(user: Any, kept_id: str, absorbed_id: str) -> dict[str, Any]:
    from waystation.linkage.services import merge

    merge(actor=user, kept=_person(kept_id), absorbed=_person(absorbed_id))
    return {}


def _do_shred(user: Any, person_id: str) -> dict[str, Any]:
    from waystation.vault.shred import shred

    shred(actor=user, person_id=_person(person_id).pk, purpose="stateful test")
    return {}


ACTIONS = {
    "register": _do_register,
    "edit": _do_edit,
    "move": _do_move,
    "arrive": _do_arrive,
    "merge": _do_merge,
    "shred": _do_shred,
}


def act(username: str, password: str, action: str, *args: Any) -> dict[str, Any]:
    """One service call as the user. A refusal the service gives a person (``ServiceError``) is an answer, not an
    error: ``{"done": false, "refused": text}``; otherwise ``{"done": true, "writes": [...], ...}`` with the writes
    it logged (``_local_writes``)."""
    from waystation.lib.errors import ServiceError

    user, acts = _acting_as(username, password)
    before = _log_top()
    try:
        with acts:
            result = ACTIONS[action](user, *args)
    except ServiceError as exc:
        return {"done": False, "refused": str(exc.message)}
    return {"done": True, "writes": _local_writes(before), **result}


def _keyring(username: str, password: str) -> Any:
    """A fresh keyring of the user (no case key remembered from before a shred)."""
    from waystation.accounts.models import User
    from waystation.vault.keyring import Keyring

    _acting_as(username, password)
    return Keyring(User.objects.get(username=username), _PRIVATE[(username, password)])


def export(username: str, password: str, peer_name: str, out: str) -> dict[str, Any]:
    """``waystation sync export --peer NAME --out FILE``: the command's service and file writer; for a station peer
    also the cases in its scope here as the bundle was built."""
    from waystation.sync import services
    from waystation.sync.changes.scope import persons_in_scope
    from waystation.sync.management.commands.sync import write_private
    from waystation.sync.models import Peer

    peer = Peer.objects.select_related("station").get(name=peer_name)
    keyring = _keyring(username, password)
    scope = sorted(str(p) for p in persons_in_scope({peer.station.uid})) if peer.station else None
    exported = services.bundle_export(actor=keyring.user, keyring=keyring, peer=peer)
    write_private(Path(out), exported.data)
    return {"sequence": exported.sequence, "bytes": exported.size, "scope": scope}


def import_(username: str, password: str, path: str) -> dict[str, Any]:
    """``waystation sync import FILE``: its service; a refused bundle answers ``{"refused": text}``."""
    from waystation.sync import services
    from waystation.sync.bundle import BundleRefused
    from waystation.sync.identity import SyncError

    keyring = _keyring(username, password)
    try:
        imported = services.bundle_import(actor=keyring.user, keyring=keyring, data=Path(path).read_bytes())
    except (BundleRefused, SyncError) as exc:
        return {"refused": str(getattr(exc, "message", exc))}
    return {"sequence": imported.sequence, "counts": imported.counts}


def command(*args: str) -> dict[str, Any]:
    """``waystation sync ARGS`` in this process (the command's own code), its output as text."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("sync", *args, stdout=out)
    return {"out": out.getvalue()}


def persons() -> dict[str, Any]:
    from waystation.cases.models import Person

    return {"persons": sorted(str(p) for p in Person.objects.values_list("pk", flat=True))}


def scope(code_name: str) -> dict[str, Any]:
    from waystation.network.models import Station
    from waystation.sync.changes.scope import persons_in_scope

    return {"persons": sorted(str(p) for p in persons_in_scope({Station.objects.get(code_name=code_name).uid}))}


def _shown(spec: Any, instance: Any, name: str, keyring: Any) -> Any:
    """A field as the comparison takes it: coded values as the log stores them, sensitive ones decrypted."""
    import base64

    from waystation.sync.changes.registry import stored_value
    from waystation.vault import crypto
    from waystation.vault.fields import open_value

    if not spec.sensitive(name):
        return stored_value(spec, instance, name)
    try:
        plain = open_value(keyring, instance, name)
    except crypto.Locked:
        return "<locked>"
    if isinstance(plain, bytes):
        return base64.b64encode(plain).decode()
    return plain or ""


def _version_shown(spec: Any, row: Any, name: str, version: Any, keyring: Any) -> list[Any]:
    from waystation.sync.changes.registry import open_stored
    from waystation.vault import crypto

    value = version.value
    if spec.sensitive(name) and value:
        try:
            value = open_stored(spec, name, row.gid, row.case_id, value, keyring)
        except crypto.Locked:
            value = "<locked>"
    return [version.origin, version.seq, version.hlc, value, dict(sorted(version.ctx.items()))]


def hold(username: str, password: str) -> dict[str, Any]:
    """Everything replicated this installation holds, sensitive values decrypted with the user's keys:

    - ``rows``: {model: {gid: {"case": case id, "fields": {field: value}}}}, the records as the app shows them;
    - ``states``: {model: {gid: {field: [[origin, number, clock, value, context], ...]}}}, each field's versions;
    - ``conflicts``: the open conflicts, [model, gid, field, [[origin, number], ...]] each;
    - ``shredded``: the case ids shredded here;
    - ``problems``: what disagrees inside this installation: a record that is not what its state's winner says
      (or missing: refused), a field in conflict without an open conflict or the reverse, and any sensitive
      value of a shredded case left in a record, a state, the log or a conflict.
    """
    from waystation.sync.changes import log, merge
    from waystation.sync.changes.models import Change, Conflict, RowState
    from waystation.sync.changes.registry import BY_LABEL, SHRED, SPECS, case_of, gid_of
    from waystation.vault.models import ShredRecord

    keyring = _keyring(username, password)
    shredded = {str(p) for p in ShredRecord.objects.values_list("person_id", flat=True)}
    rows: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for spec in SPECS:
        held = rows.setdefault(spec.label, {})
        for instance in spec.model._default_manager.all():
            case = case_of(spec, instance)
            fields = {name: _shown(spec, instance, name, keyring) for name in spec.fields}
            held[gid_of(spec, instance)] = {"case": str(case) if case else None, "fields": fields}
            if case and str(case) in shredded:
                left = [n for n in spec.fields if spec.sensitive(n) and fields[n] not in ("", None)]
                if left:
                    problems.append(f"shredded {spec.label} {gid_of(spec, instance)} still holds {left}")
    states: dict[str, dict[str, Any]] = {}
    for state in RowState.objects.all():
        versions = log.versions_of(state.fields)
        if state.model == SHRED:
            states.setdefault(state.model, {})[state.gid] = {
                n: [[v.origin, v.seq] for v in vs] for n, vs in versions.items()
            }
            continue
        spec = BY_LABEL[state.model]
        shown = {n: [_version_shown(spec, state, n, v, keyring) for v in vs] for n, vs in versions.items()}
        states.setdefault(state.model, {})[state.gid] = shown
        row = rows[state.model].get(state.gid)
        if row is None:
            problems.append(f"{state.model} {state.gid} has a state but no record (refused?)")
            continue
        for name, vs in versions.items():
            top = merge.winner(vs)
            winner = _version_shown(spec, state, name, top, keyring)[3]
            if row["fields"][name] != winner and not (
                spec.sensitive(name) and winner in ("", None) and row["fields"][name] in ("", None)
            ):
                problems.append(f"{state.model} {state.gid}.{name} shows {row['fields'][name]!r}, its state {winner!r}")
            if state.case_id and str(state.case_id) in shredded and spec.sensitive(name) and any(v.value for v in vs):
                problems.append(f"shredded {state.model} {state.gid}.{name} keeps a value in its state")
        for name, vs in versions.items():
            conflicting = merge.in_conflict(vs, sensitive=spec.sensitive(name))
            opened = Conflict.objects.filter(model=state.model, gid=state.gid, field=name, resolved_at__isnull=True)
            if conflicting != opened.exists():
                problems.append(
                    f"{state.model} {state.gid}.{name}: in conflict {conflicting}, open conflict {opened.exists()}"
                )
    for change in Change.objects.filter(case_id__in=list(shredded)).exclude(model=SHRED):
        spec = BY_LABEL[change.model]
        if any(spec.sensitive(n) and v for n, v in change.fields.items()):
            problems.append(f"shredded {change.model} {change.gid} keeps a value in the log")
    conflicts = []
    for c in Conflict.objects.filter(resolved_at__isnull=True):
        dots = sorted([v[0], v[1]] for v in c.versions)
        conflicts.append([c.model, c.gid, c.field, dots])
        if c.case_id and str(c.case_id) in shredded and BY_LABEL[c.model].sensitive(c.field):
            problems.append(f"shredded {c.model} {c.gid}.{c.field} has an open conflict")
    return {
        "rows": rows,
        "states": states,
        "conflicts": sorted(conflicts),
        "shredded": sorted(shredded),
        "problems": problems,
    }


def snapshot(target: str) -> dict[str, Any]:
    """Copy this installation's data folder (database closed) to ``target``."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    shutil.copytree(settings.HOME, target)
    return {"copied": target}


def restore(source: str) -> dict[str, Any]:
    """Make this installation again what ``snapshot`` copied: its data folder replaced, no key held in memory."""
    from django.conf import settings
    from django.db import connections

    from waystation.vault.agent import AGENT

    connections.close_all()
    home = Path(settings.HOME)
    for child in home.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    shutil.copytree(source, home, dirs_exist_ok=True)
    AGENT.drop_all()
    return {"restored": source}


def serve() -> None:
    """Answer JSON commands line by line (see the module's docstring) until standard input ends."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else is printed goes to standard error, never into an answer
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            answer = {"ok": STEPS[command["step"]](*command.get("args", []))}
        except Exception:  # noqa: BLE001 - the test shows the traceback and fails
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def new_home(home: Path, migrated: Path) -> Path:
    """A new installation's data folder, its database a copy of a migrated one (``conftest.migrated_database``)."""
    home.mkdir(mode=0o700)
    shutil.copy2(migrated, home / DATABASE)
    return home


class Served:
    """The test's side of ``serve``: one installation's process (``env`` names its data folder);
    ``served(step, *args)`` returns what the step returns, and fails the test with the traceback of a step that
    failed. The process ends when its standard input is closed (``close``, or when this object is collected)."""

    def __init__(self, name: str, env: dict[str, str], log: IO[str] | None = None) -> None:
        self.name = name
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "serve"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
        )
        self._finalizer = weakref.finalize(self, _end, self.process)

    def __call__(self, step: str, *args: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"step": step, "args": list(args)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"{self.name} stopped answering (see its standard error)"
        answer = json.loads(line)
        assert "error" not in answer, f"{self.name} failed at {step}{args}:\n{answer['error']}"
        return answer["ok"]

    def close(self) -> None:
        self._finalizer()


def _end(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    process.wait(timeout=60)


STEPS = {
    "setup": setup,
    "station": station,
    "register": register,
    "read": read,
    "edit": edit,
    "conflicts": conflicts,
    "kill": kill,
    "stations": stations,
}
STEPS.update(  # the stateful test's
    {
        "act": act,
        "export": export,
        "import": import_,
        "scope": scope,
        "command": command,
        "persons": persons,
        "hold": hold,
        "snapshot": snapshot,
        "restore": restore,
    }
)

if __name__ == "__main__":
    _django()
    if sys.argv[1] == "serve":
        serve()
    else:
        print(json.dumps(STEPS[sys.argv[1]](*sys.argv[2:])))
