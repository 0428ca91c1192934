"""``waystation audit``: signed checkpoints of the audit log, its public key, and verification."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.audit.checkpoint import (
    CheckpointError,
    Verifier,
    installation_verifier,
    parse,
    parse_vkey,
)
from waystation.audit.verify import checkpoint_text, verify_log


class Command(BaseCommand):
    help = (
        "The audit trail: `checkpoint` prints a signed checkpoint (tree size, root hash, Ed25519 signature) to hand "
        "to a partner; `key` prints the public key that checks it; `verify` recomputes every hash of the log and "
        "names the first broken link (exit status 1), optionally against a checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{checkpoint,key,verify}")
        cp = sub.add_parser("checkpoint", help="print or write a signed checkpoint of the audit log")
        cp.add_argument("--out", metavar="FILE", help="write the checkpoint to FILE instead of printing it")
        key = sub.add_parser("key", help="print the public key that checks this installation's checkpoints")
        key.add_argument("--json", action="store_true", help="print as JSON")
        verify = sub.add_parser("verify", help="verify the whole audit log; exit status 1 names the first broken link")
        verify.add_argument("--checkpoint", metavar="FILE", help="also check a signed checkpoint against the log")
        verify.add_argument(
            "--public-key",
            metavar="KEY",
            help="check the checkpoint's signature with this key (as `audit key` prints it, or a file holding it) "
            "instead of the installation's",
        )
        verify.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        if subcommand == "checkpoint":
            self._checkpoint(options.get("out"))
        elif subcommand == "key":
            self._key(bool(options.get("json")))
        else:
            self._verify(options.get("checkpoint"), options.get("public_key"), bool(options.get("json")))

    def _checkpoint(self, out: str | None) -> None:
        try:
            text = checkpoint_text()
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        if out:
            try:
                Path(out).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write the checkpoint to {out}: {exc.strerror}") from exc
            self.stderr.write(f"Checkpoint written to {out}.")
        else:
            self.stdout.write(text, ending="")

    def _key(self, as_json: bool) -> None:
        try:
            verifier = installation_verifier()
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps({"name": verifier.name, "vkey": verifier.vkey()}))
        else:
            self.stdout.write(verifier.vkey())

    def _verify(self, checkpoint_file: str | None, public_key: str | None, as_json: bool) -> None:
        checkpoint = None
        verifier: Verifier | None = None
        try:
            if checkpoint_file:
                try:
                    data = Path(checkpoint_file).read_bytes()
                except OSError as exc:
                    raise CheckpointError(f"Cannot read the checkpoint {checkpoint_file}: {exc.strerror}") from exc
                checkpoint = parse(data)
                verifier = _verifier_from(public_key) if public_key else installation_verifier(create=False)
        except CheckpointError as exc:
            self._fail(as_json, {"ok": False, "broken": {"seq": None, "problem": "checkpoint", "message": str(exc)}})
            return
        started = time.monotonic()
        report = verify_log(checkpoint=checkpoint, verifier=verifier)
        seconds = time.monotonic() - started
        result = report.as_dict() | {"seconds": round(seconds, 3)}
        if not report.ok:
            self._fail(as_json, result)
            return
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Audit log intact: {report.size} events, chain verified up to #{report.verified_up_to}.")
        self.stdout.write(f"Root hash: {result['root']} ({seconds:.2f} s).")
        if checkpoint is not None:
            self.stdout.write(
                f"Checkpoint of {checkpoint.size} events: signature valid, and the log still contains it."
            )
            if not public_key:
                # Whoever holds this machine holds its signing key too: only the partner's copy of the public
                # key makes the check independent of the machine.
                self.stdout.write(
                    "Checked with this installation's own key. To check independently of this machine, give the "
                    "public key your partner holds: --public-key FILE."
                )

    def _fail(self, as_json: bool, result: dict[str, Any]) -> None:
        if as_json:
            self.stdout.write(json.dumps(result))
        else:
            broken = result["broken"]
            refused = broken["problem"] in {"checkpoint", "signature"}
            prefix = "Checkpoint refused" if refused else "Audit log NOT intact"
            self.stderr.write(f"{prefix}: {broken['message']}")
            if result.get("verified_up_to"):
                self.stderr.write(f"The chain holds up to event #{result['verified_up_to']}.")
        self.stdout.flush()
        self.stderr.flush()
        raise SystemExit(1)


def _verifier_from(value: str) -> Verifier:
    if os.path.exists(value):
        try:
            value = Path(value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"Cannot read the public key file: {exc}") from exc
    return parse_vkey(value)
