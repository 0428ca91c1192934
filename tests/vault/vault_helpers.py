"""Shared by the vault tests: reading and writing stored cells behind the ORM's back, as someone holding the
database file would, and flipping their bits."""

from __future__ import annotations

import base64
from typing import Any

from django.db import connection, models

from waystation.vault import crypto


def _column(model: type[models.Model], field: str) -> str:
    return model._meta.get_field(field).column  # type: ignore[union-attr, return-value]


def _where(obj: models.Model, field: str) -> tuple[str, str, str, Any]:
    pk = obj._meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    # the primary key as the database stores it (SQLite keeps a UUID as 32 hex digits)
    return quote(obj._meta.db_table), quote(_column(type(obj), field)), quote(pk.column), pk.get_db_prep_value(
        obj.pk, connection
    )


def raw_get(obj: models.Model, field: str) -> Any:
    """The cell as the database holds it (text token or bytes), read with SQL."""
    table, column, pk_column, pk = _where(obj, field)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk_column} = %s", [pk])  # noqa: S608
        (value,) = cursor.fetchone()
    return bytes(value) if isinstance(value, memoryview) else value


def raw_set(obj: models.Model, field: str, value: Any) -> None:
    """Overwrite the cell with SQL (as a tamperer with the file would), bypassing every check of the ORM."""
    table, column, pk_column, pk = _where(obj, field)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s", [value, pk])  # noqa: S608


def blob_of(cell: Any) -> bytes:
    """The ciphertext bytes of a stored cell (a text column keeps them as "w1:" + base64)."""
    if isinstance(cell, str):
        assert cell.startswith(crypto.TEXT_PREFIX), cell[:8]
        return base64.b64decode(cell[len(crypto.TEXT_PREFIX) :])
    return bytes(cell)


def as_cell(blob: bytes, like: Any) -> Any:
    """``blob`` in the form of the column ``like`` came from."""
    return crypto.TEXT_PREFIX + base64.b64encode(blob).decode() if isinstance(like, str) else blob


def flip_bit(blob: bytes, bit: int) -> bytes:
    data = bytearray(blob)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)
