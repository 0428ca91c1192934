"""``waystation dedup``: find people recorded twice.

- ``waystation dedup --input PEOPLE.csv --out PAIRS.csv``: link a file without importing it (see
  ``linkage.people_file`` for the columns); writes ``id_a,id_b,score``, one row per pair judged the same person.
- ``waystation dedup --as COORDINATOR [--json] [--store]``: candidate pairs over the live records (case codes,
  score, why), from the blind index's digests of the name keys and the coded fields: no name is decrypted, so no
  keys are needed; but a list of who may be one person is itself sensitive, so a coordinator asks for it with their
  password, and the audit event names them. ``--store`` puts the pairs in the review queue instead of listing them
  (as "Look for duplicates now" on /duplicates/ does) and prints the counts.

Messages (a refused file names the row, the column and what was expected) are in the user's language:
``--language``, else the terminal's (``LANGUAGE``, ``LANG``...).

``--threshold`` sets the match probability from which a pair is listed (default 0.5: more likely the same person
than not; see ``linkage.matching``).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from waystation.accounts.cli import password_of, user_named
from waystation.accounts.models import Role, User
from waystation.lib.language import language_from_environment
from waystation.linkage.matching import DEFAULT_THRESHOLD, MatchSettings


class Command(BaseCommand):
    help = (
        "Find people recorded twice. With --input PEOPLE.csv --out PAIRS.csv: link a file (columns id, name, "
        "other_names, birth_year, sex, origin_province, left_month) without importing it. Without --input: "
        "candidate pairs over the live records (case codes, score and why; --json for JSON), found without "
        "decrypting any name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", type=Path, help="a CSV file of people to link (UTF-8)")
        parser.add_argument("--out", type=Path, help="where to write the pairs (CSV: id_a,id_b,score)")
        parser.add_argument("--json", action="store_true", help="print the live candidate pairs as JSON")
        parser.add_argument(
            "--as", dest="username", help="live records: the coordinator asking (password at the terminal)"
        )
        parser.add_argument(
            "--store",
            action="store_true",
            help="live records: also put the pairs in the coordinators' review queue (/duplicates/)",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            default=DEFAULT_THRESHOLD,
            help=f"smallest match probability listed (default {DEFAULT_THRESHOLD})",
        )
        parser.add_argument("--language", help="messages in en, ko or zh-hans (default: from LANGUAGE / LANG)")

    def handle(self, *args: object, **options: object) -> None:
        language = options.get("language")
        translation.activate(language_from_environment(language if isinstance(language, str) else None))
        threshold = options["threshold"]
        assert isinstance(threshold, float)  # noqa: S101 - argparse gives a float
        try:
            settings = MatchSettings(threshold=threshold)
        except ValueError as exc:
            raise CommandError(_("The threshold must be a probability between 0 and 1 (exclusive).")) from exc
        source, out = options["input"], options["out"]
        if source is not None or out is not None:
            if options["json"] or options["store"]:
                raise CommandError(_("--json and --store are for the live records: not with --input or --out."))
            if source is None or out is None:
                raise CommandError(_("Give both --input PEOPLE.csv and --out PAIRS.csv."))
            assert isinstance(source, Path) and isinstance(out, Path)  # noqa: S101 - argparse gives paths
            self._file(source, out, settings)
        else:
            username = options["username"]
            coordinator = user_named(
                username if isinstance(username, str) else None,
                allowed=lambda user: user.role == Role.COORDINATOR,
                refusal=_("Only a coordinator can list who may be recorded twice: %(user)s is not one."),
            )
            password_of(coordinator, refused=_("Wrong password: nothing was listed."))
            if options["store"]:
                self._store(settings, as_json=bool(options["json"]), actor=coordinator)
            else:
                self._live(settings, as_json=bool(options["json"]), actor=coordinator)

    def _file(self, source: Path, out: Path, settings: MatchSettings) -> None:
        from waystation.linkage.people_file import PeopleFileError, dedup_file

        if not out.parent.is_dir():
            raise CommandError(_("The folder of %(path)s does not exist.") % {"path": out})
        if out.resolve() == source.resolve():
            raise CommandError(_("The output file must not be the input file."))
        try:
            pairs = dedup_file(source, out, settings)
        except PeopleFileError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(_("Cannot write %(path)s: %(error)s.") % {"path": out, "error": exc.strerror}) from exc
        self.stderr.write(
            _("%(count)d pair(s) judged the same person, written to %(path)s.")
            % {
                "count": len(pairs),
                "path": out,
            }
        )

    def _live(self, settings: MatchSettings, *, as_json: bool, actor: User) -> None:
        from waystation.linkage.live import candidates_json, live_candidates

        found = live_candidates(settings, actor=actor)
        if as_json:
            self.stdout.write(json.dumps(candidates_json(found, settings), ensure_ascii=False, indent=1))
            return
        for pair in found.pairs:
            why = ", ".join(reason.code for reason in pair.agreed)
            self.stdout.write(f"{pair.id_a}  {pair.id_b}  {pair.score:.4f}  {why}")
        self.stderr.write(
            _("%(count)d candidate pair(s) among %(persons)d persons.")
            % {"count": len(found.pairs), "persons": found.persons}
        )

    def _store(self, settings: MatchSettings, *, as_json: bool, actor: User) -> None:
        from waystation.linkage.services import candidates_refresh

        counts = candidates_refresh(actor=actor, settings=settings)
        if as_json:
            self.stdout.write(json.dumps(counts, indent=1))
            return
        self.stderr.write(
            _("%(persons)d records compared: %(pairs)d possible duplicate pair(s), %(new)d of them new.") % counts
        )
