"""Encrypted, authenticated backups of a whole installation, and their restore into an empty one.

A backup is ONE file::

    header  = "WAYSTATION-BACKUP" | format version (u8) | compression (u8) | Argon2id t, m (KiB), p (3 x u32, big
              endian) | salt (16 random bytes) | nonce (12 random bytes) | body length (u64)          (67 bytes)
    body    = AES-256-GCM(key, nonce, compressed payload, associated data = the whole header)

    key     = Argon2id(passphrase, salt, t, m, p) -> 32 bytes (argon2.low_level.hash_secret_raw, Type.ID)

The header holds no content; every byte of it is authenticated (it is the associated data), so a changed parameter,
salt, nonce or version fails like a changed body byte. The payload is JSON (Django's "python" serializer output
with datetimes kept to the microsecond, which the audit chain needs): the schema (applied migrations), the
installation's content types and permissions by natural key (ids may differ in the target), and every row of every
backed-up table, primary keys included. Sessions, lockout records, content types and permissions are not backed up
(a fresh installation makes the last two itself).

Sensitive values travel as they are stored: the vault's field types serialise a ciphertext as its "w1:..." token
(text) or base64 (binary) and read it back unchanged, so the backup never holds plaintext and never needs a key.
The key tables (users' wrapped key pairs, the case key wraps, the recovery key's public half) are backed up like any
other: without them a restore would open nothing.

Restore reads and authenticates the whole file, decompresses and parses the payload, and checks its schema against
the installation before it writes anything; then it loads every row in ONE transaction, resets the PostgreSQL
sequences and writes a ``backup.restore`` audit event after the restored ones (the chain continues, and verifies).
In the same transaction it applies the **shred ledger** (``vault.shred.apply_ledger``): the ledger file of this
``$WAYSTATION_HOME``, the backup's own shred records, and any ledger file given (``--shred-ledger``, a copy of the
old installation's, for a restore into a new one). A case shredded after the backup was taken therefore comes back
without keys and with its sensitive columns blank: the backup does not undo a shred.

Production Argon2 parameters are fixed here (``PRODUCTION_KDF``); the tests pass weaker ones through the explicit
``kdf=`` / ``kdf_floor=`` arguments of the functions below, never through the command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import lzma
import os
import secrets
import struct
import tempfile
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder

MAGIC = b"WAYSTATION-BACKUP"
FORMAT_VERSION = 1
PAYLOAD_FORMAT = 1
COMPRESS_ZLIB = 1
COMPRESS_LZMA = 2
_HEADER = struct.Struct(">17sBBIII16s12sQ")
HEADER_SIZE = _HEADER.size
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_PASSPHRASE = 12
MAX_PAYLOAD = 2**31 - 1 - TAG_BYTES  # one AES-GCM call of the cryptography package

# Models whose rows are not backed up. Content types and permissions are made by ``migrate`` in every installation
# (references to them are carried by natural key); sessions and lockout records are transient by design. The vault's
# tables are NOT excluded: the key wraps are the only way to the data (a restore without them opens nothing), and a
# shred holds for old backups because every restore applies the shred ledger, not because the wraps are left out.
EXCLUDED_APPS = frozenset({"contenttypes", "sessions", "axes", "admin"})
EXCLUDED_MODELS = frozenset({"auth.permission", "figures.personfigures"})  # derived: a restore makes it again


class BackupError(Exception):
    """A backup that cannot be written or restored; the message, one line, says why for a person to read."""


@dataclass(frozen=True)
class KdfParams:
    time_cost: int
    memory_kib: int
    parallelism: int

    def at_least(self, floor: KdfParams) -> bool:
        return (
            self.time_cost >= floor.time_cost
            and self.memory_kib >= floor.memory_kib
            and self.parallelism >= floor.parallelism
        )


PRODUCTION_KDF = KdfParams(time_cost=3, memory_kib=64 * 1024, parallelism=4)
# A header may not ask for more than this (a crafted file must not make restore allocate gigabytes).
MAX_KDF = KdfParams(time_cost=64, memory_kib=2 * 1024 * 1024, parallelism=64)


@dataclass(frozen=True)
class Header:
    version: int
    compression: int
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    body_length: int

    def pack(self) -> bytes:
        return _HEADER.pack(
            MAGIC,
            self.version,
            self.compression,
            self.kdf.time_cost,
            self.kdf.memory_kib,
            self.kdf.parallelism,
            self.salt,
            self.nonce,
            self.body_length,
        )


# --- the container: bytes in, bytes out ------------------------------------------------------------------------------


def derive_key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    return hash_secret_raw(
        secret=passphrase.encode("utf-8"),
        salt=salt,
        time_cost=kdf.time_cost,
        memory_cost=kdf.memory_kib,
        parallelism=kdf.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"The passphrase is too short: at least {MIN_PASSPHRASE} characters are required.")


def seal(
    payload: bytes, passphrase: str, *, kdf: KdfParams = PRODUCTION_KDF, compression: int = COMPRESS_ZLIB
) -> bytes:
    """Compress and encrypt ``payload`` into a complete backup file's bytes."""
    check_passphrase(passphrase)
    if compression == COMPRESS_ZLIB:
        compressed = zlib.compress(payload, 6)
    elif compression == COMPRESS_LZMA:
        compressed = lzma.compress(payload)
    else:
        raise ValueError(f"unknown compression {compression}")
    if len(compressed) > MAX_PAYLOAD:
        raise BackupError("The installation is too large for a single backup file of this format (2 GiB).")
    header = Header(
        FORMAT_VERSION,
        compression,
        kdf,
        secrets.token_bytes(SALT_BYTES),
        secrets.token_bytes(NONCE_BYTES),
        len(compressed) + TAG_BYTES,
    )
    aad = header.pack()
    key = derive_key(passphrase, header.salt, kdf)
    return aad + AESGCM(key).encrypt(header.nonce, compressed, aad)


def read_header(data: bytes, *, kdf_floor: KdfParams = PRODUCTION_KDF) -> Header:
    if not data:
        raise BackupError("The file is empty: it is not a Waystation backup.")
    if not (data.startswith(MAGIC) or MAGIC.startswith(data)):
        raise BackupError("This is not a Waystation backup file (it does not begin with WAYSTATION-BACKUP).")
    if len(data) < HEADER_SIZE + TAG_BYTES:
        raise BackupError("The backup file is truncated: it is too short to hold even its header.")
    _magic, version, compression, t, m, p, salt, nonce, body_length = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise BackupError(
            f"This backup has format version {version}; this Waystation reads version {FORMAT_VERSION} only."
        )
    if compression not in (COMPRESS_ZLIB, COMPRESS_LZMA):
        raise BackupError("The backup's header is damaged (unknown compression): it cannot be read.")
    kdf = KdfParams(t, m, p)
    if not kdf.at_least(floor=kdf_floor) or not MAX_KDF.at_least(kdf) or m < 8 * p:
        raise BackupError("The backup's header is damaged (key derivation parameters out of range): it cannot be read.")
    body = len(data) - HEADER_SIZE
    if body < body_length:
        raise BackupError(
            f"The backup file is truncated: it holds {body:,} of the {body_length:,} bytes its header announces."
        )
    if body > body_length:
        raise BackupError(
            f"The backup file is damaged: it holds {body - body_length:,} bytes more than its header announces."
        )
    return Header(version, compression, kdf, salt, nonce, body_length)


def unseal(data: bytes, passphrase: str, *, kdf_floor: KdfParams = PRODUCTION_KDF) -> bytes:
    """Authenticate and decrypt a backup file's bytes; the decompressed payload, or ``BackupError``."""
    header = read_header(data, kdf_floor=kdf_floor)
    aad = data[:HEADER_SIZE]
    key = derive_key(passphrase, header.salt, header.kdf)
    try:
        compressed = AESGCM(key).decrypt(header.nonce, data[HEADER_SIZE:], aad)
    except InvalidTag:
        raise BackupError(
            "The backup cannot be opened: the passphrase is wrong, or the file was altered or damaged."
        ) from None
    try:
        if header.compression == COMPRESS_ZLIB:
            return zlib.decompress(compressed)
        return lzma.decompress(compressed)
    except (zlib.error, lzma.LZMAError) as exc:  # authenticated, so only a bug in the writer gets here
        raise BackupError(f"The backup was authenticated but its content does not decompress: {exc}") from exc


# --- what is backed up -----------------------------------------------------------------------------------------------


def backed_up_models() -> list[type[models.Model]]:
    """Every model whose rows the backup carries (auto-created many-to-many tables included), in dependency order."""
    chosen: list[type[models.Model]] = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.app_label in EXCLUDED_APPS or meta.label_lower in EXCLUDED_MODELS:
            continue
        if meta.proxy or not meta.managed:
            continue
        chosen.append(model)
    return _dependency_order(chosen)


def _target(field: Any) -> type[models.Model] | None:
    """The model a foreign key points at (None for other fields)."""
    related = field.related_model if field.is_relation else None
    return related if isinstance(related, type) and issubclass(related, models.Model) else None


def _dependency_order(chosen: list[type[models.Model]]) -> list[type[models.Model]]:
    """Referenced tables before those that point at them (self-references and cycles are left in place; the
    foreign keys of both databases are checked at commit)."""
    remaining = sorted(chosen, key=lambda m: m._meta.label_lower)
    names = {m._meta.label_lower for m in remaining}
    ordered: list[type[models.Model]] = []
    done: set[str] = set()
    while remaining:
        progress = False
        for model in list(remaining):
            targets = (_target(f) for f in model._meta.concrete_fields)
            deps = {t._meta.label_lower for t in targets if t is not None and t is not model}
            if (deps & names) <= done:
                ordered.append(model)
                done.add(model._meta.label_lower)
                remaining.remove(model)
                progress = True
        if not progress:  # a cycle: take the rest as they are
            ordered.extend(remaining)
            break
    return ordered


def _schema() -> dict[str, list[str]]:
    apps_backed_up = {m._meta.app_label for m in backed_up_models()}
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    found: dict[str, list[str]] = {}
    for app, name in sorted(recorder.applied_migrations()):
        if app in apps_backed_up:
            found.setdefault(app, []).append(name)
    return found


def _references() -> dict[str, dict[str, list[str]]]:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    return {
        "contenttypes.contenttype": {
            str(pk): [app, model] for pk, app, model in ContentType.objects.values_list("pk", "app_label", "model")
        },
        "auth.permission": {
            str(pk): [codename, app, model]
            for pk, codename, app, model in Permission.objects.values_list(
                "pk", "codename", "content_type__app_label", "content_type__model"
            )
        },
    }


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()  # full precision (DjangoJSONEncoder cuts microseconds, the audit chain needs them)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        raise TypeError("binary values are serialized as base64 text by their field")
    raise TypeError(f"cannot serialize {type(value).__name__}")


# --- backup ----------------------------------------------------------------------------------------------------------


@dataclass
class Summary:
    path: str
    bytes: int
    counts: dict[str, int]
    seconds: float = 0.0
    shredded: int | None = None  # a restore: cases of the backup that the shred ledger shredded again

    def as_dict(self) -> dict[str, Any]:
        found = {"path": self.path, "bytes": self.bytes, "counts": self.counts, "seconds": round(self.seconds, 3)}
        return found if self.shredded is None else found | {"shredded": self.shredded}


def snapshot_payload() -> tuple[bytes, dict[str, int]]:
    """Every backed-up row, read in one consistent snapshot, as the payload's bytes; and the rows per table."""
    db = connections[DEFAULT_DB_ALIAS]
    counts: dict[str, int] = {}
    tables: list[dict[str, Any]] = []
    outermost = not db.in_atomic_block
    with transaction.atomic():
        if db.vendor == "postgresql" and outermost:  # one snapshot for every table (inside a caller's transaction,
            # the caller's isolation level applies)
            with db.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for model in backed_up_models():
            m2m = {f.name for f in model._meta.local_many_to_many}
            fields = [f.name for f in model._meta.local_fields if not f.primary_key and f.name not in m2m]
            rows = serializers.serialize(
                "python", model._base_manager.order_by("pk").iterator(chunk_size=2000), fields=fields
            )
            for row in rows:  # the many-to-many tables are carried as their own (auto-created) models
                row["fields"] = {k: v for k, v in row["fields"].items() if k not in m2m}
            counts[model._meta.label_lower] = len(rows)
            tables.append({"model": model._meta.label_lower, "rows": rows})
        payload = {
            "format": PAYLOAD_FORMAT,
            "schema": _schema(),
            "references": _references(),
            "counts": counts,
            "tables": tables,
        }
    text = json.dumps(payload, default=_encode, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8"), counts


def create_backup(
    out: str | os.PathLike[str],
    passphrase: str,
    *,
    kdf: KdfParams = PRODUCTION_KDF,
    compression: int = COMPRESS_ZLIB,
) -> Summary:
    """Write the whole installation, encrypted, to ``out``: a ``backup.create`` audit event first, then a temporary
    file in the same folder (mode 0600) that replaces ``out`` only once complete and on disk."""
    from waystation.audit.services import audit_record

    check_passphrase(passphrase)
    target = Path(out)
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the path of the backup file to write.")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BackupError(f"The folder {folder} does not exist.")
    with transaction.atomic():
        audit_record(actor=None, action="backup.create", details={"format": FORMAT_VERSION})
    payload, counts = snapshot_payload()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")  # created 0600
    except OSError as exc:
        raise BackupError(f"Cannot write in {folder}: {exc.strerror}.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            sealed = seal(payload, passphrase, kdf=kdf, compression=compression)
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise BackupError(f"Cannot write the backup to {target}: {exc.strerror}. Nothing was replaced.") from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_folder(folder)
    return Summary(path=str(target), bytes=len(sealed), counts=counts)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- restore ---------------------------------------------------------------------------------------------------------


def installation_counts() -> dict[str, int]:
    """Rows in each table a restore would fill."""
    return {m._meta.label_lower: m._base_manager.count() for m in backed_up_models()}


def check_empty() -> None:
    filled = {label: n for label, n in installation_counts().items() if n}
    if filled:
        listed = ", ".join(f"{label} ({n})" for label, n in sorted(filled.items())[:5])
        raise BackupError(
            f"Restore refused: this installation is not empty ({listed}{', ...' if len(filled) > 5 else ''}). "
            "Restore into a new, empty installation (a new WAYSTATION_HOME or database, after `waystation migrate`)."
        )


def read_backup_file(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise BackupError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a folder, not a backup file.") from None
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from exc


def parse_payload(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupError("The backup was authenticated but its content is not readable JSON.") from exc
    if not isinstance(payload, dict) or payload.get("format") != PAYLOAD_FORMAT:
        raise BackupError(UNKNOWN_LAYOUT)
    if not isinstance(payload.get("tables"), list) or not isinstance(payload.get("schema"), dict):
        raise BackupError(UNKNOWN_LAYOUT)
    return payload


# What reading a payload of the wrong shape raises (a table that is not an object, a value of the wrong type...): an
# authenticated backup can still be crafted by whoever holds the passphrase, and it is refused like any other.
MALFORMED = (TypeError, KeyError, AttributeError, ValueError, IndexError)
UNKNOWN_LAYOUT = "The backup's content has an unknown layout; this Waystation cannot restore it."


def check_schema(payload: dict[str, Any]) -> None:
    here = _schema()
    try:
        there = {app: sorted(str(name) for name in names) for app, names in payload["schema"].items()}
    except MALFORMED as exc:
        raise BackupError(UNKNOWN_LAYOUT) from exc
    if here != there:
        apps_differing = sorted(a for a in set(here) | set(there) if here.get(a) != there.get(a))
        raise BackupError(
            "This backup was made by a Waystation with a different database schema (apps "
            f"{', '.join(apps_differing)}): restore it with the version that made it, or run `waystation migrate` "
            "first if this installation is behind."
        )


def _reference_maps(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For content types and permissions: the backup's id -> this installation's id."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    refs = payload.get("references") or {}
    ct_here = {(a, m): pk for pk, a, m in ContentType.objects.values_list("pk", "app_label", "model")}
    perm_here = {
        (c, a, m): pk
        for pk, c, a, m in Permission.objects.values_list(
            "pk", "codename", "content_type__app_label", "content_type__model"
        )
    }
    ct_map = {old: ct_here.get(tuple(key)) for old, key in (refs.get("contenttypes.contenttype") or {}).items()}
    perm_map = {old: perm_here.get(tuple(key)) for old, key in (refs.get("auth.permission") or {}).items()}
    return {"contenttypes.contenttype": ct_map, "auth.permission": perm_map}


def _remap(rows: list[dict[str, Any]], model: type[models.Model], maps: dict[str, dict[str, Any]]) -> None:
    for field in model._meta.concrete_fields:
        target = _target(field)
        mapping = maps.get(target._meta.label_lower) if target is not None else None
        if target is None or mapping is None:
            continue
        for row in rows:
            old = row["fields"].get(field.name)
            if old is None:
                continue
            new = mapping.get(str(old))
            if new is None:
                raise BackupError(
                    f"The backup refers to a {target._meta.verbose_name} this installation does not "
                    "have: restore it with the version of Waystation that made it."
                )
            row["fields"][field.name] = new


def _deserialize(payload: dict[str, Any]) -> list[tuple[type[models.Model], list[models.Model]]]:
    maps = _reference_maps(payload)
    wanted = {m._meta.label_lower: m for m in backed_up_models()}
    loaded: dict[str, list[models.Model]] = {}
    for table in payload["tables"]:
        label = table.get("model") if isinstance(table, dict) else None
        if label not in wanted:
            raise BackupError(f"The backup holds a table this Waystation does not back up ({label!r}).")
        model = wanted[label]
        rows = table.get("rows")
        if not isinstance(rows, list):
            raise BackupError(UNKNOWN_LAYOUT)
        _remap(rows, model, maps)
        try:
            objs = [d.object for d in serializers.deserialize("python", rows)]
        except DeserializationError as exc:
            raise BackupError(f"A row of {label} in the backup cannot be read: {exc}") from exc
        loaded[label] = objs
    return [(model, loaded.get(label, [])) for label, model in wanted.items()]


def _insert_rows(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert rows exactly as they were (primary keys and automatic times kept): values prepared by each field as a
    raw save prepares them, then one ``executemany`` (psycopg 3 pipelines it on PostgreSQL)."""
    if not objs:
        return
    db = connections[DEFAULT_DB_ALIAS]
    fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # names from the models, values all as parameters
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    with db.cursor() as cursor:
        for i in range(0, len(objs), 5000):
            params = [[f.get_db_prep_save(getattr(obj, f.attname), db) for f in fields] for obj in objs[i : i + 5000]]
            cursor.executemany(sql, params)


def read_shred_ledgers(paths: Iterable[str | os.PathLike[str]]) -> dict[uuid.UUID, dt.datetime]:
    """The entries of the ledger files given, checked (and this installation's own ledger file checked too): a
    damaged or missing ledger is named before anything is restored."""
    from waystation.vault import shred
    from waystation.vault.crypto import VaultError

    found: dict[uuid.UUID, dt.datetime] = {}
    try:
        for path in paths:
            if not Path(path).is_file():
                raise BackupError(f"There is no shred ledger {path}; nothing was restored.")
            found.update(shred.read_ledger(Path(path)))
        shred.read_ledger()
    except VaultError as exc:
        raise BackupError(f"{exc} Nothing was restored.") from exc
    return found


def restore_backup(
    path: str | os.PathLike[str],
    passphrase: str,
    *,
    kdf_floor: KdfParams = PRODUCTION_KDF,
    shred_ledgers: Iterable[str | os.PathLike[str]] = (),
) -> Summary:
    """Restore a backup into this (empty) installation, then apply the shred ledger (this home's file, the backup's
    shred records, and ``shred_ledgers``); all or nothing."""
    from waystation.audit.services import audit_record
    from waystation.vault.crypto import VaultError
    from waystation.vault.shred import apply_kills, apply_ledger

    check_migrated()
    data = read_backup_file(path)
    read_header(data, kdf_floor=kdf_floor)  # a damaged header is named before the slow key derivation
    check_empty()
    extra_shreds = read_shred_ledgers(shred_ledgers)
    payload = parse_payload(unseal(data, passphrase, kdf_floor=kdf_floor))
    check_schema(payload)
    try:
        tables = _deserialize(payload)
    except MALFORMED as exc:
        raise BackupError(UNKNOWN_LAYOUT) from exc
    db = connections[DEFAULT_DB_ALIAS]
    counts: Counter[str] = Counter()
    try:
        with transaction.atomic():
            check_empty()  # again, inside the write transaction: nobody filled it in between
            for model, objs in tables:
                _insert_rows(model, objs)
                counts[model._meta.label_lower] = len(objs)
            _reset_sequences(model for model, _objs in tables)
            db.check_constraints(table_names=[model._meta.db_table for model, _objs in tables])
            audit_record(actor=None, action="backup.restore", details={"format": FORMAT_VERSION})
            shredded = apply_ledger(actor=None, extra=extra_shreds.items())
            apply_kills(actor=None)  # a backup older than the last kill switch does not bring the users' keys back
    except (DatabaseError, VaultError) as exc:
        raise BackupError(f"The restore failed and was undone, nothing was written: {exc}") from exc
    except MALFORMED as exc:  # a value the database cannot take as it is: written nowhere, the transaction undone
        raise BackupError(f"{UNKNOWN_LAYOUT} The restore was undone, nothing was written.") from exc
    return Summary(path=str(path), bytes=len(data), counts=dict(counts), shredded=shredded)


def _reset_sequences(models_: Iterable[type[models.Model]]) -> None:
    db = connections[DEFAULT_DB_ALIAS]
    statements = db.ops.sequence_reset_sql(no_style(), list(models_))
    if statements:
        with db.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def check_migrated() -> None:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise BackupError("This installation's database is not set up: run `waystation migrate` first.")


# --- the passphrase --------------------------------------------------------------------------------------------------


def passphrase_from(file: str | None, *, confirm: bool, interactive: bool | None = None) -> str:
    """From ``file`` (its first line), else asked on the terminal (twice when ``confirm``). Never from the
    environment: a process's environment is readable through /proc and passed to every child process."""
    import getpass
    import sys

    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BackupError(f"Cannot read the passphrase file {file}: {exc}") from exc
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
        if not passphrase:
            raise BackupError(f"The passphrase file {file} is empty.")
        return passphrase
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise BackupError("No passphrase: give --passphrase-file FILE (or run on a terminal to type it).")
    first = getpass.getpass("Backup passphrase: ")
    if confirm:
        check_passphrase(first)
        if getpass.getpass("The same passphrase again: ") != first:
            raise BackupError("The two passphrases differ; nothing was written.")
    return first
