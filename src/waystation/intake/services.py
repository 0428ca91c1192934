"""Importing a station's spreadsheet: every row checked first, then every person written in one transaction.

``import_run`` is the one service the command line (``waystation import``) and the coordinator's pages call.

Decisions, and why:

* **All or nothing.** Every row is validated (``interop.rows.validate``, plus the stations and the "already
  imported" lookup here) before anything is written; any error refuses the whole file (``ImportRefused`` carries
  every error, naming row, column and value). The writing itself is one database transaction: a process killed
  half way leaves no person, no key, no index entry and no run behind (``tests/intake/test_import_killed.py``).
* **Re-importable.** Each row has an external id (the file's id column, or a digest of its identifying cells: see
  ``interop.rows``). A row whose (register, external id) was imported before is counted "already imported" and
  not created again. The register (``source_key``) is the name the user gives the source, by default the file's
  name without its extension, so that importing the same file again, or a corrected copy of it, is recognised.
* **No names of files.** A file's, sheet's or register's name can name a person ("kim_younghee_hyesan.xlsx"):
  none is stored. The run keeps keyed digests (HMAC under the blind-index key) of the register's name and of the
  file's bytes, and each record the keyed digest of (register, external id): see ``intake.models``.
* **The same work as ``person_register``, in bulk.** Registering 100,000 persons one by one would cost one audit
  event, one blind-index rewrite and one round of key-wrap queries per person. The batch path here does what
  ``person_register`` does for each person (the same checks, via ``interop.rows``; encryption by the vault fields
  on insert with a fresh data key per case; the names' blind-index rows; the intake movement; the status
  ``status_on_arrival`` gives) with the batch machinery it shares with the synthetic-data generator (``lib.bulk``,
  see ``_write``), and wraps every new case key for its holders (``vault.grants.holders``) and the recovery key
  once, in bulk (``_wrap_keys``).
  One ``intake.import`` audit event records the run with its counts; the run's ``ImportedRecord`` rows list the
  persons it created.
* **No consent is invented.** A spreadsheet row says nothing about what the person agreed to: imported persons
  have no consent recorded, and so are not counted in figures until someone records their decision.
* **Coordinators only** (the service checks it; the view and the command check it before calling).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from waystation.accounts.models import Role, User
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.cases.models.person import new_case_code
from waystation.cases.services import status_on_arrival
from waystation.intake.models import ImportedRecord, ImportRun, ImportStatus, SavedMapping
from waystation.interop import rows as row_checks
from waystation.interop.columns import Mapping, MappingError, locate_header
from waystation.interop.rows import RowError, ValidRow
from waystation.interop.spreadsheet import Table, read_table
from waystation.lib import bulk
from waystation.lib.errors import ServiceError
from waystation.network.models import Movement, MovementStatus, Station, StationStatus
from waystation.vault import crypto, grants
from waystation.vault.keyring import Keyring, acting, keyring_for
from waystation.vault.models import CaseKeyWrap, NameIndex

BATCH = 2000  # ids per lookup query
WRITE_BATCH = 5000  # persons per insert batch (and progress report)
CACHE_MIB_PER_ROW = 1 / 128  # SQLite page cache for the write: 8 KiB per person (780 MiB for 100,000), 256 MiB to 1 GiB
# ``progress(phase, done, total)``: phase is one of these codes (the UI and the command line translate them).
PHASES = ("check", "write", "keys")
# What ``_write`` inserts through ``lib.bulk``, in this order. The intake movements come before their persons (the
# foreign keys are checked at commit): a person is then inserted with the place the database computes for her, and
# the place triggers (cases migration 0010) find nothing to correct. The other way round, each arrival rewrote her
# just-inserted row (every sealed field of it) to set the place.
ORDER = [(Movement, "movements"), (Person, "persons"), (NameIndex, "name_digests"), (ImportedRecord, "records")]
RECORD_FIELDS = ("external_key", "person_id", "run_id")
MOVEMENT_FIELDS = ("uid", "person_id", "to_station_id", "status", "planned_at", "arrived_at", "recorded_by_id")
WRAP_FIELDS = ("person_id", "holder_id", "sealed")
Progress = Callable[[str, int, int], None]


class ImportDenied(ServiceError):
    """The actor may not import (not an active coordinator)."""


class ImportRefused(ServiceError):
    """The file cannot be imported as it is: ``report`` lists every error (and what would have happened)."""

    def __init__(self, report: ImportReport) -> None:
        count = len(report.errors)
        super().__init__(_("Nothing was imported: %(count)s problem(s) to fix in the file first.") % {"count": count})
        self.report = report


@dataclass(frozen=True)
class Source:
    """A file to import, read: its table, and what identifies it without keeping its content."""

    table: Table
    name: str  # the file's name (no folder)
    digest: str  # SHA-256 of its bytes, hex

    @property
    def default_key(self) -> str:
        """The register's default name: the file's name without its extension."""
        return Path(self.name).stem.strip()[:200] or self.digest[:16]


@dataclass
class ImportReport:
    """What an import did, or (``dry_run``, or refused) would do."""

    rows: int = 0
    to_create: int = 0
    already_imported: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    dry_run: bool = False
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        def problems(items: list[RowError]) -> list[dict[str, Any]]:
            return [{"row": e.row, "column": e.column, "value": e.value, "message": e.message} for e in items]

        return {
            "dry_run": self.dry_run,
            "ok": self.ok,
            "rows": self.rows,
            "to_create": self.to_create,
            "already_imported": self.already_imported,
            "created": self.created,
            "run": self.run_id,
            "errors": problems(self.errors),
            "warnings": problems(self.warnings),
            "ignored_columns": self.unmapped,
        }


def can_import(user: User | None) -> bool:
    return user is not None and user.is_active and user.role == Role.COORDINATOR


def check_can_import(user: User | None) -> None:
    if not can_import(user):
        raise ImportDenied(_("Only a coordinator can import records."))


def source_open(path: str | Path | bytes, *, name: str | None = None, sheet: str | None = None) -> Source:
    """Read the file at ``path``, or the bytes of an upload (``SpreadsheetError`` when it cannot be), and digest
    it. ``name`` is the name the user knows it by (an upload's), default the path's."""
    table = locate_header(read_table(path, sheet=sheet))  # the size is checked before anything is read
    if isinstance(path, bytes):
        return Source(table=table, name=(name or "upload")[:255], digest=hashlib.sha256(path).hexdigest())
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return Source(table=table, name=Path(name or str(path)).name[:255], digest=digest.hexdigest())


def saved_mapping_save(*, actor: User, name: str, mapping: Mapping) -> SavedMapping:
    """Save (or replace) a named mapping for the next import."""
    check_can_import(actor)
    name = " ".join(name.split())[:100]
    if not name:
        raise ServiceError(_("Give the mapping a name."), field="save_as")
    with transaction.atomic():
        saved, created = SavedMapping.objects.update_or_create(
            name=name, defaults={"mapping": mapping.for_storage().to_json(), "created_by": actor}
        )
        audit_record(actor=actor, action="intake.mapping_save", target=saved, details={"replaced": not created})
    return saved


def _keyed(index_key: bytes, label: str, *parts: str) -> str:
    """What the database keeps of a name, a file or a row's id: HMAC under the index key, labelled by what it
    digests (``register``, ``file``, ``import`` for a row), so that the database alone tells nothing about it."""
    message = "\x1f".join((label, *parts)).encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()[:32]


def _register(index_key: bytes, file_key: str, name: str) -> str:
    """The register's keyed digest. The very same bytes imported before (a copy renamed "register (1).csv", or
    given another register name) are that import's register again, so that their rows are recognised as already
    imported, never created twice."""
    earlier = (
        ImportRun.objects.filter(digest=file_key, created__gt=0)
        .exclude(register="")
        .order_by("-id")
        .values_list("register", flat=True)
        .first()
    )
    return earlier or _keyed(index_key, "register", name)


def _index_key(keyring: Keyring) -> bytes:
    try:
        return keyring.index_key()
    except crypto.Locked as exc:
        raise ServiceError(
            _("Your keys are not ready yet: a coordinator signing in prepares them. Try again later.")
        ) from exc


def _stations(
    valid: Sequence[ValidRow], default: str, table: Table, mapping: Mapping
) -> tuple[dict[int, Station], list[RowError]]:
    """Each row's station (looked up by code name, case-insensitively), or an error naming the row. A file with
    no station column and no default station is one error, not one per row."""
    column_index = mapping.field_columns().get("station")
    if column_index is None and not default.strip():
        message = _("No station: map a column holding the station's code name, or choose a default station.")
        return {}, [RowError(0, "", "", message)]
    known = {s.code_name.casefold(): s for s in Station.objects.all()}
    column = table.column_name(column_index) if column_index is not None else ""
    chosen: dict[int, Station] = {}
    errors: list[RowError] = []
    default_station = known.get(default.strip().casefold()) if default.strip() else None
    for row in valid:
        code = row.station.strip()
        if not code and not default.strip():
            message = _("No station: map a column holding the station's code name, or choose a default station.")
            errors.append(RowError(row.row, column, "", message))
            continue
        station = known.get(code.casefold()) if code else default_station
        shown_code = code or default.strip()
        if station is None:
            message = _("There is no station with the code name %(code)s.") % {"code": shown_code}
            errors.append(RowError(row.row, column if code else "", row_checks.shorten(shown_code), message))
        elif station.status != StationStatus.ACTIVE:
            message = _("Station %(code)s is not active: nobody can be registered there.") % {"code": station.code_name}
            errors.append(RowError(row.row, column if code else "", row_checks.shorten(shown_code), message))
        else:
            chosen[row.row] = station
    return chosen, errors


def import_run(
    *,
    actor: User,
    source: Source,
    mapping: Mapping,
    source_key: str = "",
    station: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
    today: dt.date | None = None,
    keyring: Keyring | None = None,
) -> ImportReport:
    """Import ``source`` through ``mapping`` as ``actor``; ``station`` is the code name of the station for rows
    whose file does not name one. ``dry_run``: check and count, write nothing, return the report (errors
    included). Otherwise any error raises ``ImportRefused`` with nothing written. ``keyring``: the actor's keys
    when the caller opened them itself (the command line); by default those the key agent holds for the actor."""
    check_can_import(actor)
    today = today or timezone.localdate()
    source_key = " ".join((source_key or source.default_key).split())[:200]
    started = timezone.now()

    def checking(done: int, total: int) -> None:
        if progress is not None:
            progress("check", done, total)

    checking(0, len(source.table.rows))
    try:
        validated = row_checks.validate(source.table, mapping, today, progress=checking)
    except MappingError as exc:
        report = ImportReport(rows=len(source.table.rows), dry_run=dry_run)
        report.errors = [RowError(0, "", "", problem) for problem in exc.problems]
        if dry_run:
            return report
        raise ImportRefused(report) from exc
    report = ImportReport(
        rows=len(source.table.rows),
        errors=list(validated.errors),
        warnings=list(validated.warnings),
        unmapped=list(validated.unmapped),
        dry_run=dry_run,
    )
    stations, station_errors = _stations(validated.rows, station, source.table, mapping)
    report.errors.extend(station_errors)
    report.errors.sort(key=lambda e: e.row)
    keyring = keyring or keyring_for(actor)
    index_key = _index_key(keyring)
    file_key = _keyed(index_key, "file", source.digest)
    register = _register(index_key, file_key, source_key)
    keys = {row.row: _keyed(index_key, "import", register, row.external_id) for row in validated.rows}
    done_before = _already_imported(keys.values())
    fresh = [row for row in validated.rows if keys[row.row] not in done_before]
    report.already_imported = len(validated.rows) - len(fresh)
    report.to_create = len(fresh) if report.ok else 0
    if dry_run:
        return report
    if not report.ok:
        raise ImportRefused(report)
    try:
        run = _write_all(
            actor,
            keyring,
            source,
            (register, file_key),
            mapping,
            report,
            fresh,
            stations,
            keys,
            today,
            progress,
            started,
        )
    except IntegrityError as exc:  # another import of the same register committed between our check and our write
        raise ServiceError(
            _("Another import of the same rows finished in the meantime: nothing was written. Check the file again.")
        ) from exc
    report.created = len(fresh)
    report.run_id = run.pk
    return report


def _write_all(
    actor: User,
    keyring: Keyring,
    source: Source,
    digests: tuple[str, str],
    mapping: Mapping,
    report: ImportReport,
    fresh: list[ValidRow],
    stations: dict[int, Station],
    keys: dict[int, str],
    today: dt.date,
    progress: Progress | None,
    started: dt.datetime,
) -> ImportRun:
    """Everything the import writes, in one transaction: the run, the rows, the key wraps, the audit event.
    ``digests``: the keyed digests of the register's name and of the file."""
    register, file_key = digests
    # The indexes the rows go into (names, wraps, movements, records: random keys) outgrow synth's 256 MiB cache at
    # 100,000 persons, and every page that falls out of it is read again, or spilled to the log mid-transaction.
    cache = min(1024, max(256, int(len(fresh) * CACHE_MIB_PER_ROW)))
    with bulk.large_sqlite_cache(cache), transaction.atomic(), acting(actor, keyring):
        run = ImportRun.objects.create(
            actor=actor,
            started_at=started,
            finished_at=started,
            register=register,
            digest=file_key,
            format=source.table.format,
            encoding=source.table.encoding,
            mapping=mapping_data(mapping),
            rows=report.rows,
            created=len(fresh),
            already_imported=report.already_imported,
            warnings=len(report.warnings),
            status=ImportStatus.IMPORTED if fresh else ImportStatus.NOTHING_NEW,
        )
        _write(actor, keyring, run, fresh, stations, keys, today, progress)
        _wrap_keys(keyring, progress)  # here rather than on leaving ``acting``: inside the progress report
        event = audit_record(
            actor=actor,
            action="intake.import",
            target=run,
            details={
                "rows": report.rows,
                "created": len(fresh),
                "already_imported": report.already_imported,
                "warnings": len(report.warnings),
                "format": source.table.format,
                "digest": file_key,
                "consent": "none_recorded",
            },
        )
        run.audit_event = event
        run.finished_at = timezone.now()
        run.save(update_fields=["audit_event", "finished_at"])
    return run


def _wrap_keys(keyring: Keyring, progress: Progress | None) -> None:
    """Wrap the key of every case just created for each of its holders (``grants.holders``: the coordinators and
    the keepers of her station) and for the recovery key, as ``grants.wrap_new_cases`` does, in bulk: the cases are
    new in this transaction, so there is no earlier wrap to compare with or remove, and no grant pending."""
    from waystation.vault.userkeys import public_keys

    created = sorted(keyring.new_cases)
    keyring.new_cases.clear()
    recovery = grants.recovery_public_key()  # refuses for a vault that is not set up
    holders = grants.holders(created)
    public = public_keys({uid for users in holders.values() for uid in users})
    now = timezone.now()
    sealer = crypto.Sealer()  # one ephemeral key pair for the import's wraps (see there: what that shows)
    if progress is not None:
        progress("keys", 0, len(created))
    for start in range(0, len(created), WRITE_BATCH):
        wraps: list[tuple[Any, ...]] = []
        for pid in created[start : start + WRITE_BATCH]:
            key = keyring.case_key(pid)
            wraps.extend((pid, uid, sealer.seal_to(public[uid], key)) for uid in sorted(holders[pid]))
            wraps.append((pid, None, sealer.seal_to(recovery, key)))
        bulk.insert_values(CaseKeyWrap, WRAP_FIELDS, wraps, now)
        if progress is not None:
            progress("keys", min(start + WRITE_BATCH, len(created)), len(created))


def mapping_data(mapping: Mapping) -> dict[str, Any]:
    return dict(json.loads(mapping.for_storage().to_json()))


def _already_imported(keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    found: set[str] = set()
    for i in range(0, len(wanted), BATCH):
        found.update(
            ImportedRecord.objects.filter(external_key__in=wanted[i : i + BATCH]).values_list("external_key", flat=True)
        )
    return found


def _new_case_codes(count: int) -> list[str]:
    """``count`` random case codes used by nobody yet. ``Person``'s default draws one code per person and relies on
    the odds (about 1 in 78 billion); 100,000 new codes among 100,000 existing ones would collide once in eight
    imports, which would refuse the whole file. So codes are drawn here and checked against the table."""
    codes: list[str] = []
    taken: set[str] = set()
    while len(codes) < count:
        wanted = count - len(codes)
        candidates = [c for c in {new_case_code() for _ in range(wanted)} if c not in taken]
        for i in range(0, len(candidates), BATCH):
            taken.update(
                Person.objects.filter(case_code__in=candidates[i : i + BATCH]).values_list("case_code", flat=True)
            )
        for code in candidates:
            if code not in taken:
                taken.add(code)
                codes.append(code)
    return codes[:count]


def _write(
    actor: User,
    keyring: Keyring,
    run: ImportRun,
    fresh: list[ValidRow],
    stations: dict[int, Station],
    keys: dict[int, str],
    today: dt.date,
    progress: Progress | None,
) -> None:
    """Insert the persons, their intake movements, name digests and import records, batch by batch, inside the
    caller's transaction and keyring (the vault fields seal each value with the new case's key on insert).

    The batch machinery is the one the synthetic-data generator uses (``lib.bulk``), so that the two bulk writers
    cannot drift apart: ``bulk.index_names`` adds a batch's blind-index rows from the plaintext names (whatever
    ``vault.blind`` stores for a name, it stores for these), ``bulk.insert`` inserts the batch's models in
    dependency order.

    Order: each row gets its person's id first (a random UUID, as ``Person`` would give it), and the persons are
    inserted in the order of their ids, their movements, digests, records and key wraps with them. Every index keyed
    by the person then takes its new entries in ascending order, a sweep through its pages instead of one random
    page per entry (at 100,000 persons, most of the write); and the rows' order in the tables follows their random
    ids, not the file's, so it no longer tells in what order the file listed them."""
    index_key = _index_key(keyring)
    this_month = today.replace(day=1)
    now = timezone.now()
    if progress is not None:
        progress("write", 0, len(fresh))
    codes = _new_case_codes(len(fresh))
    ordered = sorted(zip((uuid.uuid4() for _ in fresh), fresh, strict=True), key=lambda pair: pair[0])
    counts: Counter[str] = Counter()
    for start in range(0, len(ordered), WRITE_BATCH):
        batch = ordered[start : start + WRITE_BATCH]
        rows = bulk.Rows()
        records: list[tuple[Any, ...]] = []
        arrivals: list[tuple[Any, ...]] = []  # the intake movements, as values: no instance each (``lib.bulk``)
        uids = sorted(uuid.uuid4() for _ in batch)  # the movements' own ids, in the same order
        for offset, (person_id, row) in enumerate(batch):
            station = stations[row.row]
            values = row.person
            person = Person(
                id=person_id,
                case_code=codes[start + offset],
                sex=values["sex"],
                birth_year=values["birth_year"],
                origin_province=values["origin_province"],
                left_nk_month=values["left_nk_month"],
                first_contact_month=values["first_contact_month"] or this_month,
                languages=list(values["languages"]),
                status=status_on_arrival(station),
                name_hangul=values["name_hangul"].strip(),
                name_romanized=values["name_romanized"].strip(),
                name_chinese=values["name_chinese"].strip(),
                aliases=values["aliases"].strip(),
                date_of_birth=values["date_of_birth"],
                contacts=values["contacts"].strip(),
                narrative=values["narrative"].strip(),
            )
            person.place_id = station.pk  # her intake arrival's station: what the triggers would set (see ORDER)
            rows.add(person)
            arrivals.append((uids[offset], person_id, station.pk, MovementStatus.ARRIVED, now, now, actor.pk))
            records.append((keys[row.row], person.id, run.pk))
        rows.add_values(Movement, MOVEMENT_FIELDS, arrivals)
        rows.add_values(ImportedRecord, RECORD_FIELDS, records)
        bulk.index_names(rows, index_key)  # from the plaintext names: inserting the persons seals them
        bulk.insert(rows, ORDER, counts)
        if progress is not None:
            progress("write", start + len(batch), len(fresh))
