"""PostgreSQL restarting under load (issue 7): requests fail cleanly and recover.

A PostgreSQL cluster of the test's own (``initdb`` in a temporary folder, on a free port: the machine's shared
PostgreSQL is never touched), the production server (``waystation serve``) on it, and signed-in coordinators
looping in threads: open the case list, register a fictional arrival, open her case. Then PostgreSQL stops (fast
shutdown: the server's connections are cut in the middle of whatever they do) and starts again a few seconds later.

- During the outage every request gets the clean 503 page (no traceback, no bare server error, no hang);
- after it, every client's requests succeed again in the same session, without restarting the app (each worker
  thread's connection is checked before reuse, ``conn_health_checks``, and made again);
- nothing half-written: every registration the server acknowledged is there, every person has her intake movement,
  her case key and her audit event (one transaction), and the audit hash chain verifies.

The schema: copied from the test database pytest-django has just migrated (``pg_dump``, a second). So the test runs
in the PostgreSQL pass of ``.ci/run`` only (``DATABASE_URL`` set; in the SQLite pass it would migrate the cluster
instead, a minute, and test the same thing: ``waystation.testing.passes``); skipped there only where PostgreSQL's
server programs are not installed. On its own: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME pytest THIS``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django_otp.oath import TOTP

from waystation.testing.passes import postgresql_pass_only

pytestmark = postgresql_pass_only

HERE = Path(__file__).parent
WAYSTATION = str(Path(sys.executable).with_name("waystation"))
PASSWORD = "fictional-coordinator-pw-5"  # fault_home.py's coordinators
CLIENTS = 3
OUTAGE_SECONDS = 3.0
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CASE_LOCATION = re.compile(r"^/cases/([0-9A-Z]{4}-[0-9A-Z]{4})/$")
UNAVAILABLE_PAGE = "Unavailable for a moment"
LEAKS = ("Traceback", "OperationalError", "psycopg", 'File "', "Internal Server Error")


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them out of PATH), the newest version's."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster: trust authentication on 127.0.0.1 only, no fsync (its data is thrown away)."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root, self.port = bindir, root, free_port()
        self.data = root / "data"
        # initdb refuses to run as root: as root, PostgreSQL's programs run as the postgres account.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/waystation"

    def run(self, program: str, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run(  # noqa: S603
            [*self.prefix, str(self.bindir / program), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        assert done.returncode == 0, f"{program} {' '.join(args)}: {done.stderr[-2000:]}"

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def psql(self, sql: str, database: str = "waystation") -> str:
        done = subprocess.run(  # noqa: S603
            [str(self.bindir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
            + ["-p", str(self.port), "-U", "postgres", "-d", database],
            input=sql,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = postgres_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="waystation-pg-restart-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    made = Cluster(bindir, root)
    try:
        made.init()
        made.start()
        made.psql("CREATE DATABASE waystation", database="postgres")
        yield made
    finally:
        subprocess.run(  # noqa: S603 - whatever state it is in
            [*made.prefix, str(bindir / "pg_ctl"), "-D", str(made.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def copy_schema(cluster: Cluster) -> bool:
    """The PostgreSQL pass: the schema and the applied migrations of pytest-django's test database, copied into the
    cluster (a second, where migrating takes tens). False on SQLite: there is nothing to copy."""
    if connection.vendor != "postgresql":
        return False
    source = connection.settings_dict
    where = ["-h", source["HOST"] or "127.0.0.1", "-p", str(source["PORT"] or 5432), "-U", source["USER"] or "postgres"]
    env = os.environ | ({"PGPASSWORD": source["PASSWORD"]} if source["PASSWORD"] else {})
    dumped = []
    for part in (["--schema-only"], ["--data-only", "--table=django_migrations"]):
        done = subprocess.run(  # noqa: S603
            [str(cluster.bindir / "pg_dump"), *where, "--no-owner", "--no-privileges", *part, source["NAME"]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        dumped.append(done.stdout)
    cluster.psql("\n".join(dumped))
    return True


def server_env(home: Path, cluster: Cluster) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYSTATION_") and k != "DATABASE_URL"}
    return env | {"WAYSTATION_HOME": str(home), "WAYSTATION_DEV_HTTP": "1", "DATABASE_URL": cluster.url}


# --- the clients -----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    what: str
    started: float
    status: int | None  # None: no HTTP answer at all (refused, reset, timed out)
    body: str = ""
    location: str = ""


@dataclass
class Client:
    """One coordinator in a browser session of its own: sign in once, then list, register, open, again and again."""

    base: str
    username: str
    totp_key: str
    answers: list[Answer] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # case codes the server said it registered
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, what: str, method: str, path: str, **kwargs: Any) -> Answer:
        started = time.monotonic()
        try:
            got = self.session.request(method, self.base + path, allow_redirects=False, timeout=30, **kwargs)
        except requests.RequestException as exc:
            answer = Answer(what, started, None, body=repr(exc))
        else:
            answer = Answer(what, started, got.status_code, got.text, got.headers.get("Location", ""))
        self.answers.append(answer)
        return answer

    def post_form(self, what: str, path: str, page: str, data: dict[str, str]) -> Answer:
        token = CSRF_INPUT.search(page)
        data |= {"csrfmiddlewaretoken": token.group(1) if token else ""}
        return self.call(what, "POST", path, data=data, headers={"Referer": self.base + path})

    def sign_in(self) -> None:
        page = self.call("sign-in", "GET", "/accounts/login/")
        credentials = {"username": self.username, "password": PASSWORD}
        password = self.post_form("sign-in", "/accounts/login/", page.body, credentials)
        assert password.status == 302, f"{self.username}: password step answered {password.status}"
        form = self.call("sign-in", "GET", password.location)
        totp = TOTP(bytes.fromhex(self.totp_key), 30, 0, 6, 0)
        totp.time = time.time()
        code = self.post_form("sign-in", password.location, form.body, {"token": f"{totp.token():06d}"})
        assert code.status == 302 and "/accounts/" not in code.location, f"{self.username}: second step failed"

    def work(self, n: int) -> None:
        self.call("case list", "GET", "/cases/")
        form = self.call("register form", "GET", "/cases/register/")
        if form.status != 200:
            return
        fields = {
            "station": "ALDER",
            "name_hangul": "가상 재시작",
            "name_romanized": f"Gasang Restart {self.username} {n} (fictional)",
            "sex": "F",
            "birth_year": "1991",
            "origin_province": "north_hamgyong",
            "left_nk_month": "2019-05",
            "first_contact_month": "2025-01",
            "languages": "ko",
        }
        registered = self.post_form("register", "/cases/register/", form.body, fields)
        made = CASE_LOCATION.match(registered.location) if registered.status == 302 else None
        if made:
            self.acknowledged.append(made.group(1))
        if self.acknowledged:
            self.call("case page", "GET", f"/cases/{self.acknowledged[-1]}/")

    def loop(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            self.work(n)

    def ok_since(self, moment: float) -> int:
        return sum(1 for a in self.answers if a.started >= moment and a.status in (200, 302))


class Clock:
    """Where the test's time goes (printed with -s): it runs in CI twice, and should stay within tens of seconds."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.laps: list[str] = []

    def lap(self, what: str) -> float:
        now = time.monotonic()
        self.laps.append(f"{what} {now - self.last:.1f} s")
        self.last = now
        return now

    def __str__(self) -> str:
        return "; ".join(self.laps)


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def start_server(home: Path, cluster: Cluster) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with (home / "server.log").open("wb") as log:  # the server writes to its own copy of the descriptor
        server = subprocess.Popen(  # noqa: S603
            [WAYSTATION, "serve", "--bind", f"127.0.0.1:{port}", "--threads", "4"],
            env=server_env(home, cluster),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.poll() is None, (home / "server.log").read_text()[-3000:]
        try:
            return requests.get(base + "/accounts/login/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    wait_for(answers, 120, "the server to answer")
    return server, base


# --- the test --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db  # only for copy_schema: pytest-django makes (and migrates) its test database for marked tests
def test_postgresql_restarting_under_load_fails_cleanly_and_recovers(cluster: Cluster, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    clock = Clock()
    copied = copy_schema(cluster)  # else fault_home.py migrates the cluster's database (tens of seconds)
    clock.lap("schema copied" if copied else "nothing to copy the schema from")
    made = subprocess.run(  # noqa: S603
        [sys.executable, str(HERE / "fault_home.py"), str(home), "2"]
        + ["--database-url", cluster.url, "--coordinators", str(CLIENTS)],
        env=server_env(home, cluster),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    authenticators: dict[str, str] = json.loads(made.stdout.strip().splitlines()[-1])["authenticators"]

    clock.lap("installation made" + ("" if copied else " (migrations included)"))
    server, base = start_server(home, cluster)
    clock.lap("server started")
    clients = [Client(base, username, key) for username, key in authenticators.items()]
    stop = threading.Event()
    threads = [threading.Thread(target=c.loop, args=(stop,), daemon=True) for c in clients]
    try:
        for client in clients:
            client.sign_in()
        began = clock.lap("signed in")
        for thread in threads:
            thread.start()
        wait_for(lambda: all(c.ok_since(began) >= 4 for c in clients), 60, "every client working")

        clock.lap("every client working")
        cluster.stop("fast")  # every connection cut, whatever it was doing
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        up = clock.lap("PostgreSQL stopped and started again")
        wait_for(lambda: all(c.ok_since(up) >= 4 for c in clients), 60, "every client working again")
        clock.lap("every client working again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        server_alive = server.poll() is None
        server.terminate()
        server.wait(timeout=60)
    log = (home / "server.log").read_text(errors="replace")
    assert server_alive, f"the server stopped: {log[-3000:]}"  # recovered without restarting the app

    answers = [a for c in clients for a in c.answers if a.what != "sign-in"]
    refused = [a for a in answers if a.status == 503]
    assert refused, "no request met the outage: the test proved nothing"
    unexpected = [(a.what, a.status, a.body[:300]) for a in answers if a.status not in (200, 302, 503)]
    assert not unexpected, unexpected  # no bare 500, no dropped connection, no 403 or redirect to sign in
    for answer in refused:
        assert UNAVAILABLE_PAGE in answer.body and answer.started < up, (answer.what, answer.body[:300])
        assert not any(leak in answer.body for leak in LEAKS), answer.body[:2000]
    assert all(a.location != "/accounts/login/" and not a.location.startswith("/accounts/login/?") for a in answers)
    after = [a for a in answers if a.started >= up]
    assert after and all(a.status in (200, 302) for a in after)  # every client, in the same session
    print(f"{len(answers)} requests, {len(refused)} refused during the outage, {len(after)} after it, all answered")

    # Nothing half-written: every registration in the database complete, every acknowledged one there.
    rows = cluster.psql(
        "SELECT p.case_code, "
        "(SELECT count(*) FROM network_movement m WHERE m.person_id = p.id), "
        "(SELECT count(*) FROM audit_auditevent e WHERE e.case_id = p.id AND e.action = 'person.register'), "
        "(SELECT count(*) FROM vault_casekeywrap w WHERE w.person_id = p.id AND w.holder_id IS NOT NULL) "
        "FROM cases_person p"
    )
    persons = {code: (int(m), int(e), int(w)) for code, m, e, w in (r.split("|") for r in rows.split())}
    incomplete = {code: parts for code, parts in persons.items() if parts[0] != 1 or parts[1] != 1 or parts[2] < 1}
    assert not incomplete, incomplete
    acknowledged = [code for c in clients for code in c.acknowledged]
    assert acknowledged and set(acknowledged) <= set(persons)
    verified = subprocess.run(  # noqa: S603
        [WAYSTATION, "audit", "verify"], env=server_env(home, cluster), capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    clock.lap("data checked")
    print(clock)
