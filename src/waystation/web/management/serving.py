"""What ``waystation serve`` and ``waystation demo`` share: the migration check and the gunicorn command line.

The app is always served by gunicorn, never by Django's development server, and gunicorn replaces the calling
process (``exec``), so that a service manager's signals (TERM to stop, HUP to reload) reach it directly.

Always ONE worker process, with threads: the key agent (``vault.agent``) holds the signed-in users' unwrapped keys
in that process's memory. A second worker process would have an agent of its own, empty, and sign out every user
whose request it happened to receive. A worker that is replaced loses its agent, so the worker is not recycled
(and a reload, HUP, signs everybody out: they sign in again).
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, NoReturn

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import Error as DatabaseError
from gunicorn.glogging import Logger

from waystation.lib.redact import redact_path

DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_THREADS = 8
# How long an idle connection is kept open for the next request. Longer than the proxy in front keeps its idle
# connections to the app (Caddy: 2 minutes by default): when the app closed first, a request the proxy was just
# sending on that connection failed ("bad gateway"; seen in the load test too, with the users' pauses of 3 to 10 s
# against the 5 s kept before). An idle connection waits in gunicorn's poller, not in a thread.
KEEP_ALIVE_SECONDS = 150
MAX_THREADS = 64

# Method, path (never the query string), status, bytes, milliseconds. No referrer and no user agent either:
# a referrer carries the previous page's query string, and a user agent fingerprints a worker's phone.
ACCESS_LOG_FORMAT = '%(t)s %(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class RedactingLogger(Logger):
    """gunicorn's logger with the query string, referrer and case codes taken out of every access log atom,
    so that even an operator's own ``--access-logformat`` with ``%(r)s`` or ``%(q)s`` cannot leak them."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = redact_path(str(atoms.get("U") or ""))
        atoms.update({"U": path, "q": "", "f": "-", "r": f"{atoms.get('m')} {path} {atoms.get('H')}"})
        # Request and response headers (%({cookie}i and the like) are never logged.
        return {k: v for k, v in atoms.items() if not k.startswith("{")}


def unapplied_migrations(database: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Names of the migrations the database still lacks; raises CommandError when it cannot be reached."""
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[database]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise CommandError(f"Cannot reach the database ({exc.__class__.__name__}: {exc}).") from exc
    finally:
        connection.close()
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_bind(bind: str) -> None:
    """Fail early and clearly when the address is taken (gunicorn would retry for a while, then give up)."""
    if bind.startswith(("unix:", "fd://")):
        return
    host, sep, port_text = bind.rpartition(":")
    if not sep or not port_text.isdigit():
        raise CommandError(f"--bind must be HOST:PORT (for example {DEFAULT_BIND}), not {bind!r}.")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - only parsed here; gunicorn binds what it was given
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CommandError(f"Cannot bind to {bind}: {exc}.") from exc
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {bind}: {exc.strerror}. Is Waystation (or something else) already running "
                "there? Stop it, or choose another address with --bind."
            ) from exc


def check_threads(threads: int) -> None:
    if not 1 <= threads <= MAX_THREADS:
        raise CommandError(f"--threads must be between 1 and {MAX_THREADS} (got {threads}).")


def gunicorn_argv(*, bind: str, threads: int) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "waystation.wsgi:application",
        f"--bind={bind}",
        "--workers=1",  # never more: see the module's docstring (the key agent lives in one process)
        "--worker-class=gthread",
        f"--threads={threads}",
        "--timeout=60",
        "--graceful-timeout=20",
        f"--keep-alive={KEEP_ALIVE_SECONDS}",
        # No --max-requests: recycling the worker would drop every key in the agent and sign everybody out.
        "--access-logfile=-",
        "--error-logfile=-",
        f"--access-logformat={ACCESS_LOG_FORMAT}",
        f"--logger-class={RedactingLogger.__module__}.{RedactingLogger.__qualname__}",
        "--name=waystation",
    ]
    if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's own advice; its heartbeat files hold no data
        argv.append("--worker-tmp-dir=/dev/shm")  # a worker blocked on a slow disk is not taken for dead
    return argv


def exec_gunicorn(*, bind: str, threads: int) -> NoReturn:
    """Check the database and the address, then replace this process with gunicorn (one process, ``threads``)."""
    check_threads(threads)
    missing = unapplied_migrations()
    if missing:
        raise CommandError(
            f"The database lacks {len(missing)} migration(s) (first: {missing[0]}). "
            "Run `waystation migrate` first; `serve` only serves."
        )
    check_bind(bind)
    for connection in connections.all():
        connection.close()
    sys.stdout.flush()
    sys.stderr.flush()
    argv = gunicorn_argv(bind=bind, threads=threads)
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter, fixed arguments
