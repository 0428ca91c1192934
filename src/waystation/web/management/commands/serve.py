"""``waystation serve``: serve the app with gunicorn, one process with threads (the key agent lives in that
process). It only serves: it never migrates, and refuses to start on a database that lacks migrations."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from waystation.web.management.serving import DEFAULT_BIND, DEFAULT_THREADS, MAX_THREADS, exec_gunicorn


class Command(BaseCommand):
    help = (
        "Serve Waystation with gunicorn (a production WSGI server): one process, with threads, because the "
        "signed-in users' keys are held in that process's memory. Run `waystation migrate` first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=DEFAULT_BIND, help=f"HOST:PORT to listen on (default {DEFAULT_BIND})")
        parser.add_argument(
            "--threads",
            type=int,
            default=DEFAULT_THREADS,
            help=f"requests served at once, 1 to {MAX_THREADS} (default {DEFAULT_THREADS})",
        )
        parser.add_argument(
            "--workers", type=int, default=1, help="worker processes: only 1 (the key agent lives in one process)"
        )

    def handle(self, *args: Any, bind: str, threads: int, workers: int, **options: Any) -> None:
        if workers != 1:
            raise CommandError(
                f"--workers must be 1 (got {workers}): the signed-in users' keys are held in the memory of one "
                "process (the key agent), and a second process would not have them. Serve more requests at once "
                "with --threads."
            )
        exec_gunicorn(bind=bind, threads=threads)
