"""Production mode (no WAYSTATION_DEV_HTTP): the deploy checks are clean, and debug mode is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WAYSTATION = str(Path(sys.executable).with_name("waystation"))


def production_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYSTATION_", "DJANGO_", "DATABASE_URL"))}
    env.update(WAYSTATION_HOME=str(home), **extra)
    return env


def run(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [WAYSTATION, *args], env=production_env(home, **extra), capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    # the one silenced check is HSTS preload, off on purpose (see settings.py)
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_check_deploy_is_clean_with_hsts_preload_chosen(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "--deploy", "--fail-level", "WARNING", WAYSTATION_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_are_strict(tmp_path: Path) -> None:
    code = (
        "import os, json, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'waystation.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        "'LANGUAGE_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        "'SECURE_HSTS_PRELOAD', 'SILENCED_SYSTEM_CHECKS')}))"
    )
    result = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-c", code], env=production_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SILENCED_SYSTEM_CHECKS": ["security.W021"],
    }


@pytest.mark.parametrize("value", ["1", "true"])
def test_debug_without_dev_http_is_refused(tmp_path: Path, value: str) -> None:
    result = run(tmp_path, "check", WAYSTATION_DEBUG=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured: WAYSTATION_DEBUG=1 is refused in production." in result.stderr
    assert "set WAYSTATION_DEV_HTTP=1" in result.stderr


def test_debug_with_dev_http_is_allowed_for_development(tmp_path: Path) -> None:
    result = run(tmp_path, "check", WAYSTATION_DEBUG="1", WAYSTATION_DEV_HTTP="1")
    assert result.returncode == 0, result.stderr
