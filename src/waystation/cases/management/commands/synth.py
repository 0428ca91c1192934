"""``waystation synth``: generate clearly fictional, deterministic data into the configured database."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation import synth


class Command(BaseCommand):
    help = (
        "Generate clearly fictional, deterministic synthetic data (same seed, same data): stations along the route, "
        "staff accounts with unusable passwords, persons with their history, journeys and care."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, required=True, help="how many persons to generate (at least 1)")
        parser.add_argument("--seed", type=int, required=True, help="the seed: the same seed gives the same data")
        parser.add_argument(
            "--stations",
            type=int,
            default=8,
            help=f"stations on the route, {synth.MIN_STATIONS} to {synth.MAX_STATIONS} (default 8)",
        )
        parser.add_argument("--append", action="store_true", help="add to the persons already in the database")
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")

    def handle(self, *args: Any, persons: int, seed: int, stations: int, append: bool, **options: Any) -> None:
        if persons < 1:
            raise CommandError(f"--persons must be at least 1 (got {persons}).")
        if not synth.MIN_STATIONS <= stations <= synth.MAX_STATIONS:
            raise CommandError(
                f"--stations must be between {synth.MIN_STATIONS} and {synth.MAX_STATIONS} (got {stations})."
            )
        started = time.monotonic()
        try:
            counts = synth.generate(
                persons=persons, seed=seed, stations=stations, append=append, progress=self._progress
            )
        except synth.SynthError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.monotonic() - started
        if options["json"]:
            self.stdout.write(json.dumps(counts))
            return
        rows = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items() if name != "persons")
        self.stdout.write(f"Generated {persons} fictional persons (seed {seed}) in {seconds:.1f} s.")
        self.stdout.write(f"Also: {rows}.")
        self.stdout.write("Staff accounts have unusable passwords; `waystation demo` or an administrator sets them.")

    def _progress(self, text: str) -> None:
        self.stderr.write(f"  {text}")
        self.stderr.flush()
