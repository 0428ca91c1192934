"""Verification of the audit log: every leaf and chain hash recomputed in order, sequence continuity, the append-only
triggers, and optionally a signed checkpoint (its signature, and that the log of its size still has its root)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from waystation.audit import chain, guard
from waystation.audit.checkpoint import Checkpoint, CheckpointError, Verifier, check_signature, sign, signing_key
from waystation.audit.models import AuditEvent

FIELDS = (
    "id",
    "seq",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "case_id",
    "purpose",
    "details",
    "leaf_hash",
    "chain_hash",
)


@dataclass
class Broken:
    seq: int | None  # the first broken link's sequence number (None: not about one event)
    problem: str  # changed, chain, missing, reordered, truncated, signature, checkpoint, root, guard
    message: str


@dataclass
class Report:
    size: int = 0  # events read
    verified_up_to: int = 0  # the last sequence number whose whole chain up to it holds
    root: bytes = b""
    broken: Broken | None = None
    checkpoint: dict[str, Any] | None = None
    leaves: list[bytes] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "verified_up_to": self.verified_up_to,
            "root": base64.b64encode(self.root).decode() if self.root else None,
            "broken": None
            if self.broken is None
            else {"seq": self.broken.seq, "problem": self.broken.problem, "message": self.broken.message},
            "checkpoint": self.checkpoint,
        }


def current_leaves() -> list[bytes]:
    """The stored leaf hashes in order (for a checkpoint; ``verify_log`` recomputes them instead)."""
    return [bytes.fromhex(h) for h in AuditEvent.objects.order_by("seq").values_list("leaf_hash", flat=True)]


def checkpoint_text() -> str:
    """A checkpoint of the log as it is now, signed with the installation's key (created on first use).

    Only a log that verifies is signed: a checkpoint must never vouch for rows that were changed since."""
    report = verify_log()
    if not report.ok:
        assert report.broken is not None  # noqa: S101 - ok means no broken link
        raise CheckpointError(f"The audit log does not verify, so no checkpoint is signed: {report.broken.message}")
    return sign(report.size, report.root, signing_key())


def verify_log(*, checkpoint: Checkpoint | None = None, verifier: Verifier | None = None) -> Report:
    report = Report()
    _verify_chain(report)
    if report.ok and not guard.installed(connection):
        report.broken = Broken(
            None, "guard", "The database no longer refuses UPDATE and DELETE on the audit table (triggers missing)."
        )
    if checkpoint is not None and report.broken is None:
        _verify_checkpoint(report, checkpoint, verifier)
    elif checkpoint is not None and report.broken is not None and verifier is not None:
        # Still say whether the checkpoint itself is genuine.
        try:
            check_signature(checkpoint, verifier)
        except CheckpointError as exc:
            report.checkpoint = {"size": checkpoint.size, "signature_ok": False, "message": str(exc)}
    return report


def _verify_chain(report: Report) -> None:
    rows = AuditEvent.objects.order_by("id").values_list(*FIELDS)
    all_seqs = set(AuditEvent.objects.values_list("seq", flat=True))
    previous = chain.GENESIS
    expected = 1
    for row in rows.iterator(chunk_size=2000):
        values = dict(zip(FIELDS, row, strict=True))
        seq = values["seq"]
        if seq != expected:
            if seq < expected or expected in all_seqs:
                report.broken = Broken(
                    expected,
                    "reordered",
                    f"Event #{expected} is out of order: in its place (row {values['id']}) stands event #{seq}.",
                )
            else:
                report.broken = Broken(expected, "missing", f"Event #{expected} is missing (the next one is #{seq}).")
            return
        leaf = chain.leaf_hash(
            chain.canonical_event(**{k: values[k] for k in FIELDS if k not in ("id", "leaf_hash", "chain_hash")})
        )
        if leaf.hex() != values["leaf_hash"]:
            report.broken = Broken(seq, "changed", f"Event #{seq} was changed: its content no longer matches its hash.")
            return
        previous = chain.chain_hash(previous, leaf)
        if previous.hex() != values["chain_hash"]:
            report.broken = Broken(
                seq,
                "chain",
                f"The chain breaks at event #{seq}: its chain hash does not follow from the events before it.",
            )
            return
        report.leaves.append(leaf)
        report.verified_up_to = seq
        expected += 1
    report.size = len(report.leaves)
    report.root = chain.tree_head(report.leaves)


def _verify_checkpoint(report: Report, checkpoint: Checkpoint, verifier: Verifier | None) -> None:
    info: dict[str, Any] = {"origin": checkpoint.origin, "size": checkpoint.size, "root": checkpoint.root_b64()}
    report.checkpoint = info
    if verifier is None:
        report.broken = Broken(None, "signature", "No public key to check the checkpoint's signature against.")
        return
    try:
        check_signature(checkpoint, verifier)
    except CheckpointError as exc:
        info["signature_ok"] = False
        report.broken = Broken(None, "signature", str(exc))
        return
    info["signature_ok"] = True
    if report.size < checkpoint.size:
        report.broken = Broken(
            report.size + 1,
            "truncated",
            f"The log was truncated: it holds {report.size} events, but the checkpoint committed to "
            f"{checkpoint.size}; event #{report.size + 1} onwards is gone.",
        )
        return
    root = chain.tree_head(report.leaves[: checkpoint.size])
    if root != checkpoint.root:
        report.broken = Broken(
            None,
            "root",
            f"The first {checkpoint.size} events do not have the root the checkpoint committed to: "
            "the log was rewritten since it was signed.",
        )
        return
    info["consistent"] = True
