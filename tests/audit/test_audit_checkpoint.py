"""Signed checkpoints: made with the installation's key, checked by signature and against the log's root; forged,
altered, foreign, malformed or outgrown (truncated log) checkpoints are refused with a message, never a traceback."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import run_audit, tamper
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from waystation.audit import chain
from waystation.audit.checkpoint import (
    CheckpointError,
    Verifier,
    installation_verifier,
    key_path,
    origin_for,
    parse,
    parse_vkey,
    sign,
)
from waystation.audit.models import AuditEvent
from waystation.audit.verify import current_leaves


@pytest.fixture
def checkpoint(write_events: Callable[..., list[AuditEvent]], tmp_path: Path) -> Path:
    write_events(10)
    path = tmp_path / "checkpoint.txt"
    result = run_audit("checkpoint", "--out", str(path))
    assert result.code == 0, result
    return path


def refused(path: Path, *extra: str) -> dict[str, object]:
    result = run_audit("verify", "--checkpoint", str(path), "--json", *extra)
    assert result.code == 1, result
    plain = run_audit("verify", "--checkpoint", str(path), *extra)
    assert plain.code == 1 and "Traceback" not in plain.err
    assert plain.err.startswith(("Audit log NOT intact: ", "Checkpoint refused: "))
    return result.json()["broken"]


def test_signing_key_is_private_and_stable(db: None) -> None:
    verifier = installation_verifier()
    path = key_path()
    assert path.parent == Path(settings.HOME)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert installation_verifier() == verifier
    printed = run_audit("key").out.strip()
    assert printed == verifier.vkey()
    assert parse_vkey(printed) == verifier
    assert run_audit("key", "--json").json()["vkey"] == printed


def test_checkpoint_is_a_signed_note(checkpoint: Path) -> None:
    text = checkpoint.read_text()
    lines = text.split("\n")
    verifier = installation_verifier()
    assert lines[0] == verifier.name
    assert lines[1] == "10"
    assert base64.b64decode(lines[2]) == chain.tree_head(current_leaves())
    assert lines[3] == ""
    assert lines[4].startswith(f"\u2014 {verifier.name} ")
    printed = run_audit("checkpoint").out
    assert printed == text  # the same log, the same checkpoint (Ed25519 is deterministic)


def test_checkpoint_verifies_and_still_verifies_after_appending(
    checkpoint: Path, write_events: Callable[..., list[AuditEvent]]
) -> None:
    result = run_audit("verify", "--checkpoint", str(checkpoint))
    assert result.code == 0, result
    assert "Checkpoint of 10 events: signature valid" in result.out
    assert "Checked with this installation's own key" in result.out  # not independent of this machine: said so
    write_events(7)
    data = run_audit("verify", "--checkpoint", str(checkpoint), "--json").json()
    assert data["ok"] and data["size"] == 17
    assert data["checkpoint"] == {
        "origin": installation_verifier().name,
        "size": 10,
        "root": checkpoint.read_text().split("\n")[2],
        "signature_ok": True,
        "consistent": True,
    }


def test_a_partner_verifies_with_the_public_key_they_were_given(checkpoint: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "partner.vkey"
    key_file.write_text(run_audit("key").out)
    independent = run_audit("verify", "--checkpoint", str(checkpoint), "--public-key", str(key_file))
    assert independent.code == 0 and "own key" not in independent.out
    assert run_audit("verify", "--checkpoint", str(checkpoint), "--public-key", key_file.read_text()).code == 0
    other = Ed25519PrivateKey.generate().public_key()
    wrong = Verifier(origin_for(other), other).vkey()
    assert refused(checkpoint, "--public-key", wrong)["problem"] == "signature"
    assert refused(checkpoint, "--public-key", "not-a-key")["problem"] == "checkpoint"


def test_flipped_signature_byte_is_refused(checkpoint: Path) -> None:
    body, _, sig_line = checkpoint.read_text().rpartition("\n\n")
    dash, name, encoded = sig_line.strip().split(" ")
    blob = bytearray(base64.b64decode(encoded))
    blob[20] ^= 0x01
    checkpoint.write_text(f"{body}\n\n{dash} {name} {base64.b64encode(bytes(blob)).decode()}\n")
    assert refused(checkpoint) == {
        "seq": None,
        "problem": "signature",
        "message": "The checkpoint's signature is forged or the checkpoint was altered.",
    }


def test_a_different_root_is_refused(checkpoint: Path) -> None:
    lines = checkpoint.read_text().split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    checkpoint.write_text("\n".join(lines))
    assert refused(checkpoint)["problem"] == "signature"


def test_a_genuinely_signed_but_different_root_is_refused(checkpoint: Path) -> None:
    """Signed with the right key, but over a log that is not this one (or was rewritten since)."""
    from waystation.audit.checkpoint import signing_key

    leaves = current_leaves()
    forged = leaves[:4] + [chain.leaf_hash(b"another event")] + leaves[5:]
    checkpoint.write_text(sign(len(forged), chain.tree_head(forged), signing_key()))
    assert refused(checkpoint)["problem"] == "root"


def test_a_checkpoint_of_another_log_is_refused(checkpoint: Path) -> None:
    checkpoint.write_text(sign(10, chain.tree_head(current_leaves()), Ed25519PrivateKey.generate()))
    assert "not signed by this log's key" in str(refused(checkpoint)["message"])


def test_a_log_truncated_below_the_checkpoint_is_refused(checkpoint: Path) -> None:
    tamper("DELETE FROM audit_auditevent WHERE seq > 7")
    assert refused(checkpoint) == {
        "seq": 8,
        "problem": "truncated",
        "message": "The log was truncated: it holds 7 events, but the checkpoint committed to 10; event #8 onwards "
        "is gone.",
    }


def test_a_rewritten_history_is_refused_even_if_rechained(checkpoint: Path) -> None:
    """Someone rewrites event 3 and recomputes every later leaf and chain hash: the log is self-consistent again,
    and only the checkpoint can tell."""
    from django.db import connection

    from waystation.audit.services import event_bytes

    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE seq = 3")
    previous = chain.GENESIS
    for event in AuditEvent.objects.order_by("seq"):
        leaf = chain.leaf_hash(event_bytes(event))
        previous = chain.chain_hash(previous, leaf)
        tamper(
            "UPDATE audit_auditevent SET leaf_hash = %s, chain_hash = %s WHERE id = %s",
            [leaf.hex(), previous.hex(), event.pk],
        )
    assert connection.vendor in {"sqlite", "postgresql"}
    assert run_audit("verify").code == 0  # self-consistent...
    assert refused(checkpoint)["problem"] == "root"  # ...but not what was signed


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "no signature block"),
        (b"garbage", "no signature block"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"a\nb\n\n\xe2\x80\x94 x y\n", "three lines"),
        (b"log\nten\nAAAA\n\n\xe2\x80\x94 x y\n", "tree size"),
        (b"log\n10\n!!!\n\n\xe2\x80\x94 x y\n", "not valid base64"),
        (b"log\n10\nAAAA\n\n\xe2\x80\x94 x y\n", "not 32 bytes"),
        (b"log\n10\n" + base64.b64encode(bytes(32)) + b"\n\nno signature here\n", "malformed"),
        (b"log\n10\n" + base64.b64encode(bytes(32)) + b"\n\n\xe2\x80\x94 log AAAA\n", "wrong length"),
        (b"x" * 70_000, "too large"),
    ],
    ids=["empty", "garbage", "not-utf8", "short", "size", "root-b64", "root-len", "sig-line", "sig-len", "huge"],
)
def test_a_malformed_checkpoint_is_refused_clearly(
    write_events: Callable[..., list[AuditEvent]], tmp_path: Path, content: bytes, message: str
) -> None:
    write_events(2)
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        parse(content)
    broken = refused(path)
    assert broken["problem"] == "checkpoint"
    assert message in str(broken["message"])


def test_a_missing_checkpoint_file_is_refused_clearly(db: None, tmp_path: Path) -> None:
    broken = refused(tmp_path / "nowhere.txt")
    assert "Cannot read the checkpoint" in str(broken["message"])
