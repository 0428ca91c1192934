"""``waystation doctor``: check a deployment and say what to fix (``waystation.ops.doctor``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from waystation.interop.backup import BackupError, passphrase_from
from waystation.lib.language import language_from_environment
from waystation.ops.doctor import DEFAULT_MAX_AGE_HOURS, FAIL, Options, run_checks, summary


class Command(BaseCommand):
    help = (
        "Check this deployment and say what to fix: Django's deployment settings, TLS in front, the data folder's "
        "permissions, the database, the vault's recovery key, the backups (present, recent, and with the "
        "passphrase: restorable), the audit trail and its signing key. Each check is PASS, WARN or FAIL; the exit "
        "status is 1 when any check fails. Nothing is changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backups", metavar="FOLDER", help="the folder the scheduled backups are written to")
        parser.add_argument(
            "--max-age",
            type=float,
            default=DEFAULT_MAX_AGE_HOURS,
            metavar="HOURS",
            help=f"the newest backup may be this old (default {DEFAULT_MAX_AGE_HOURS} hours)",
        )
        parser.add_argument(
            "--passphrase-file",
            metavar="F",
            help="authenticate the newest backup with the passphrase on the first line of F (never printed)",
        )
        parser.add_argument(
            "--ask-passphrase", action="store_true", help="ask for the backup passphrase on the terminal instead"
        )
        parser.add_argument(
            "--url", metavar="URL", help="the public https:// address: fetch it to check TLS and the security headers"
        )
        parser.add_argument("--ca-file", metavar="PEM", help="trust this CA certificate for --url (a private CA)")
        parser.add_argument("--language", help="en, ko or zh-hans (default: from LANGUAGE / LANG)")
        parser.add_argument("--json", action="store_true", help="print the findings as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate(language_from_environment(options["language"]))
        if options["max_age"] <= 0:
            raise CommandError(_("--max-age must be a number of hours above 0."))
        passphrase = None
        if options["passphrase_file"] or options["ask_passphrase"]:
            try:
                passphrase = passphrase_from(options["passphrase_file"], confirm=False)
            except BackupError as exc:
                raise CommandError(str(exc)) from None
        found = run_checks(
            Options(
                backups=Path(options["backups"]) if options["backups"] else None,
                max_age=dt.timedelta(hours=options["max_age"]),
                passphrase=passphrase,
                url=options["url"],
                ca_file=options["ca_file"],
            )
        )
        result = summary(found)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            for finding in found:
                self.stdout.write(f"{finding.status}  {finding.check}: {finding.message}")
            counts = result["counts"]
            self.stdout.write(
                _("%(fail)s failed, %(warn)s warnings, %(ok)s passed.")
                % {"fail": counts[FAIL], "warn": counts["WARN"], "ok": counts["PASS"]}
            )
        if not result["ok"]:
            self.stdout.flush()
            raise SystemExit(1)
