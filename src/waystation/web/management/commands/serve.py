"""``waystation serve``: serve the app with gunicorn. It only serves: it never migrates, and refuses to start on
a database that lacks migrations."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from waystation.web.management.serving import DEFAULT_BIND, DEFAULT_WORKERS, exec_gunicorn


class Command(BaseCommand):
    help = "Serve Waystation with gunicorn (a production WSGI server). Run `waystation migrate` first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=DEFAULT_BIND, help=f"HOST:PORT to listen on (default {DEFAULT_BIND})")
        parser.add_argument(
            "--workers", type=int, default=DEFAULT_WORKERS, help=f"worker processes (default {DEFAULT_WORKERS})"
        )

    def handle(self, *args: Any, bind: str, workers: int, **options: Any) -> None:
        exec_gunicorn(bind=bind, workers=workers)
