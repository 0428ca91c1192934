"""``waystation demo`` and ``waystation serve``, run as an operator runs them: as real processes, with a real
gunicorn on a free port, on SQLite in a throwaway data folder."""

from __future__ import annotations

import base64
import http.client
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

from waystation.web.management.serving import redact_path

DEMO_USERNAMES = ["keeper", "caseworker", "coordinator", "analyst", "auditor", "admin"]
CASE_CODE = "KX7M-4RT9"


def waystation_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYSTATION_", "DATABASE_URL"))}
    env.update(WAYSTATION_HOME=str(home), WAYSTATION_ALLOWED_HOSTS="127.0.0.1,localhost", **extra)
    return env


def waystation(*args: str, home: Path, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "waystation.cli", *args],
        env=waystation_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def printed_accounts(output: str) -> dict[str, tuple[str, str, str]]:
    """{username: (role, password, TOTP secret)} from the table the demo prints."""
    accounts = {}
    for username in DEMO_USERNAMES:
        match = re.search(rf"^\s+{username}\s+(.+?)\s+(\S+)\s+([A-Z2-7]{{16,}})\s*$", output, re.MULTILINE)
        assert match, f"{username} is not in the demo's table:\n{output}"
        accounts[username] = (match.group(1), match.group(2), match.group(3))
    return accounts


def totp_now(secret: str) -> str:
    """The code an authenticator app shows now for a base32 secret, as the demo prints it."""
    from django_otp.oath import totp

    return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"


def query(home: Path, sql: str, *params: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "waystation.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def signs_in(home: Path, username: str, password: str) -> bool:
    rows = query(home, "SELECT password, is_active FROM accounts_user WHERE username = ?", username)
    assert rows, f"no user {username}"
    encoded, active = rows[0]
    return bool(active) and Argon2PasswordHasher().verify(password, str(encoded))


@dataclass
class Demo:
    home: Path
    output: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    home = tmp_path_factory.mktemp("demo-home")
    result = waystation("demo", "--no-serve", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    return Demo(home=home, output=result.stdout)


def test_demo_prints_six_accounts_whose_passwords_sign_in(demo: Demo) -> None:
    accounts = printed_accounts(demo.output)
    assert "http://127.0.0.1:8000" in demo.output
    assert "synthetic" in demo.output.lower() and "never enter real data" in demo.output.lower()
    roles = {username: role for username, (role, _password, _secret) in accounts.items()}
    assert roles == {
        "keeper": "Station keeper",
        "caseworker": "Caseworker / counsellor",
        "coordinator": "Coordinator",
        "analyst": "Analyst",
        "auditor": "Auditor",
        "admin": "Administrator",
    }
    for username, (_role, password, secret) in accounts.items():
        assert signs_in(demo.home, username, password), username
        assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20  # a 160-bit TOTP key
        assert not signs_in(demo.home, username, password + "x")
    (persons,) = query(demo.home, "SELECT count(*) FROM cases_person")[0]
    assert persons == 300


def test_demo_run_again_keeps_the_data_and_prints_new_passwords(demo: Demo) -> None:
    before = query(demo.home, "SELECT count(*) FROM cases_person")[0]
    users_before = query(demo.home, "SELECT count(*) FROM accounts_user")[0]
    old = printed_accounts(demo.output)
    result = waystation("demo", "--no-serve", home=demo.home)
    assert result.returncode == 0, result.stdout + result.stderr
    new = printed_accounts(result.stdout)
    assert "Reusing" in result.stdout
    assert query(demo.home, "SELECT count(*) FROM cases_person")[0] == before
    assert query(demo.home, "SELECT count(*) FROM accounts_user")[0] == users_before
    for username in DEMO_USERNAMES:
        assert new[username][1] != old[username][1]
        assert signs_in(demo.home, username, new[username][1])
        assert not signs_in(demo.home, username, old[username][1])
        assert new[username][2] == old[username][2], "the authenticator secret stays, so the tester's app works"
    demo.output = result.stdout  # the passwords now in force, for the tests below


def test_demo_refuses_a_database_it_did_not_generate(demo: Demo) -> None:
    (demo.home / "demo-data").rename(demo.home / "demo-data.off")
    try:
        result = waystation("demo", "--no-serve", home=demo.home)
    finally:
        (demo.home / "demo-data.off").rename(demo.home / "demo-data")
    assert result.returncode != 0
    assert "did not generate" in result.stderr
    assert "password" not in result.stdout.lower()


def test_serve_refuses_unapplied_migrations(tmp_path: Path) -> None:
    result = waystation("serve", "--bind", f"127.0.0.1:{free_port()}", home=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "waystation migrate" in result.stderr


def test_serve_refuses_an_address_in_use(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = waystation("serve", "--bind", f"127.0.0.1:{port}", home=demo.home, timeout=120)
    assert result.returncode != 0
    assert "already running" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def request(
        self, method: str, path: str, *, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        return response, text


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(home: Path, **extra: str) -> Server:
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "waystation.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=waystation_env(home, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        started.append((process, log))
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return Server(process=process, port=port, log=log_path)
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s:\n" + log_path.read_text()
                time.sleep(0.2)

    yield start
    for process, log in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def sign_in(server: Server, username: str, password: str, secret: str) -> str:
    """Sign in through the two sign-in forms (password, then the authenticator's code) as a browser does; returns
    where the server sends us."""
    response, page = server.request("GET", "/accounts/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf_cookie and csrf_field
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf_field.group(1), "username": username, "password": password}
    )
    response, _page = server.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie.group(1)}"},
    )
    assert response.status == 302, f"{username} could not sign in ({response.status})"
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    assert session
    cookies = f"sessionid={session.group(1)}; csrftoken={csrf_cookie.group(1)}"
    second_step = response.getheader("Location") or ""
    assert second_step.startswith("/accounts/two-factor/"), f"{username}: no second step ({second_step})"
    response, page = server.request("GET", second_step, headers={"Cookie": cookies})
    assert response.status == 200, f"{username}: the second step answered {response.status}"
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf_field
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf_field.group(1), "token": totp_now(secret)})
    response, _page = server.request(
        "POST",
        second_step,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
    )
    assert response.status == 302, f"{username}: the code was refused ({response.status})"
    location = response.getheader("Location") or ""
    response, _page = server.request("GET", location, headers={"Cookie": f"sessionid={session.group(1)}"})
    assert response.status == 200, f"{username} signed in but {location} answered {response.status}"
    return location


def test_gunicorn_serves_the_login_page_and_every_demo_account_signs_in(
    demo: Demo, serve: Callable[..., Server]
) -> None:
    server = serve(demo.home, WAYSTATION_DEV_HTTP="1")
    cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    assert b"gunicorn" in cmdline, "serve must exec gunicorn, so that signals reach it"

    response, page = server.request("GET", f"/accounts/login/?next=/cases/{CASE_CODE}/")
    assert response.status == 200
    assert 'name="password"' in page
    assert "default-src 'self'" in (response.getheader("Content-Security-Policy") or "")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert response.getheader("Cache-Control") == "no-store"

    for username, (_role, password, secret) in printed_accounts(demo.output).items():
        sign_in(server, username, password, secret)

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    log = server.log.read_text()
    assert "GET /accounts/login/" in log
    assert CASE_CODE not in log and "next=" not in log, "the access log must not hold query strings or case codes"
    assert "password" not in log.lower()


def test_gunicorn_in_production_mode_insists_on_https(demo: Demo, serve: Callable[..., Server]) -> None:
    server = serve(demo.home, WAYSTATION_BEHIND_PROXY="1")
    response, _page = server.request("GET", "/accounts/login/")
    assert response.status == 301
    assert (response.getheader("Location") or "").startswith("https://")
    response, _page = server.request("GET", "/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status == 200
    assert "max-age=31536000" in (response.getheader("Strict-Transport-Security") or "")
    assert "Secure" in (response.getheader("Set-Cookie") or "")


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/accounts/login/", "/accounts/login/"),
        (f"/cases/{CASE_CODE}/", "/cases/~/"),
        ("/cases/kx7m4rt9/notes/new/", "/cases/~/notes/new/"),
        ("/cases/register/", "/cases/register/"),
        (f"/stations/3/?case={CASE_CODE}", "/stations/3/?case=~"),
    ],
)
def test_access_log_paths_hide_case_codes(path: str, logged: str) -> None:
    assert redact_path(path) == logged
