"""Writing many rows at once, as the synthetic-data generator (``synth``) and the spreadsheet import
(``intake.services``) both do: one home for the batch machinery, so that the two bulk writers cannot drift apart.

- :class:`Rows`: a batch's model instances, by model, and its plain rows (values only, no instance);
- :func:`index_names`: the blind-index rows of a batch's persons, from their names while these are still plaintext
  (inserting a person seals them), exactly what ``vault.blind`` stores for a person registered one by one;
- :func:`insert` / :func:`insert_rows`: ``bulk_create`` without its per-row SQL compilation, each value prepared by
  its field (so the vault's fields encrypt on insert, under the current keyring, as they do on ``save``);
- :func:`insert_values`: the same for rows given as values, without a model instance each (the many small rows of
  a bulk write: name digests, key wraps, import records, intake movements; making an instance costs more than
  inserting it);
- :func:`large_sqlite_cache`: a larger SQLite page cache for the length of a bulk write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone


@dataclass
class Rows:
    """The rows of a batch, by model."""

    by_model: dict[type[models.Model], list[models.Model]] = field(default_factory=dict)
    # {model: (field attnames, rows of their values)}: inserted by ``insert_values``, after the model's instances
    values: dict[type[models.Model], tuple[tuple[str, ...], list[tuple[Any, ...]]]] = field(default_factory=dict)

    def add(self, obj: models.Model, when: dt.datetime | None = None, column: str = "") -> None:
        """Add ``obj``; ``when`` sets its automatic time ``column`` (created at...) to when the thing happened."""
        if when is not None:
            setattr(obj, column, when)
        self.by_model.setdefault(type(obj), []).append(obj)

    def add_values(self, model: type[models.Model], names: tuple[str, ...], values: Iterable[tuple[Any, ...]]) -> None:
        """Add plain rows of ``model``: each the values of the fields ``names`` (attnames), in that order."""
        known, rows = self.values.setdefault(model, (names, []))
        if known != names:
            raise ValueError(f"{model.__name__} rows were added with the fields {known}, not {names}")
        rows.extend(values)


@contextlib.contextmanager
def large_sqlite_cache(mib: int = 256) -> Iterator[None]:
    """SQLite's default page cache (2 MB) makes inserts into the random-keyed indexes wait on the disk once the
    data outgrows it: twice the time at 20,000 persons. A larger cache for the run (``mib`` MiB at most: memory is
    taken only as pages are read), then the old size again."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "sqlite":
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (old,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-int(mib) * 1024}")  # negative: in KiB
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(old)}")


def index_names(rows: Rows, index_key: bytes) -> None:
    """Add the name digests of the batch's persons, and the digests of their name keys that duplicate detection
    compares (``vault.blind.rows``), from their names while these are still plaintext."""
    from waystation.cases.models import Person
    from waystation.vault import blind

    found: list[tuple[Any, ...]] = []
    for person in rows.by_model.get(Person, []):
        assert isinstance(person, Person)  # noqa: S101 - rows are kept by their model
        names = blind.name_values(
            name_hangul=person.name_hangul,
            name_romanized=person.name_romanized,
            name_chinese=person.name_chinese,
            aliases=person.aliases,
        )
        found.extend((person.id, kind, digest) for kind, digest in blind.digest_rows(index_key, names))
    rows.add_values(blind.NameIndex, ("person_id", "kind", "digest"), found)


def insert(rows: Rows, order: Sequence[tuple[type[models.Model], str]], counts: Counter[str]) -> None:
    """Insert the batch's rows model by model in ``order`` (the foreign keys are checked at commit, so a row may
    come before the row it points at), counting each under its name in ``counts``."""
    now = timezone.now()
    for model, name in order:
        objs = rows.by_model.get(model, [])
        if objs:
            insert_rows(model, objs, now)
            counts[name] += len(objs)
        names, values = rows.values.get(model, ((), []))
        if values:
            insert_values(model, names, values, now)
            counts[name] += len(values)


def insert_rows(model: type[models.Model], objs: list[models.Model], now: dt.datetime) -> None:
    """``bulk_create`` without its per-row SQL compilation (most of the insert time): each value is prepared by
    its field as ``bulk_create`` does (``pre_save``, then ``get_db_prep_save``: so a sensitive field seals its
    value), except that a time column filled automatically keeps a time the caller set. SQLite takes one
    ``executemany``; a server, multi-row inserts (one round trip for many rows)."""
    fields = _columns(model)
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the proxy's per-access lookup costs seconds here
    plan = [(f.attname, _preparer(f, db, now)) for f in fields]
    _execute(db, model, fields, [[prepare(obj, getattr(obj, attname)) for attname, prepare in plan] for obj in objs])


def insert_values(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]], now: dt.datetime
) -> None:
    """Insert rows given as the values of the fields ``names`` (attnames), in that order, with no model instance:
    what ``insert_rows`` would insert for instances made with those values. Every other column takes its field's
    default (a callable default called for each row, as each instance would), an automatic time ``now``. Plain
    fields only: a sensitive field seals its value from its instance (``insert_rows``); one left out keeps its
    empty default, which is stored as it is (nothing to seal)."""
    from waystation.vault.fields import is_sensitive

    fields = _columns(model)
    position = {name: i for i, name in enumerate(names)}
    unknown = set(names) - {f.attname for f in fields}
    if unknown or len(position) != len(names):
        raise ValueError(f"{model.__name__} has no such fields, or they repeat: {sorted(unknown) or list(names)}")
    db = connections[DEFAULT_DB_ALIAS]
    getters: list[Callable[[Sequence[Any]], Any]] = []
    for f in fields:
        if is_sensitive(f):
            empty = f.get_default()
            if f.attname in position or empty not in ("", None):
                raise ValueError(f"{model.__name__}.{f.name} is sensitive: insert instances (insert_rows) instead")
            constant = f.get_db_prep_save(empty, db)
            getters.append(lambda row, constant=constant: constant)  # type: ignore[misc]
            continue
        prepare = _preparer(f, db, now)
        if f.attname in position:
            getters.append(lambda row, i=position[f.attname], prepare=prepare: prepare(None, row[i]))  # type: ignore[misc]
        elif callable(f.default):
            getters.append(lambda row, f=f, prepare=prepare: prepare(None, f.get_default()))  # type: ignore[misc]
        else:
            constant = prepare(None, None if _auto_time(f) else f.get_default())
            getters.append(lambda row, constant=constant: constant)  # type: ignore[misc]
    _execute(db, model, fields, [[get(row) for get in getters] for row in rows])


def _columns(model: type[models.Model]) -> list[models.Field]:
    """The columns an insert fills: all but an automatic primary key and generated columns."""
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    return [f for f in fields if not getattr(f, "generated", False)]


def _execute(db: Any, model: type[models.Model], fields: list[models.Field], params: list[list[Any]]) -> None:
    if not params:
        return
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # names from the models, values all as parameters
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    row = f"({', '.join(['%s'] * len(fields))})"
    with db.cursor() as cursor:
        if db.vendor == "sqlite":
            cursor.executemany(head + row, params)
            return
        per_statement = max(1, min(1000, (db.features.max_query_params or 65535) // len(fields)))
        for i in range(0, len(params), per_statement):
            chunk = params[i : i + per_statement]
            cursor.execute(head + ", ".join([row] * len(chunk)), [value for values in chunk for value in values])


def _auto_time(f: models.Field) -> bool:
    return bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))


# Values whose preparation by a plain field depends on the value alone (no instance, no key): prepared once per
# distinct value and column in a batch (a batch repeats its dates, codes and ids many times).
_PLAIN_VALUES = (str, int, bool, type(None), dt.date, dt.datetime, uuid.UUID)
# ``pre_save`` that returns the attribute as it is (the date fields' own differs only when they fill in the time).
_PLAIN_PRE_SAVE = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)


def _preparer(f: models.Field, db: Any, now: dt.datetime) -> Callable[[models.Model | None, Any], Any]:
    """How one column's value is prepared: as ``bulk_create`` prepares it, with the repeats of a plain field's
    plain values (``_PLAIN_VALUES``, exact types) looked up instead of prepared again. The instance (None for a
    plain row of ``insert_values``) is needed by a sensitive field alone."""
    prep = f.get_db_prep_save
    auto_time = _auto_time(f)
    if not auto_time and type(f).pre_save not in _PLAIN_PRE_SAVE:  # a sensitive field seals on pre_save

        def seal(obj: models.Model | None, value: Any) -> Any:
            if obj is None:  # ``insert_values`` refuses sensitive fields before it prepares anything
                raise ValueError(f"{f.name} is sensitive: its value is sealed from its instance")
            return prep(f.pre_save(obj, True), db)

        return seal
    done: dict[tuple[type, Any], Any] = {}

    def prepare(obj: models.Model | None, value: Any) -> Any:
        if auto_time:
            value = value or now
        kind = type(value)
        if kind not in _PLAIN_VALUES:
            return prep(value, db)
        try:
            return done[kind, value]
        except KeyError:
            done[kind, value] = prepared = prep(value, db)
            return prepared

    return prepare
