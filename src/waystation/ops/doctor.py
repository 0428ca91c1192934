"""What ``waystation doctor`` checks: a deployment's settings, TLS, data folder, database, vault, backups, audit trail.

Each check returns findings: PASS, WARN or FAIL with one line saying what is wrong and what to do. The checks only
read: they change nothing, and they never print a secret (a passphrase is used, never shown; a backup is
authenticated and parsed in memory, never restored).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from waystation.audit.checkpoint import CheckpointError, installation_verifier, key_path
from waystation.audit.verify import verify_log
from waystation.interop.backup import (
    MAGIC,
    BackupError,
    check_schema,
    parse_payload,
    read_backup_file,
    read_header,
    unseal,
)

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
DEFAULT_MAX_AGE_HOURS = 26  # a daily backup, with slack for the timer's own drift

# Django's deployment checks whose warning means the deployment is not safe to use (the others are advice).
SERIOUS_DEPLOY_CHECKS = frozenset(
    {
        "security.W004",  # no HSTS
        "security.W008",  # no redirect to HTTPS
        "security.W009",  # a weak SECRET_KEY
        "security.W012",  # session cookie not Secure
        "security.W016",  # CSRF cookie not Secure
        "security.W018",  # DEBUG on
        "security.W020",  # no ALLOWED_HOSTS
    }
)


@dataclass(frozen=True)
class Finding:
    check: str  # a short name: settings, tls, data_folder, database, vault, backups, backup_opens, audit_chain, ...
    status: str  # PASS, WARN or FAIL
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    backups: Path | None = None  # the folder the scheduled backups go to
    max_age: dt.timedelta = dt.timedelta(hours=DEFAULT_MAX_AGE_HOURS)
    passphrase: str | None = field(default=None, repr=False)  # to authenticate the newest backup; never printed
    url: str | None = None  # the public address, to check TLS and headers as a browser gets them
    ca_file: str | None = None  # a private CA's certificate for that check (default: the system's)


def run_checks(options: Options) -> list[Finding]:
    found = [*check_settings(), *check_tls(), *check_data_folder(Path(settings.HOME))]
    if options.url:
        found += check_public_address(options.url, ca_file=options.ca_file)
    database = check_database()
    found += database
    if database[-1].status == FAIL:
        skipped = _("Not checked: the database is not ready.")
        return found + [Finding(name, WARN, skipped) for name in ("vault", "audit_chain")]
    found += [*check_vault(), *check_shred_ledger(), *check_backups(options), *check_audit_chain()]
    found += check_signing_key()
    return found


# --- settings and TLS ------------------------------------------------------------------------------------------------


def check_settings() -> list[Finding]:
    """Django's own deployment checks (``check --deploy``), and the allowed host names."""
    messages = [
        m for m in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security]) if not m.is_silenced()
    ]
    found = []
    for message in messages:
        serious = message.level >= checks.ERROR or message.id in SERIOUS_DEPLOY_CHECKS
        found.append(
            Finding(
                "settings",
                FAIL if serious else WARN,
                _("Django's deployment check %(id)s: %(message)s") % {"id": message.id, "message": message.msg},
            )
        )
    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        found.append(
            Finding(
                "settings",
                FAIL,
                _("WAYSTATION_ALLOWED_HOSTS holds “*”: any host name is accepted. Name the host the proxy forwards."),
            )
        )
    elif hosts and set(hosts) <= {"127.0.0.1", "localhost", "[::1]", "testserver"}:
        found.append(
            Finding(
                "settings",
                WARN,
                _("WAYSTATION_ALLOWED_HOSTS names only this machine: set it to the host name the proxy forwards."),
            )
        )
    if not found:
        found.append(
            Finding(
                "settings",
                PASS,
                _("Django's deployment checks pass: debug off, a strong secret key, secure cookies, HSTS."),
            )
        )
    return found


def check_tls() -> list[Finding]:
    if settings.DEV_HTTP:
        return [
            Finding(
                "tls",
                FAIL,
                _(
                    "WAYSTATION_DEV_HTTP=1 is set: plain HTTP, cookies without Secure, no HSTS. It is for a "
                    "development machine only: unset it."
                ),
            )
        ]
    if not settings.SECURE_PROXY_SSL_HEADER:
        return [
            Finding(
                "tls",
                FAIL,
                _(
                    "WAYSTATION_BEHIND_PROXY is not set: `waystation serve` speaks plain HTTP, so put Caddy or nginx "
                    "with TLS in front of it and set WAYSTATION_BEHIND_PROXY=1 (docs/deploy.md)."
                ),
            )
        ]
    if not settings.SECURE_SSL_REDIRECT:
        return [
            Finding(
                "tls",
                WARN,
                _("WAYSTATION_SSL_REDIRECT is off: plain HTTP requests are answered instead of redirected."),
            )
        ]
    return [
        Finding(
            "tls",
            PASS,
            _("Behind a TLS proxy: plain HTTP is redirected to HTTPS, cookies are Secure, HSTS is sent."),
        )
    ]


YEAR_SECONDS = 365 * 24 * 3600
SECURITY_HEADERS = ("Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options")


def _hsts_seconds(value: str) -> int:
    for part in value.split(";"):
        name, _sep, number = part.strip().partition("=")
        if name.lower() == "max-age" and number.strip().isdigit():
            return int(number)
    return 0


def check_public_address(url: str, *, ca_file: str | None = None, timeout: float = 15) -> list[Finding]:
    """The sign-in page fetched from the public address, as a browser would: over TLS with a certificate the system
    (or ``ca_file``) trusts, with the security headers the app sends still there after the proxy."""
    if urllib.parse.urlsplit(url).scheme != "https":
        return [
            Finding(
                "public_address",
                FAIL,
                _("%(url)s is not an https:// address: give the address users open.") % {"url": url},
            )
        ]
    page = urllib.parse.urljoin(url, "/accounts/login/")
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(page, timeout=timeout, context=context) as response:  # noqa: S310 - https only
            headers, final = response.headers, response.geturl()
    except urllib.error.HTTPError as exc:  # an error page still shows the headers
        headers, final = exc.headers, exc.geturl()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return [
            Finding(
                "public_address",
                FAIL,
                _("%(url)s cannot be reached over verified TLS: %(reason)s") % {"url": page, "reason": reason},
            )
        ]
    missing = [name for name in SECURITY_HEADERS if not headers.get(name)]
    if headers.get("Strict-Transport-Security") and _hsts_seconds(headers["Strict-Transport-Security"]) < YEAR_SECONDS:
        missing.append("Strict-Transport-Security max-age ≥ 1 year")
    if urllib.parse.urlsplit(final).scheme != "https" or missing:
        return [
            Finding(
                "public_address",
                FAIL,
                _("%(url)s answers without %(headers)s: check that the proxy passes the app's headers on.")
                % {"url": final, "headers": ", ".join(missing) or "https"},
            )
        ]
    return [
        Finding(
            "public_address",
            PASS,
            _("%(url)s answers over verified TLS with HSTS, CSP and nosniff.") % {"url": page},
        )
    ]


# --- the data folder -------------------------------------------------------------------------------------------------


def _open_to_others(path: Path) -> bool:
    return bool(path.lstat().st_mode & 0o077)


def _walk(home: Path, skip: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(home):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in [*dirs, *files]:
            yield here / name


def check_data_folder(home: Path) -> list[Finding]:
    """The folder 0700, everything in it owner-only (the static files excepted: they are public)."""
    if not home.is_dir():
        return [Finding("data_folder", FAIL, _("The data folder %(path)s does not exist.") % {"path": home})]
    if _open_to_others(home):
        return [
            Finding(
                "data_folder",
                FAIL,
                _("The data folder %(path)s is open to other users (mode %(mode)s): run chmod 700 %(path)s.")
                % {"path": home, "mode": oct(home.stat().st_mode & 0o777)},
            )
        ]
    static = Path(settings.STATIC_ROOT).resolve()
    exposed = sorted(p.relative_to(home).as_posix() for p in _walk(home, static) if _open_to_others(p))
    if exposed:
        names = ", ".join(exposed[:5]) + (", ..." if len(exposed) > 5 else "")
        return [
            Finding(
                "data_folder",
                WARN,
                _("Files in the data folder open to other users: %(count)s (%(names)s). Run chmod -R go-rwx %(path)s.")
                % {"count": len(exposed), "names": names, "path": home},
            )
        ]
    return [
        Finding("data_folder", PASS, _("The data folder %(path)s and its files are the owner's only.") % {"path": home})
    ]


# --- database, vault, audit ------------------------------------------------------------------------------------------


def check_database() -> list[Finding]:
    name = str(connection.settings_dict["NAME"])
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()  # type: ignore[attr-defined]
    if connection.vendor == "sqlite" and not in_memory and not Path(name).is_file():  # connecting would make one
        return [
            Finding(
                "database",
                FAIL,
                _("There is no database file %(path)s: run `waystation migrate`.") % {"path": name},
            )
        ]
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            Finding("database", FAIL, _("The database does not answer: %(error)s") % {"error": first_line}),
        ]
    if plan:
        return [
            Finding(
                "database",
                FAIL,
                _("Migrations not applied: %(count)s. Run `waystation migrate`.") % {"count": len(plan)},
            )
        ]
    return [
        Finding(
            "database",
            PASS,
            _("The database answers (%(vendor)s) and every migration is applied.") % {"vendor": connection.vendor},
        )
    ]


def check_vault() -> list[Finding]:
    from waystation.vault.management.commands.vault import _cases_without_recovery_wrap
    from waystation.vault.models import RecoveryKey

    key = RecoveryKey.objects.order_by("-pk").first()
    if key is None:
        return [
            Finding(
                "vault",
                FAIL,
                _(
                    "The vault is not set up: no recovery key. Run `waystation vault init` and carry the shares out "
                    "of the country (docs/deploy.md)."
                ),
            )
        ]
    missing = _cases_without_recovery_wrap()
    if missing:
        return [
            Finding(
                "vault",
                WARN,
                _("Cases without a recovery wrap: %(count)s. If their holders lose their passwords, they are lost.")
                % {"count": missing},
            )
        ]
    return [
        Finding(
            "vault",
            PASS,
            _("The vault is set up: any %(threshold)s of its %(shares)s recovery shares rebuild its key.")
            % {"threshold": key.threshold, "shares": key.shares},
        )
    ]


def check_shred_ledger() -> list[Finding]:
    """The ledger file holds every shred the database records: a restore of an older backup here reads the file, and
    a case missing from it would come back (a process killed between a shred's commit and its ledger line)."""
    from waystation.vault import shred
    from waystation.vault.crypto import VaultError
    from waystation.vault.models import ShredRecord

    try:
        in_file = shred.read_ledger()
    except VaultError as exc:
        return [Finding("shred_ledger", FAIL, str(exc))]
    missing = ShredRecord.objects.exclude(person_id__in=list(in_file)).count()
    if missing:
        return [
            Finding(
                "shred_ledger",
                FAIL,
                _(
                    "Shredded cases missing from the ledger file %(path)s: %(count)s (`waystation vault ledger` marks "
                    "them “database only”). Restoring an older backup here would bring them back: add their lines "
                    "to the file."
                )
                % {"path": shred.ledger_path(), "count": missing},
            )
        ]
    return [
        Finding(
            "shred_ledger",
            PASS,
            _("The shred ledger file holds every shredded case (%(count)s).") % {"count": len(in_file)},
        )
    ]


def check_audit_chain() -> list[Finding]:
    report = verify_log()
    if report.broken is not None:
        return [
            Finding(
                "audit_chain",
                FAIL,
                _("The audit trail does not verify: %(problem)s Run `waystation audit verify` for details.")
                % {"problem": report.broken.message},
            )
        ]
    return [
        Finding(
            "audit_chain",
            PASS,
            _("The audit trail verifies: %(count)s events, chain intact.") % {"count": report.size},
        )
    ]


def check_signing_key() -> list[Finding]:
    if not key_path().exists():
        return [
            Finding(
                "checkpoint_key",
                WARN,
                _(
                    "No audit signing key yet: run `waystation audit checkpoint`, and give partners the public key "
                    "that `waystation audit key` prints."
                ),
            )
        ]
    try:
        verifier = installation_verifier(create=False)
    except CheckpointError as exc:
        return [
            Finding(
                "checkpoint_key",
                FAIL,
                _("The audit signing key cannot be used: %(reason)s") % {"reason": exc},
            )
        ]
    return [
        Finding(
            "checkpoint_key",
            PASS,
            _("The audit signing key is present (%(name)s).") % {"name": verifier.name},
        )
    ]


# --- backups ---------------------------------------------------------------------------------------------------------


def backup_files(folder: Path) -> list[Path]:
    """The finished backups in ``folder`` (files that begin with the backup format's magic), newest first."""
    found = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        with path.open("rb") as fh:
            if fh.read(len(MAGIC)) == MAGIC:
                found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_backups(options: Options) -> list[Finding]:
    folder = options.backups
    if folder is None:
        return [
            Finding(
                "backups",
                WARN,
                _("No backup folder given (--backups FOLDER): backups were not checked."),
            )
        ]
    if not folder.is_dir():
        return [Finding("backups", FAIL, _("The backup folder %(path)s does not exist.") % {"path": folder})]
    found: list[Finding] = []
    leftovers = sorted(folder.glob(".*.partial"))
    if leftovers:
        found.append(
            Finding(
                "backups",
                WARN,
                _(
                    "Unfinished backup files (.*.partial) left by interrupted backups in %(path)s: %(count)s. "
                    "Delete them."
                )
                % {"count": len(leftovers), "path": folder},
            )
        )
    files = backup_files(folder)
    if not files:
        return found + [
            Finding(
                "backups",
                FAIL,
                _("There is no backup in %(path)s: schedule `waystation backup` (docs/deploy.md).") % {"path": folder},
            )
        ]
    newest = files[0]
    age = dt.datetime.now(dt.UTC) - dt.datetime.fromtimestamp(newest.stat().st_mtime, dt.UTC)
    hours = round(age.total_seconds() / 3600, 1)
    if age > options.max_age:
        found.append(
            Finding(
                "backups",
                FAIL,
                _(
                    "The newest backup, %(name)s, is %(hours)s hours old (more than %(limit)s): is the backup timer "
                    "running?"
                )
                % {"name": newest.name, "hours": hours, "limit": round(options.max_age.total_seconds() / 3600, 1)},
            )
        )
    elif _open_to_others(newest):
        found.append(
            Finding(
                "backups",
                FAIL,
                _("The newest backup, %(name)s, is readable by other users: run chmod 600 on it.")
                % {"name": newest.name},
            )
        )
    else:
        found.append(
            Finding(
                "backups",
                PASS,
                _("The newest backup, %(name)s, is %(hours)s hours old.") % {"name": newest.name, "hours": hours},
            )
        )
    return found + check_backup_opens(newest, options.passphrase)


def check_backup_opens(path: Path, passphrase: str | None) -> list[Finding]:
    """The newest backup's header read; with the passphrase, the whole file authenticated, its content parsed and
    its schema compared with this installation's. Nothing is restored."""
    try:
        data = read_backup_file(path)
        read_header(data)
        if passphrase is None:
            return [
                Finding(
                    "backup_opens",
                    WARN,
                    _(
                        "The newest backup's header is sound, but it was not opened: give --passphrase-file or "
                        "--ask-passphrase to check that it opens."
                    ),
                )
            ]
        payload = parse_payload(unseal(data, passphrase))
    except BackupError as exc:
        return [
            Finding(
                "backup_opens",
                FAIL,
                _("The newest backup, %(name)s, cannot be restored: %(reason)s") % {"name": path.name, "reason": exc},
            )
        ]
    try:
        check_schema(payload)
    except BackupError:
        return [
            Finding(
                "backup_opens",
                WARN,
                _(
                    "The newest backup opens, but it was made before this installation's last upgrade: only the "
                    "version that made it restores it. Take a new backup now."
                ),
            )
        ]
    rows = sum(len(table.get("rows") or []) for table in payload["tables"] if isinstance(table, dict))
    return [
        Finding(
            "backup_opens",
            PASS,
            _("The newest backup opens with the passphrase, is intact, and fits this installation (%(rows)s rows).")
            % {"rows": rows},
        )
    ]


def summary(found: list[Finding]) -> dict[str, Any]:
    counts = {status: sum(1 for f in found if f.status == status) for status in (PASS, WARN, FAIL)}
    return {"ok": counts[FAIL] == 0, "counts": counts, "checks": [f.as_dict() for f in found]}
