"""``waystation doctor``: every check fails on a deployment broken in its way, and passes on a good one.

The good deployment is a real one, made by the real commands in a child process with production settings (no
WAYSTATION_DEV_HTTP, behind a proxy, umask 077 as the systemd unit of docs/deploy.md sets it). The broken ones are
made in-process, one fault each, and the doctor is run as a user runs it (``call_command``), reading its JSON.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from waystation.accounts.models import User
from waystation.audit import guard
from waystation.audit.checkpoint import key_path, signing_key
from waystation.audit.models import AuditEvent
from waystation.audit.services import audit_record
from waystation.cases.models import Person
from waystation.interop.backup import PAYLOAD_FORMAT, create_backup, seal
from waystation.vault.shred import ledger_path, shred

PASSPHRASE = "fictional-backup-passphrase-41"
WAYSTATION = str(Path(sys.executable).with_name("waystation"))
PRODUCTION = {  # the settings a production process has (settings.py without WAYSTATION_DEV_HTTP, behind a proxy)
    "DEV_HTTP": False,
    "DEBUG": False,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SILENCED_SYSTEM_CHECKS": ["security.W021"],
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "ALLOWED_HOSTS": ["cases.example.org"],
}


def doctor(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = 0
    try:
        call_command("doctor", "--json", "--language", "en", *args, stdout=out, stderr=io.StringIO())
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(out.getvalue())


def statuses(result: dict[str, Any], check: str) -> list[str]:
    return [f["status"] for f in result["checks"] if f["check"] == check]


def messages(result: dict[str, Any], check: str) -> str:
    return " ".join(f["message"] for f in result["checks"] if f["check"] == check)


# --- a good deployment, made by the real commands --------------------------------------------------------------------


def production_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYSTATION_") and k != "DATABASE_URL"}
    return env | {
        "WAYSTATION_HOME": str(home),
        "WAYSTATION_ALLOWED_HOSTS": "cases.example.org",
        "WAYSTATION_BEHIND_PROXY": "1",
        "LANGUAGE": "en",
    }


def waystation(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [WAYSTATION, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o077),
    )


def test_a_good_deployment_passes_every_check(tmp_path: Path) -> None:
    home, backups, secret = tmp_path / "home", tmp_path / "backups", tmp_path / "passphrase"
    home.mkdir(mode=0o700)
    backups.mkdir(mode=0o700)
    secret.write_text(PASSPHRASE + "\n")
    env = production_env(home)
    for step in (
        ("migrate", "--no-input", "-v", "0"),
        ("vault", "init", "--json"),
        ("audit", "checkpoint", "--out", str(tmp_path / "checkpoint")),
        ("backup", "--out", str(backups / "waystation.backup"), "--passphrase-file", str(secret)),
    ):
        done = waystation(env, *step)
        assert done.returncode == 0, (step, done.stderr[-2000:])

    run = waystation(env, "doctor", "--backups", str(backups), "--passphrase-file", str(secret), "--json")

    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert [f for f in result["checks"] if f["status"] != "PASS"] == []
    assert {f["check"] for f in result["checks"]} == {
        "settings",
        "tls",
        "data_folder",
        "database",
        "vault",
        "shred_ledger",
        "backups",
        "backup_opens",
        "audit_chain",
        "checkpoint_key",
    }
    assert PASSPHRASE not in run.stdout + run.stderr


def test_an_unreachable_database_fails_and_the_rest_is_not_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    env = production_env(home) | {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/waystation"}

    run = waystation(env, "doctor", "--json")

    assert run.returncode == 1
    result = json.loads(run.stdout)
    assert statuses(result, "database") == ["FAIL"]
    assert "does not answer" in messages(result, "database")
    assert statuses(result, "vault") == statuses(result, "audit_chain") == ["WARN"]


# --- settings and TLS ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_development_settings_fail_settings_and_tls() -> None:
    code, result = doctor()  # the tests run with WAYSTATION_DEV_HTTP=1
    assert code == 1
    failed = messages(result, "settings")
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in failed
    assert statuses(result, "tls") == ["FAIL"] and "WAYSTATION_DEV_HTTP" in messages(result, "tls")


@pytest.mark.django_db
def test_production_settings_pass() -> None:
    with override_settings(**PRODUCTION):
        _code, result = doctor()
    assert statuses(result, "settings") == ["PASS"]
    assert statuses(result, "tls") == ["PASS"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"DEBUG": True}, "security.W018"),
        ({"SECRET_KEY": "short-and-guessable"}, "security.W009"),
        ({"ALLOWED_HOSTS": ["*"]}, "“*”"),
        ({"SESSION_COOKIE_SECURE": False}, "security.W012"),
        ({"SECURE_HSTS_SECONDS": 0}, "security.W004"),
    ],
)
def test_each_unsafe_setting_fails(change: dict[str, Any], expected: str) -> None:
    with override_settings(**(PRODUCTION | change)):
        code, result = doctor()
    assert code == 1
    assert "FAIL" in statuses(result, "settings") and expected in messages(result, "settings")


@pytest.mark.django_db
def test_no_proxy_in_front_fails_tls() -> None:
    with override_settings(**(PRODUCTION | {"SECURE_PROXY_SSL_HEADER": None})):
        code, result = doctor()
    assert code == 1 and statuses(result, "tls") == ["FAIL"]
    assert "WAYSTATION_BEHIND_PROXY" in messages(result, "tls")


# --- the data folder -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_data_folder_permissions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "secret_key").write_text("x")
    os.chmod(home / "secret_key", 0o600)
    with override_settings(HOME=home, STATIC_ROOT=home / "static"):
        assert statuses(doctor()[1], "data_folder") == ["FAIL"]  # the folder itself is open
        home.chmod(0o700)
        os.chmod(home / "secret_key", 0o644)
        _code, result = doctor()
        assert statuses(result, "data_folder") == ["WARN"] and "secret_key" in messages(result, "data_folder")
        os.chmod(home / "secret_key", 0o600)
        (home / "static").mkdir(mode=0o755)  # public assets: not reported
        assert statuses(doctor()[1], "data_folder") == ["PASS"]
    missing = tmp_path / "nowhere"
    with override_settings(HOME=missing):
        assert statuses(doctor()[1], "data_folder") == ["FAIL"]


# --- database, vault, audit ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_migration_fails_the_database_check() -> None:
    assert statuses(doctor()[1], "database") == ["PASS"]
    ((app, latest),) = MigrationLoader(connection).graph.leaf_nodes("cases")  # the newest: a middle one would not show
    MigrationRecorder(connection).migration_qs.filter(app=app, name=latest).delete()
    code, result = doctor()
    assert code == 1 and statuses(result, "database") == ["FAIL"]
    assert "Migrations not applied: 1." in messages(result, "database")


@pytest.mark.django_db
def test_vault_without_recovery_key_fails() -> None:
    code, result = doctor()
    assert code == 1 and statuses(result, "vault") == ["FAIL"]
    assert "waystation vault init" in messages(result, "vault")


def test_vault_set_up_passes(coordinator: User) -> None:
    assert statuses(doctor()[1], "vault") == ["PASS"]


def test_a_shred_missing_from_the_ledger_file_fails(person_at_a: Person, coordinator: User) -> None:
    assert statuses(doctor()[1], "shred_ledger") == ["PASS"]
    shred(actor=coordinator, person_id=person_at_a.pk)
    assert statuses(doctor()[1], "shred_ledger") == ["PASS"]
    ledger_path().write_text("")  # as if the process died between the shred's commit and its ledger line
    code, result = doctor()
    assert code == 1 and statuses(result, "shred_ledger") == ["FAIL"]
    assert "Shredded cases missing from the ledger file" in messages(result, "shred_ledger")
    ledger_path().write_text("not a ledger line\n")
    assert statuses(doctor()[1], "shred_ledger") == ["FAIL"]


@pytest.mark.django_db
def test_a_changed_audit_event_fails_the_chain() -> None:
    for i in range(3):
        audit_record(actor=None, action="test.event", details={"i": i})
    assert statuses(doctor()[1], "audit_chain") == ["PASS"]
    event = AuditEvent.objects.order_by("seq")[1]
    with connection.cursor() as cursor:
        for sql in guard.drop_statements(connection.vendor):
            cursor.execute(sql)
        cursor.execute("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", event.pk])
        for sql in guard.install_statements(connection.vendor):
            cursor.execute(sql)
    code, result = doctor()
    assert code == 1 and statuses(result, "audit_chain") == ["FAIL"]
    assert f"#{event.seq}" in messages(result, "audit_chain")


@pytest.mark.django_db
def test_signing_key_missing_damaged_present(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    with override_settings(HOME=home):
        assert statuses(doctor()[1], "checkpoint_key") == ["WARN"]
        key_path().write_text("not a key")
        assert statuses(doctor()[1], "checkpoint_key") == ["FAIL"]
        key_path().unlink()
        signing_key()
        assert statuses(doctor()[1], "checkpoint_key") == ["PASS"]


# --- backups ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


@pytest.mark.django_db
def test_backups_none_given_missing_empty_old(backups: Path, tmp_path: Path) -> None:
    assert statuses(doctor()[1], "backups") == ["WARN"]  # no folder given: said, not hidden
    assert statuses(doctor("--backups", str(tmp_path / "nowhere"))[1], "backups") == ["FAIL"]
    (backups / "notes.txt").write_text("not a backup")
    code, result = doctor("--backups", str(backups))
    assert code == 1 and statuses(result, "backups") == ["FAIL"] and "There is no backup" in messages(result, "backups")

    create_backup(backups / "old.backup", PASSPHRASE)
    three_days_ago = time.time() - 3 * 86400
    os.utime(backups / "old.backup", (three_days_ago, three_days_ago))
    code, result = doctor("--backups", str(backups))
    assert code == 1 and "FAIL" in statuses(result, "backups") and "72.0 hours old" in messages(result, "backups")
    assert statuses(doctor("--backups", str(backups), "--max-age", "80")[1], "backups") == ["PASS"]


@pytest.mark.django_db
def test_backup_readable_by_others_or_left_half_written(backups: Path) -> None:
    create_backup(backups / "b.backup", PASSPHRASE)
    assert statuses(doctor("--backups", str(backups))[1], "backups") == ["PASS"]
    (backups / ".b.backup.x1y2.partial").write_bytes(b"WAYSTATION-BACKUP half")
    assert statuses(doctor("--backups", str(backups))[1], "backups") == ["WARN", "PASS"]
    os.chmod(backups / "b.backup", 0o644)
    assert "FAIL" in statuses(doctor("--backups", str(backups))[1], "backups")


@pytest.mark.django_db
def test_the_newest_backup_opens_only_with_its_passphrase(backups: Path, passphrase_file: Path, tmp_path: Path) -> None:
    create_backup(backups / "b.backup", PASSPHRASE)
    assert statuses(doctor("--backups", str(backups))[1], "backup_opens") == ["WARN"]  # not authenticated
    code, result = doctor("--backups", str(backups), "--passphrase-file", str(passphrase_file))
    assert statuses(result, "backup_opens") == ["PASS"]

    wrong = tmp_path / "wrong"
    wrong.write_text("another-passphrase-entirely\n")
    code, result = doctor("--backups", str(backups), "--passphrase-file", str(wrong))
    assert code == 1 and statuses(result, "backup_opens") == ["FAIL"]
    assert "passphrase is wrong" in messages(result, "backup_opens")
    assert "another-passphrase-entirely" not in json.dumps(result)

    data = bytearray((backups / "b.backup").read_bytes())
    data[-20] ^= 0x01
    (backups / "b.backup").write_bytes(bytes(data))
    code, result = doctor("--backups", str(backups), "--passphrase-file", str(passphrase_file))
    assert code == 1 and statuses(result, "backup_opens") == ["FAIL"]
    assert PASSPHRASE not in json.dumps(result)


@pytest.mark.django_db
def test_a_backup_from_another_schema_is_flagged(backups: Path, passphrase_file: Path) -> None:
    payload = {"format": PAYLOAD_FORMAT, "schema": {"cases": ["0001_initial"]}, "tables": []}
    (backups / "old-version.backup").write_bytes(seal(json.dumps(payload).encode(), PASSPHRASE))
    _code, result = doctor("--backups", str(backups), "--passphrase-file", str(passphrase_file))
    assert statuses(result, "backup_opens") == ["WARN"] and "upgrade" in messages(result, "backup_opens")


@pytest.mark.django_db
def test_text_output_in_korean() -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("doctor", "--language", "ko", stdout=out)
    text = out.getvalue()
    assert "FAIL  tls:" in text
    assert "WAYSTATION_DEV_HTTP=1" in text and "plain HTTP" not in text


# --- the public address ----------------------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key, made now (the test's own private CA, trusted with --ca-file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path_ = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path_.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path_


@contextmanager
def https_server(folder: Path, headers: dict[str, str]) -> Iterator[str]:
    """A local HTTPS server answering every GET with ``headers``; its address."""
    cert, key = self_signed(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"<html>sign in</html>")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


GOOD_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
}


@pytest.mark.django_db
def test_public_address_tls_and_headers(tmp_path: Path) -> None:
    with https_server(tmp_path, GOOD_HEADERS) as url:
        assert statuses(doctor("--url", url, "--ca-file", str(tmp_path / "cert.pem"))[1], "public_address") == ["PASS"]
        _code, untrusted = doctor("--url", url)  # a certificate the system does not trust
        assert statuses(untrusted, "public_address") == ["FAIL"] and "verified TLS" in messages(
            untrusted, "public_address"
        )
    stripped = {k: v for k, v in GOOD_HEADERS.items() if k != "Content-Security-Policy"}
    with https_server(tmp_path, stripped | {"Strict-Transport-Security": "max-age=300"}) as url:
        code, result = doctor("--url", url, "--ca-file", str(tmp_path / "cert.pem"))
    assert code == 1 and statuses(result, "public_address") == ["FAIL"]
    assert "Content-Security-Policy" in messages(result, "public_address")
    assert "max-age" in messages(result, "public_address")
    assert statuses(doctor("--url", "http://localhost:1/")[1], "public_address") == ["FAIL"]
