"""``waystation vault``: set the vault up, bring access back, shred a case, pull the kill switch, and look at it.

The changes are made by the vault's own functions (``vault.setup``, ``vault.shred``), which write the audit events
in the same transaction; this command parses, asks for confirmation, and reports. A refusal is one line and a
non-zero exit, with nothing changed.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, transaction
from shamir_mnemonic import MnemonicError
from shamir_mnemonic.share import Share

from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.cases.models.person import normalise_case_code
from waystation.interop.backup import BackupError, check_migrated
from waystation.vault import crypto, setup, shred
from waystation.vault.models import CaseKeyWrap, IndexKeyWrap, PendingGrant, RecoveryKey, ShredRecord, UserKey

KILL_PHRASE = "destroy every key"
SUBCOMMANDS = ("init", "recover", "shred", "kill", "status", "ledger")


def on_terminal() -> bool:
    """Whether a person is at the keyboard: confirmations and shares are asked for only then."""
    return sys.stdin.isatty()


def check_shares(texts: list[str], *, threshold: int) -> list[str]:
    """Exactly ``threshold`` different, well-formed shares of one set, normalised; ``CommandError`` saying which
    share is wrong and how, never echoing its words (a misspelt word is most of a real one)."""
    chosen: dict[int, str] = {}
    identifiers: set[int] = set()
    needs: set[int] = set()
    for number, text in enumerate(texts, 1):
        words = " ".join(text.split()).lower()
        try:
            share = Share.from_mnemonic(words)
        except MnemonicError:
            raise CommandError(
                f"Share {number} is not a valid recovery share: a word is misspelt, missing or out of place. "
                "Check it word for word against the paper; nothing was changed."
            ) from None
        identifiers.add(share.identifier)
        needs.add(share.member_threshold)
        chosen.setdefault(share.index, words)
    if len(identifiers) > 1:
        raise CommandError(
            "These shares do not belong together (they come from different sets of printed shares); nothing was "
            "changed."
        )
    if needs and needs != {threshold}:
        raise CommandError("These shares belong to another installation's recovery key; nothing was changed.")
    if len(chosen) < threshold:
        given = "1 share" if len(chosen) == 1 else f"{len(chosen)} different shares"
        raise CommandError(
            f"Only {given} given; this vault needs {threshold} (any {threshold} of those printed when it was set "
            "up). Nothing was changed."
        )
    return list(chosen.values())[:threshold]


class Command(BaseCommand):
    help = (
        "The vault: `init` sets it up once and prints the recovery shares; `recover` gives everyone entitled their "
        "keys again from enough shares (after the kill switch); `shred CASE_CODE` destroys one case's keys and "
        "sensitive data for ever; `kill` destroys every user's keys at once; `status` and `ledger` report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
        init = sub.add_parser("init", help="set the vault up and print the recovery shares (once)")
        init.add_argument("--shares", type=int, default=5, metavar="N", help="how many shares to print (default 5)")
        init.add_argument(
            "--threshold", type=int, default=3, metavar="K", help="how many shares rebuild the key (default 3)"
        )
        recover = sub.add_parser("recover", help="give every entitled user their keys again, from K shares")
        recover.add_argument(
            "--shares-file",
            metavar="FILE",
            help="read the shares from FILE, one a line ('-': standard input); otherwise they are asked for one by "
            "one on the terminal, without echo",
        )
        shred_parser = sub.add_parser("shred", help="destroy one case's keys and sensitive data, for ever")
        shred_parser.add_argument("case_code", metavar="CASE_CODE", help="the case code, e.g. KX7M-4RT9")
        shred_parser.add_argument("--yes", action="store_true", help="do not ask to type the case code again")
        kill = sub.add_parser("kill", help="the kill switch: destroy every user's keys at once")
        kill.add_argument("--yes", action="store_true", help="do not ask to type the confirmation phrase")
        sub.add_parser("status", help="whether the vault is set up, and its keys counted")
        sub.add_parser("ledger", help="the shred ledger: case ids and times")
        for subparser in sub.choices.values():
            subparser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        self.as_json = bool(options.get("json"))
        try:
            check_migrated()
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        try:
            if subcommand == "init":
                self._init(shares=options["shares"], threshold=options["threshold"])
            elif subcommand == "recover":
                self._recover(options.get("shares_file"))
            elif subcommand == "shred":
                self._shred(options["case_code"], yes=options["yes"])
            elif subcommand == "kill":
                self._kill(yes=options["yes"])
            elif subcommand == "status":
                self._status()
            else:
                self._ledger()
        except crypto.VaultError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database refused the change and nothing was changed: {exc}") from exc

    def _emit(self, data: dict[str, Any], lines: list[str]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        for line in lines:
            self.stdout.write(line)

    # --- init ----------------------------------------------------------------------------------------------------

    def _init(self, *, shares: int, threshold: int) -> None:
        done = setup.initialise(actor=None, shares=shares, threshold=threshold)
        lines = [
            f"The vault is set up. Its recovery key is split into {shares} shares: any {threshold} of them rebuild "
            f"it; {threshold - 1} or fewer reveal nothing.",
            "",
            "Do this now, before anything else:",
            "  1. Print each share on its own sheet of paper (or copy it by hand, word for word), with its number.",
            "  2. Give each sheet to a different trusted person OUTSIDE the country. Nobody holds two.",
            "  3. Never store a share on this machine or any other: no file, no photo, no e-mail, no message, no "
            "cloud. Clear this terminal's scrollback once they are printed.",
            f"  4. After the kill switch, or when nobody who holds a case can sign in, any {threshold} holders bring "
            "their shares to `waystation vault recover`.",
            "The shares are shown this once; they cannot be printed again.",
        ]
        for number, words in enumerate(done.shares, 1):
            lines += ["", f"Share {number} of {shares}", words]
        self._emit({"shares": done.shares, "threshold": threshold}, lines)

    # --- recover -------------------------------------------------------------------------------------------------

    def _recover(self, shares_file: str | None) -> None:
        key = RecoveryKey.objects.order_by("-pk").first()
        if key is None:
            raise CommandError("The vault is not set up, so there is nothing to recover: `waystation vault init`.")
        texts = self._read_shares(shares_file, key.threshold)
        try:
            chosen = check_shares(texts, threshold=key.threshold)
            counts = setup.recover(actor=None, shares=chosen)
        except (CommandError, crypto.VaultError) as exc:
            with transaction.atomic():
                audit_record(actor=None, action="vault.recover_refused", details={"shares": len(texts)})
            raise CommandError(str(exc)) from exc
        self._emit(
            counts,
            [
                f"Access restored: {counts['cases']} cases given again to everyone entitled to them; "
                f"{counts['users']} users hold the index key.",
                "Each person reads their cases again after signing in. Put the shares away again, apart.",
            ],
        )

    def _read_shares(self, shares_file: str | None, threshold: int) -> list[str]:
        if shares_file:
            try:
                text = sys.stdin.read() if shares_file == "-" else Path(shares_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read the shares file {shares_file}: it is missing or not text.") from exc
            return [line for line in text.splitlines() if line.strip()]
        if not on_terminal():
            raise CommandError(
                "No shares: give --shares-file FILE (one share a line), or run this on a terminal to type them."
            )
        self.stdout.write(f"Type {threshold} of the recovery shares, one at a time (what you type is not shown).")
        texts: list[str] = []
        for number in range(1, threshold + 1):
            text = getpass.getpass(f"Share {number} of {threshold}: ")
            if not text.strip():
                break
            texts.append(text)
        return texts

    # --- shred ---------------------------------------------------------------------------------------------------

    def _shred(self, raw_code: str, *, yes: bool) -> None:
        code = normalise_case_code(raw_code)
        person_id = Person.objects.filter(case_code=code).values_list("pk", flat=True).first()
        if person_id is None:
            raise CommandError(f"There is no case {code}; nothing was shredded.")
        if shred.is_shredded(person_id):
            raise CommandError(f"Case {code} was shredded already; there is nothing left to destroy.")
        if not yes:
            if not on_terminal():
                raise CommandError(
                    "Shredding cannot be undone: confirm by typing the case code again on a terminal, or give --yes."
                )
            self.stdout.write(
                f"Shredding destroys case {code}'s names, contacts, narrative, notes and photo for ever, in every "
                "backup too. Its coded facts (sex, birth year, province, months, status, movements) remain."
            )
            if normalise_case_code(input("Type the case code again to confirm: ")) != code:
                raise CommandError("The code typed does not match; nothing was shredded.")
        destroyed = shred.shred(actor=None, person_id=person_id, purpose="command_line")
        self._emit(
            {"case_code": code, "case_id": str(person_id), **destroyed},
            [
                f"Case {code} shredded (case id {person_id}).",
                f"  key wraps destroyed (the recovery key's included): {destroyed['key_wraps']}",
                f"  name search digests destroyed: {destroyed['name_digests']}",
                f"  key grants cancelled: {destroyed['pending_grants']}",
                f"  records whose sensitive fields were blanked: {destroyed['rows_blanked']}",
                "The case id is in the shred ledger: every restore of an older backup shreds it again.",
            ],
        )

    # --- kill ----------------------------------------------------------------------------------------------------

    def _kill(self, *, yes: bool) -> None:
        if not yes:
            if not on_terminal():
                raise CommandError(
                    f'The kill switch needs confirmation: type "{KILL_PHRASE}" on a terminal, or give --yes.'
                )
            self.stdout.write(
                "The kill switch destroys every user's keys and ends every session. Nobody can open a record until "
                f"{_threshold_text()} recovery shares from outside the country are brought to `waystation vault "
                "recover`."
            )
            if " ".join(input(f'Type "{KILL_PHRASE}" to go on: ').split()).lower() != KILL_PHRASE:
                raise CommandError("The phrase typed does not match; nothing was destroyed.")
        unrecoverable = _cases_without_recovery_wrap()
        counts = shred.kill_switch(actor=None)
        lines = [
            "Kill switch pulled.",
            f"  case key wraps destroyed: {counts['case_wraps']}",
            f"  index key wraps destroyed: {counts['index_wraps']}",
            f"  sessions ended: {counts['sessions']}",
            "Nobody can open a record now. A server still running can decrypt nothing either (the wraps are gone); "
            "restart it to clear its memory. To give access back: `waystation vault recover` with "
            f"{_threshold_text()} shares.",
        ]
        if unrecoverable:
            lines.append(f"{unrecoverable} cases had no recovery wrap: they cannot be opened again.")
        self._emit(counts | {"unrecoverable_cases": unrecoverable}, lines)

    # --- status and ledger ---------------------------------------------------------------------------------------

    def _status(self) -> None:
        key = RecoveryKey.objects.order_by("-pk").first()
        data: dict[str, Any] = {
            "set_up": key is not None,
            "threshold": key.threshold if key else None,
            "shares": key.shares if key else None,
            "set_up_at": key.created_at.isoformat() if key else None,
            "users_with_key_pairs": UserKey.objects.count(),
            "users_with_index_key": IndexKeyWrap.objects.filter(holder__isnull=False).count(),
            "case_wraps": CaseKeyWrap.objects.filter(holder__isnull=False).count(),
            "recovery_wraps": CaseKeyWrap.objects.filter(holder__isnull=True).count(),
            "cases_without_recovery_wrap": _cases_without_recovery_wrap(),
            "pending_grants": PendingGrant.objects.count(),
            "shredded_cases": ShredRecord.objects.count(),
            "ledger_file": str(shred.ledger_path()),
        }
        state = (
            f"set up on {key.created_at:%Y-%m-%d}; any {key.threshold} of {key.shares} recovery shares rebuild its key"
            if key
            else "NOT set up (`waystation vault init`)"
        )
        lines = [
            f"Vault: {state}.",
            f"Users with a key pair: {data['users_with_key_pairs']} "
            f"({data['users_with_index_key']} hold the index key)",
            f"Case key wraps: {data['case_wraps']} for users, {data['recovery_wraps']} for the recovery key",
            f"Key grants waiting for a holder to sign in: {data['pending_grants']}",
            f"Shredded cases: {data['shredded_cases']} (ledger file {data['ledger_file']})",
        ]
        if data["cases_without_recovery_wrap"]:
            lines.append(f"WARNING: {data['cases_without_recovery_wrap']} cases have no recovery wrap.")
        self._emit(data, lines)

    def _ledger(self) -> None:
        in_table = dict(ShredRecord.objects.values_list("person_id", "shredded_at"))
        in_file = shred.read_ledger()
        merged = in_table | in_file
        entries = [
            {
                "case_id": str(pid),
                "shredded_at": when.isoformat(),
                "in_database": pid in in_table,
                "in_file": pid in in_file,
            }
            for pid, when in sorted(merged.items(), key=lambda item: (item[1], str(item[0])))
        ]
        lines = [
            f"{e['case_id']}  {e['shredded_at']}"
            + ("" if e["in_database"] else "  (file only)")
            + ("" if e["in_file"] else "  (database only)")
            for e in entries
        ]
        lines.append(
            f"{len(entries)} shredded cases. Ledger file: {shred.ledger_path()} (case ids and times only). Keep a "
            "copy with the backups: `waystation restore --shred-ledger FILE` applies it to a new installation."
        )
        self._emit({"entries": entries, "ledger_file": str(shred.ledger_path())}, lines)


def _threshold_text() -> str:
    threshold = RecoveryKey.objects.order_by("-pk").values_list("threshold", flat=True).first()
    return str(threshold) if threshold else "enough"


def _cases_without_recovery_wrap() -> int:
    recovery = CaseKeyWrap.objects.filter(holder__isnull=True).values("person_id")
    return (
        CaseKeyWrap.objects.filter(holder__isnull=False)
        .exclude(person_id__in=recovery)
        .values("person_id")
        .distinct()
        .count()
    )
