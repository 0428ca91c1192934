"""``waystation figures``: release every indicator now, after disclosure control, and print what was released.

Each call makes a new release of every indicator (stored, immutable, audited as ``figures.release``); the
differencing check compares each with the previous one, so calling it often reveals nothing more.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.figures.disclosure import Policy
from waystation.figures.releases import public_release, release_all


class Command(BaseCommand):
    help = (
        "Release every indicator now (stored, immutable, audited) after disclosure control, and print the released "
        "values: counts from 1 to threshold-1 hidden, complementary cells hidden so none can be recovered, counts "
        "rounded, small changes since the previous release held. Raw counts are never printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the releases as JSON")
        parser.add_argument("--threshold", type=int, default=10, help="smallest count shown (default 10)")
        parser.add_argument("--rounding", type=int, default=5, help="shown counts are rounded to this (default 5)")
        parser.add_argument(
            "--min-denominator", type=int, default=50, help="no percentage over fewer persons than this (default 50)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            policy = Policy(
                threshold=options["threshold"],
                rounding_base=options["rounding"],
                min_denominator=options["min_denominator"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        released = [public_release(release) for release in release_all(actor=None, policy=policy)]
        if options["json"]:
            self.stdout.write(json.dumps({"releases": released}, ensure_ascii=False, indent=2))
            return
        for item in released:
            self._print(item)

    def _print(self, item: dict[str, Any]) -> None:
        threshold = item["policy"]["threshold"]
        self.stdout.write(self.style.MIGRATE_HEADING(f"{item['title']} ({item['indicator']})"))
        self.stdout.write(f"  {item['definition']}")
        total = item["value"]
        if total is None and not item["cells"]:
            self.stdout.write(f"  Total: fewer than {threshold}")
        else:
            self.stdout.write(f"  Total: {_shown(total, item['value_status'], threshold)}")
        if item["share_percent"] is not None:
            self.stdout.write(f"  Share: {item['share_percent']}%")
        if item["per_person"] is not None:
            self.stdout.write(f"  Per person: {item['per_person']}")
        for cell in item["cells"]:
            name = ", ".join(f"{dim}={code}" for dim, code in cell["key"].items())
            note = "  (held from the previous release)" if cell["status"] == "held" else ""
            self.stdout.write(f"    {name:<45} {_shown(cell['value'], cell['status'], threshold):>12}{note}")
        left = _shown(item["left_out_for_lack_of_consent"], item["left_out_status"], threshold)
        self.stdout.write(f"  Left out for lack of consent: {left}")
        self.stdout.write("")


def _shown(value: int | None, status: str | None, threshold: int) -> str:
    # A hidden cell may be under the threshold or hide one that is: the table does not say which.
    return "hidden" if value is None else str(value)
