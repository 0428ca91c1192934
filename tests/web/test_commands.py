"""``waystation demo`` and ``waystation serve``, run as an operator runs them: as real processes, with a real
gunicorn on a free port, on SQLite in a throwaway data folder. What the pages show is checked against the data
as the demo's printed recovery shares decrypt it."""

from __future__ import annotations

import base64
import html
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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import shamir_mnemonic
from django.contrib.auth.hashers import Argon2PasswordHasher
from nacl.public import PrivateKey

from waystation.vault import crypto
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


def printed_shares(output: str) -> list[str]:
    """The recovery shares the demo prints, one numbered line each."""
    return re.findall(r"^\s+\d+\. ([a-z]+(?: [a-z]+){19,})$", output, re.MULTILINE)


def recovered_name(home: Path, shares: list[str], case_code: str) -> str:
    """A person's romanized name, decrypted with the recovery key rebuilt from the printed shares (not by the app)."""
    recovery = PrivateKey(shamir_mnemonic.combine_mnemonics(shares))
    ((person_id, stored, sealed),) = query(
        home,
        "SELECT p.id, p.name_romanized, w.sealed FROM cases_person p JOIN vault_casekeywrap w ON w.person_id = p.id "
        "WHERE w.holder_id IS NULL AND p.case_code = ?",
        case_code,
    )
    assert isinstance(sealed, bytes)
    key = crypto.unseal(recovery, sealed)
    row = str(uuid.UUID(str(person_id)))
    ad = crypto.associated_data(table="cases_person", column="name_romanized", row=row, key_version=1)
    assert str(stored).startswith(crypto.TEXT_PREFIX)
    return crypto.decrypt(key, base64.b64decode(str(stored)[len(crypto.TEXT_PREFIX) :]), ad).decode()


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
    assert len(printed_shares(demo.output)) == 5
    assert "Recovery shares of this demo installation (fictional" in demo.output


def test_demo_run_again_starts_over_with_new_passwords_and_the_same_authenticators(demo: Demo) -> None:
    sealed_before = set(query(demo.home, "SELECT name_romanized FROM cases_person"))
    old = printed_accounts(demo.output)
    old_shares = printed_shares(demo.output)
    result = waystation("demo", "--no-serve", home=demo.home)
    assert result.returncode == 0, result.stdout + result.stderr
    new = printed_accounts(result.stdout)
    assert "Deleting the synthetic data of the last run" in result.stdout
    assert query(demo.home, "SELECT count(*) FROM cases_person")[0] == (300,)
    assert query(demo.home, "SELECT count(*) FROM vault_recoverykey")[0] == (1,)
    assert not set(query(demo.home, "SELECT name_romanized FROM cases_person")) & sealed_before, "new data, new keys"
    for username in DEMO_USERNAMES:
        assert new[username][1] != old[username][1]
        assert signs_in(demo.home, username, new[username][1])
        assert not signs_in(demo.home, username, old[username][1])
        assert new[username][2] == old[username][2], "the authenticator secret stays, so the tester's app works"
    shares = printed_shares(result.stdout)
    assert len(shares) == 5 and not set(shares) & set(old_shares), "a new installation, a new recovery key"
    assert "Recovery shares of this demo installation (fictional" in result.stdout
    demo.output = result.stdout  # the passwords and shares now in force, for the tests below


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
            [sys.executable, "-m", "waystation.cli", "serve", "--bind", f"127.0.0.1:{port}", "--threads", "4"],
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


def sign_in(server: Server, username: str, password: str, secret: str) -> dict[str, str]:
    """Sign in through the two sign-in forms (password, then the authenticator's code) as a browser does; returns
    the headers that carry the session onward."""
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
    return {"Cookie": f"sessionid={session.group(1)}"}


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

    assert b"--workers=1" in cmdline and b"--threads=4" in cmdline
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    assert len(children) == 1, "one worker process: the key agent lives in it"

    sessions = {
        username: sign_in(server, username, password, secret)
        for username, (_role, password, secret) in printed_accounts(demo.output).items()
    }

    # A case of the demo's caseworker: the caseworker and the coordinator see the name the data holds, decrypted
    # with the keys their sign-in opened; the analyst is not told the case exists.
    ((code,),) = query(
        demo.home,
        "SELECT p.case_code FROM cases_person p JOIN cases_assignment a ON a.person_id = p.id "
        "JOIN accounts_user u ON u.id = a.worker_id WHERE u.username = 'caseworker' AND a.ended_at IS NULL "
        "ORDER BY p.case_code LIMIT 1",
    )
    name = recovered_name(demo.home, printed_shares(demo.output)[1:4], str(code))
    for username in ("caseworker", "coordinator"):
        response, page = server.request("GET", f"/cases/{code}/", headers=sessions[username])
        assert response.status == 200, f"{username}: the case page answered {response.status}"
        assert html.escape(name) in page, f"{username} does not see the decrypted name"
    response, page = server.request("GET", f"/cases/{code}/", headers=sessions["analyst"])
    assert response.status == 404 and html.escape(name) not in page

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    log = server.log.read_text()
    assert "GET /accounts/login/" in log
    assert CASE_CODE not in log and "next=" not in log, "the access log must not hold query strings or case codes"
    assert f"/cases/{code}/" not in log and "/cases/~/" in log
    assert "password" not in log.lower()


def test_an_idle_connection_is_kept_for_the_next_request(demo: Demo, serve: Callable[..., Server]) -> None:
    """A proxy in front (or a person pausing on a page) sends the next request on the connection it kept: the app
    must not have closed it meanwhile (it did after 5 s: a request sent just then failed)."""
    server = serve(demo.home, WAYSTATION_DEV_HTTP="1")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for pause in (0, 6):
        time.sleep(pause)
        connection.request("GET", "/accounts/login/")
        response = connection.getresponse()
        assert response.status == 200 and b'name="password"' in response.read()
    connection.close()


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
