"""Fuzzing the readers of untrusted files: the import parser and the backup reader.

Whatever the bytes, the spreadsheet reader either reads a table or refuses with ``SpreadsheetError`` (its message
shown to the user); the backup reader refuses with ``BackupError`` and writes nothing. Any other exception is a
crash a user would see as a server error or a traceback.

Brief by default (CI); longer on demand: ``WAYSTATION_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/ops/test_fuzz.py``
(tests/ops/README.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waystation.audit.services import audit_record
from waystation.interop.backup import (
    HEADER_SIZE,
    MAGIC,
    BackupError,
    KdfParams,
    installation_counts,
    restore_backup,
    seal,
    snapshot_payload,
)
from waystation.interop.spreadsheet import SpreadsheetError, Table, read_table
from waystation.testing.spreadsheets import csv_bytes, xlsx_bytes

EXAMPLES = int(os.environ.get("WAYSTATION_FUZZ_EXAMPLES") or 30)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FAST = KdfParams(time_cost=1, memory_kib=8, parallelism=1)  # tests only: the command line cannot lower the KDF
PASSPHRASE = "fictional-fuzz-passphrase-9"

ROWS = [
    ["번호", "성명", "성별", "출생년도", "거점"],
    ["A-001", "가상일 (Gasang Il)", "여", "1985", "ALDER"],
    ["A-002", "假想二", "F", "1990", "BIRCH"],
]
VALID_XLSX = xlsx_bytes(ROWS)
VALID_CSV = csv_bytes(ROWS)


def mutated(data: bytes, draw: st.DrawFn) -> bytes:
    """``data`` with some bytes flipped, a slice cut out, or random bytes spliced in."""
    kind = draw(st.sampled_from(["flip", "cut", "splice", "truncate"]))
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if kind == "cut":
        return data[:at] + data[at + draw(st.integers(1, 64)) :]
    if kind == "splice":
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    return data[:at]


@st.composite
def spreadsheet_bytes(draw: st.DrawFn) -> bytes:
    source = draw(st.sampled_from(["random", "text", "xlsx", "csv", "zip"]))
    if source == "random":
        return draw(st.binary(max_size=2048))
    if source == "text":
        text = draw(st.text(max_size=400))
        return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "utf-8-sig"])))
    if source == "zip":
        return b"PK\x03\x04" + draw(st.binary(max_size=1024))
    return mutated(VALID_XLSX if source == "xlsx" else VALID_CSV, draw)


def read_or_refuse(data: bytes, header_row: int | None = None) -> Table | None:
    try:
        return read_table(data, header_row=header_row)
    except SpreadsheetError as refusal:
        assert refusal.message.strip(), "a refusal says why"
        return None


@FUZZ
@given(data=spreadsheet_bytes(), header_row=st.none() | st.integers(-2, 8))
def test_the_import_parser_reads_or_refuses_any_bytes(data: bytes, header_row: int | None) -> None:
    table = read_or_refuse(data, header_row)
    if table is not None:
        assert all(isinstance(cell, str) for cell in table.header)


def test_the_fuzzed_files_start_from_readable_ones() -> None:
    """The mutations above start from files the reader accepts, so what they reach is past the first check."""
    for data in (VALID_XLSX, VALID_CSV):
        table = read_table(data)
        assert table.header[:2] == ("번호", "성명")


# --- the backup reader -----------------------------------------------------------------------------------------------


@pytest.fixture
def valid_payload(db: None) -> dict[str, Any]:
    """The payload a backup of a small installation carries, taken in a transaction that is then undone, so that
    the installation is empty again (a restore is tried only into an empty one)."""
    with transaction.atomic():
        for i in range(3):
            audit_record(actor=None, action="test.event", details={"i": i})
        raw, _counts = snapshot_payload()
        transaction.set_rollback(True)
    assert not any(installation_counts().values())
    payload: dict[str, Any] = json.loads(raw)
    return payload


def refused_and_nothing_written(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with pytest.raises(BackupError) as refusal:
        restore_backup(path, PASSPHRASE, kdf_floor=FAST)
    assert str(refusal.value).strip()
    assert not any(installation_counts().values()), "a refused restore wrote rows"


@FUZZ
@given(data=st.binary(max_size=512) | st.binary(max_size=256).map(lambda b: MAGIC + b))
def test_random_bytes_are_refused_as_a_backup(data: bytes, tmp_path: Path, valid_payload: dict[str, Any]) -> None:
    refused_and_nothing_written(tmp_path / "random.backup", data)


@FUZZ
@given(draw=st.data())
def test_a_damaged_backup_is_refused(draw: st.DataObject, tmp_path: Path, valid_payload: dict[str, Any]) -> None:
    sealed = seal(json.dumps(valid_payload).encode(), PASSPHRASE, kdf=FAST)
    refused_and_nothing_written(tmp_path / "damaged.backup", mutated(sealed, draw.draw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def tampered_payloads(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """The valid payload with one part replaced by arbitrary JSON: what a person who knows the passphrase could
    seal. The reader must refuse it cleanly too."""
    payload = json.loads(json.dumps(valid))
    tables = [t for t in payload["tables"] if t["rows"]]
    where = draw(st.sampled_from(["schema", "references", "tables", "table", "rows", "row", "field", "pk", "model"]))
    value = draw(json_values)
    if where in ("schema", "references", "tables"):
        payload[where] = value
        return payload
    table = draw(st.sampled_from(tables))
    row = draw(st.sampled_from(table["rows"]))
    if where == "table":
        payload["tables"][payload["tables"].index(table)] = value
    elif where == "rows":
        table["rows"] = value
    elif where == "row":
        table["rows"][table["rows"].index(row)] = value
    elif where == "field":
        row["fields"][draw(st.sampled_from(sorted(row["fields"])))] = value
    elif where == "pk":
        row["pk"] = value
    else:
        table["model"] = value
    return payload


def restore_tampered(payload: dict[str, Any], folder: Path) -> BaseException | None:
    """Restore ``payload`` sealed with the right passphrase; what it raised. Undone afterwards either way, so that
    the next example restores into an empty installation again."""
    path = folder / "tampered.backup"
    path.write_bytes(seal(json.dumps(payload).encode(), PASSPHRASE, kdf=FAST))
    raised: BaseException | None = None
    with transaction.atomic():
        try:
            restore_backup(path, PASSPHRASE, kdf_floor=FAST)
        except Exception as exc:  # noqa: BLE001 - which exception it is, is what the tests look at
            raised = exc
            assert not any(installation_counts().values()), f"a refused restore wrote rows ({exc!r})"
        # No exception: the part was replaced by a value valid in its place (an audit detail, a time written as
        # text) and the restore went through, as it should.
        transaction.set_rollback(True)
    return raised


@FUZZ
@given(draw=st.data())
def test_a_tampered_payload_writes_nothing_when_refused(
    draw: st.DataObject, tmp_path: Path, valid_payload: dict[str, Any]
) -> None:
    restore_tampered(draw.draw(tampered_payloads(valid_payload)), tmp_path)


@settings(FUZZ)
@given(draw=st.data())
def test_a_tampered_payload_is_refused_cleanly(
    draw: st.DataObject, tmp_path: Path, valid_payload: dict[str, Any]
) -> None:
    raised = restore_tampered(draw.draw(tampered_payloads(valid_payload)), tmp_path)
    assert raised is None or isinstance(raised, BackupError), repr(raised)


def test_the_untampered_payload_restores(valid_payload: dict[str, Any], tmp_path: Path) -> None:
    """The fuzzed payloads start from one that restores: what they change is what is refused."""
    path = tmp_path / "valid.backup"
    path.write_bytes(seal(json.dumps(valid_payload).encode(), PASSPHRASE, kdf=FAST))
    summary = restore_backup(path, PASSPHRASE, kdf_floor=FAST)
    assert summary.counts["audit.auditevent"] == 3
    assert summary.bytes > HEADER_SIZE
