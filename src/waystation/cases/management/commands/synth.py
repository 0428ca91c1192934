"""``waystation synth``: generate clearly fictional, deterministic data into the configured database, encrypted as
the app encrypts it. Into an installation whose vault is not set up yet, it sets the vault up and prints the
recovery shares."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation import synth
from waystation.vault import setup


class Command(BaseCommand):
    help = (
        "Generate clearly fictional, deterministic synthetic data (same seed, same data), encrypted: stations along "
        "the route, staff accounts with key pairs and passwords nobody is told, persons with their history, "
        "journeys and care. Sets the vault up (and prints its recovery shares) when it is not set up yet."
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
        parser.add_argument(
            "--append",
            action="store_true",
            help="add to the persons already in the database (refused once the vault is set up: synth cannot "
            "open its index key)",
        )
        parser.add_argument("--json", action="store_true", help="print the counts (and any recovery shares) as JSON")

    def handle(self, *args: Any, persons: int, seed: int, stations: int, append: bool, **options: Any) -> None:
        if persons < 1:
            raise CommandError(f"--persons must be at least 1 (got {persons}).")
        if not synth.MIN_STATIONS <= stations <= synth.MAX_STATIONS:
            raise CommandError(
                f"--stations must be between {synth.MIN_STATIONS} and {synth.MAX_STATIONS} (got {stations})."
            )
        started = time.monotonic()
        try:
            result = synth.generate(
                persons=persons, seed=seed, stations=stations, append=append, progress=self._progress
            )
        except synth.SynthError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.monotonic() - started
        counts, vault = result.counts, result.vault
        if options["json"]:
            shares = {"recovery_shares": vault.shares, "recovery_threshold": vault.threshold} if vault else {}
            self.stdout.write(json.dumps(counts | shares))
            return
        rows = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items() if name != "persons")
        self.stdout.write(f"Generated {persons} fictional persons (seed {seed}) in {seconds:.1f} s.")
        self.stdout.write(f"Also: {rows}.")
        self.stdout.write("Staff accounts have random passwords that nobody is told; an administrator sets them.")
        if vault is not None:
            self._print_shares(vault)

    def _print_shares(self, vault: setup.Initialised) -> None:
        lines = [
            "",
            f"The vault of this installation was set up. Its recovery shares (any {vault.threshold} of these "
            f"{len(vault.shares)} rebuild the recovery key, which opens every case):",
            *(f"  {number}. {share}" for number, share in enumerate(vault.shares, 1)),
            "They are shown this once and kept nowhere: for real data, write each one down for a different person.",
        ]
        self.stdout.write("\n".join(lines))

    def _progress(self, text: str) -> None:
        self.stderr.write(f"  {text}")
        self.stderr.flush()
