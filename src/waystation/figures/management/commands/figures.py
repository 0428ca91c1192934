"""``waystation figures``: release every indicator now, after disclosure control, and print what was released;
``waystation figures report``: render a report template (the appeal) from the current releases to HTML or PDF.

Each release call makes a new release of every indicator (stored, immutable, audited as ``figures.release``); the
differencing check compares each with the previous one, so calling it often reveals nothing more. A report uses the
current releases (a fresh one only where the latest is a day old) and is audited as ``figures.report``.

``waystation figures dp --series NAME [--epsilon E]`` makes one differentially private release of a series published
again and again, spending part of the month's privacy budget; ``waystation figures budget`` shows that budget.

Actions: with none, release; otherwise the action named first, each handled by one ``_action_<name>`` method. Each
action accepts only its own options (``OPTIONS``): an option that belongs to another is refused, not ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from io import TextIOBase
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.figures import privacy
from waystation.figures.disclosure import Policy
from waystation.figures.privacy import (
    BudgetExhausted,
    Ledger,
    dp_release_create,
    epsilon_text,
    privacy_ledger,
    public_dp_release,
    public_ledger,
)
from waystation.figures.releases import FiguresInconsistent, PolicyTooWeak, public_release, release_all
from waystation.lib.language import language_from_environment

# The options each action takes (None: the release). ``--json`` prints JSON wherever it is accepted.
OPTIONS: dict[str | None, tuple[str, ...]] = {
    None: ("json", "threshold", "rounding", "min_denominator"),
    "report": ("template", "format", "out", "language", "force"),
    "dp": ("series", "epsilon", "json"),
    "budget": ("json",),
}
ACTIONS = tuple(action for action in OPTIONS if action)


class Command(BaseCommand):
    help = (
        "Release every indicator now (stored, immutable, audited) after disclosure control, and print the released "
        "values: counts from 1 to threshold-1 hidden, complementary cells hidden so none can be recovered, counts "
        "rounded, small changes since the previous release held. Raw counts are never printed. "
        "`figures report --template appeal --format pdf --out FILE` renders a report from the current releases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            nargs="?",
            choices=ACTIONS,
            help="report: render a report; dp: a differentially private release of one series; budget: this "
            "month's privacy budget (default: release every indicator and print)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON (the release, dp and budget)")
        # No defaults here (the policy's own apply) so that a report can refuse them: it uses the current releases.
        parser.add_argument("--threshold", type=int, help="smallest count shown (default 10)")
        parser.add_argument("--rounding", type=int, help="shown counts are rounded to this (default 5)")
        parser.add_argument(
            "--min-denominator", type=int, help="no percentage over fewer persons than this (default 50)"
        )
        report = parser.add_argument_group("report")
        report.add_argument("--template", help="report: the template's name (e.g. appeal)")
        report.add_argument("--format", help="report: pdf or html")
        report.add_argument("--out", help="report: the file to write (refused if it exists, unless --force)")
        report.add_argument("--language", help="report: en, ko or zh-hans (default en)")
        report.add_argument("--force", action="store_true", help="report: overwrite --out if it is a file")
        noisy = parser.add_argument_group("dp")
        noisy.add_argument("--series", choices=list(privacy.SERIES), help="dp: the series to release")
        noisy.add_argument(
            "--epsilon", help=f"dp: the privacy loss this release spends (default {privacy.DEFAULT_EPSILON})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Messages in the terminal's language (LANGUAGE, LANG...); --language chooses a report's language.
        translation.activate(language_from_environment(None))
        action = options["action"]
        foreign = sorted({name for names in OPTIONS.values() for name in names} - set(OPTIONS[action]))
        given = [f"--{name.replace('_', '-')}" for name in foreign if options[name] not in (None, False)]
        if given:
            what = f"`waystation figures {action}`" if action else _("a release (`waystation figures`)")
            raise CommandError(_("%(options)s do not go with %(what)s.") % {"options": ", ".join(given), "what": what})
        if action is None:
            self._release(options)
        else:
            getattr(self, f"_action_{action}")(options)

    # --- release (no action) ---------------------------------------------------------------------------------------

    def _release(self, options: dict[str, Any]) -> None:
        chosen = {"threshold": "threshold", "rounding_base": "rounding", "min_denominator": "min_denominator"}
        try:
            policy = Policy(**{field: options[name] for field, name in chosen.items() if options[name] is not None})
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            released = [public_release(release) for release in release_all(actor=None, policy=policy)]
        except (PolicyTooWeak, FiguresInconsistent) as exc:
            raise CommandError(_("Nothing was released: %(reason)s") % {"reason": exc}) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"releases": released}, ensure_ascii=False, indent=2))
            return
        for item in released:
            self._print(item)

    def _print(self, item: dict[str, Any]) -> None:
        threshold = item["policy"]["threshold"]
        self.stdout.write(self.style.MIGRATE_HEADING(f"{item['title']} ({item['indicator']})"))
        self.stdout.write(f"  {item['definition']}")
        total = _shown(item["value"], item["value_fewer_than_threshold"], threshold)
        self.stdout.write("  " + _("Total: %(value)s") % {"value": total})
        if item["share_percent"] is not None:
            self.stdout.write("  " + _("Share: %(percent)s%%") % {"percent": item["share_percent"]})
        if item["per_person"] is not None:
            self.stdout.write("  " + _("Per person: %(value)s") % {"value": item["per_person"]})
        for cell in item["cells"]:
            name = ", ".join(f"{dim}={code}" for dim, code in cell["key"].items())
            note = "  " + _("(held from the previous release)") if cell["status"] == "held" else ""
            if cell.get("reference") is not None:
                note += "  " + _("(nationally: %(n)s)") % {"n": f"{cell['reference']:,}"}
            self.stdout.write(f"    {name:<45} {_shown(cell['value'], False, threshold):>12}{note}")
        if item["reference_source"]:
            self.stdout.write("  " + _("National figures: %(source)s") % {"source": item["reference_source"]})
        left = _shown(item["left_out_for_lack_of_consent"], item["left_out_fewer_than_threshold"], threshold)
        self.stdout.write("  " + _("Left out for lack of consent: %(value)s") % {"value": left})
        self.stdout.write("")

    # --- report ----------------------------------------------------------------------------------------------------

    def _action_report(self, options: dict[str, Any]) -> None:
        from waystation.figures import reports  # markdown, matplotlib and WeasyPrint only when a report is made

        template, fmt, out = options["template"], options["format"], options["out"]
        language = options["language"] or "en"
        missing = [name for name, value in (("--template", template), ("--format", fmt), ("--out", out)) if not value]
        if missing:
            raise CommandError(_("figures report needs %(options)s.") % {"options": ", ".join(missing)})
        if fmt not in reports.FORMATS:
            raise CommandError(
                _("Unknown --format %(value)s: use one of %(choices)s.")
                % {"value": repr(fmt), "choices": ", ".join(reports.FORMATS)}
            )
        languages = [code for code, _name in settings.LANGUAGES]
        if language not in languages:
            raise CommandError(
                _("Unknown --language %(value)s: use one of %(choices)s.")
                % {"value": repr(language), "choices": ", ".join(languages)}
            )
        path = Path(out)
        if path.is_dir():
            raise CommandError(_("--out %(path)s is a directory: give the path of the file to write.") % {"path": out})
        if path.exists() and not options["force"]:
            raise CommandError(
                _("--out %(path)s exists already: give another path, or --force to overwrite it.") % {"path": out}
            )
        if not path.parent.is_dir():
            raise CommandError(
                _("--out %(path)s: the folder %(folder)s does not exist.") % {"path": out, "folder": path.parent}
            )
        try:
            reports.template_text(template, language)  # refuse an unknown template before releasing anything
            data = reports.report_create(template=template, language=language, fmt=fmt, actor=None)
        except (reports.ReportError, FiguresInconsistent) as exc:
            raise CommandError(str(exc)) from exc
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(path)s: %(reason)s.") % {"path": out, "reason": exc.strerror or exc}
            ) from exc
        self.stdout.write(
            _("Wrote %(path)s (%(format)s, %(language)s, %(bytes)s bytes).")
            % {"path": out, "format": fmt, "language": language, "bytes": f"{len(data):,}"}
        )

    # --- dp and budget ---------------------------------------------------------------------------------------------

    def _action_dp(self, options: dict[str, Any]) -> None:
        if not options["series"]:
            raise CommandError(
                _("figures dp needs --series: one of %(choices)s.") % {"choices": ", ".join(privacy.SERIES)}
            )
        if options["epsilon"] is None:
            options = {**options, "epsilon": str(privacy.DEFAULT_EPSILON)}
        try:
            print_dp_release(options, actor=None, stdout=self.stdout)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc

    def _action_budget(self, options: dict[str, Any]) -> None:
        try:
            print_budget(options, stdout=self.stdout)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc


def _shown(value: int | None, fewer_than_threshold: bool, threshold: int) -> str:
    """A released number as printed. A hidden one reads "fewer than N" only when that is what hid it; otherwise
    "hidden": it may be hidden to protect another, or held hidden, and saying which would narrow it down."""
    if value is not None:
        return str(value)
    return _("fewer than %(n)s") % {"n": threshold} if fewer_than_threshold else _("hidden")


# --- dp and budget: what they print --------------------------------------------------------------------------------


def print_dp_release(options: Mapping[str, Any], *, actor: User | None, stdout: TextIOBase) -> None:
    """``waystation figures dp``: one differentially private release, printed. Bad input and an exhausted budget
    end in ``CommandError`` with the reason, having changed nothing."""
    try:
        spend = dp_release_create(series=options["series"], epsilon=options["epsilon"], actor=actor)
    except (ValueError, BudgetExhausted) as exc:
        raise CommandError(str(exc)) from exc
    item = public_dp_release(spend)
    if options.get("json"):
        stdout.write(json.dumps(item, ensure_ascii=False, indent=2) + "\n")
        return
    threshold = item["method"]["threshold"]
    lines = [f"{item['title']} ({item['series']})", f"  {item['definition']}"]
    lines.append(
        "  "
        + _(
            "Differential privacy: random noise of scale %(scale)s added to each count, epsilon %(epsilon)s spent. "
            "Counts under %(threshold)s are withheld; the others are rounded to %(base)s."
        )
        % {
            "scale": f"{item['method']['scale']:g}",
            "epsilon": item["method"]["epsilon"],
            "threshold": threshold,
            "base": item["method"]["rounding_base"],
        }
    )
    if item["cells"]:
        for cell in item["cells"]:
            name = ", ".join(cell["key"].values())
            lines.append(f"    {name:<12} {_shown_noisy(cell['value'], threshold):>16}")
    else:
        lines.append("  " + _("Total: %(value)s") % {"value": _shown_noisy(item["value"], threshold)})
    ledger = privacy_ledger()
    lines += ["  " + _budget_line(ledger), "  " + _year_line(ledger)]
    stdout.write("\n".join(lines) + "\n")


def print_budget(options: Mapping[str, Any], *, stdout: TextIOBase) -> None:
    """``waystation figures budget``: this month's privacy budget, what was spent, what is left, and each spend."""
    ledger = privacy_ledger()
    if options.get("json"):
        stdout.write(json.dumps(public_ledger(ledger), ensure_ascii=False, indent=2) + "\n")
        return
    lines = [_budget_line(ledger), _year_line(ledger)]
    for spend in ledger.spends:
        lines.append(
            f"  {spend.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC  {spend.series:<26} "
            + _("epsilon %(epsilon)s") % {"epsilon": epsilon_text(spend.epsilon)}
            + f"  #{spend.pk}"
        )
    if not ledger.spends:
        lines.append("  " + _("Nothing spent yet this month."))
    stdout.write("\n".join(lines) + "\n")


def _budget_line(ledger: Ledger) -> str:
    return _(
        "Privacy budget for %(period)s: %(spent)s of %(budget)s spent, %(remaining)s left; it renews on %(renews)s."
    ) % {
        "period": ledger.period,
        "spent": epsilon_text(ledger.spent),
        "budget": epsilon_text(ledger.budget),
        "remaining": epsilon_text(ledger.remaining),
        "renews": f"{ledger.renews_at:%Y-%m-%d %H:%M} UTC",
    }


def _year_line(ledger: Ledger) -> str:
    return _("Yearly cap for %(year)s: %(spent)s of %(budget)s spent, %(remaining)s left; it renews on %(renews)s.") % {
        "year": ledger.year.year,
        "spent": epsilon_text(ledger.year.spent),
        "budget": epsilon_text(ledger.year.budget),
        "remaining": epsilon_text(ledger.year.remaining),
        "renews": f"{ledger.year.renews_at:%Y-%m-%d %H:%M} UTC",
    }


def _shown_noisy(value: int | None, threshold: int) -> str:
    """A noisy count as printed: withheld ones are under the threshold after the noise, which is what it says."""
    return _("fewer than %(n)s") % {"n": threshold} if value is None else str(value)
