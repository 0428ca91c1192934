"""``python -m waystation.testing.browser_setup``: Debian's Chromium or a loud failure, never a silent skip."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from waystation.testing import browser_setup


def fake_chromium(path: Path) -> None:
    path.write_text("#!/bin/sh\necho 'Chromium 156.0 built on Debian'\n")
    path.chmod(0o755)


@pytest.fixture
def chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "chromium"
    monkeypatch.setattr(browser_setup, "CHROMIUM", path)
    monkeypatch.setattr(browser_setup.shutil, "which", lambda name: f"/usr/bin/{name}")
    return path


def test_present_chromium_is_enough(chromium: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_chromium(chromium)
    assert browser_setup.main() == 0
    assert "Chromium 156.0" in capsys.readouterr().out


def test_missing_chromium_without_root_fails_loudly(
    chromium: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(browser_setup.os, "geteuid", lambda: 1000)
    assert browser_setup.main() == 1
    err = capsys.readouterr().err
    assert "!!!!!!!!" in err and "/usr/bin/chromium" in err and "apt-get install -y chromium" in err


def test_missing_chromium_as_root_is_installed_from_debian(chromium: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def run(command: list[str], **kwargs: Any) -> Any:
        if command[0] == str(chromium):
            return real_run(command, **kwargs)
        commands.append((command, kwargs["env"]))
        if "install" in command:
            fake_chromium(chromium)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(browser_setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser_setup.subprocess, "run", run)
    assert browser_setup.main() == 0
    assert [c[-1] for c, _env in commands] == ["update", "chromium"]
    assert commands[1][0][-3:] == ["install", "-y", "chromium"]
    assert all(env["DEBIAN_FRONTEND"] == "noninteractive" for _c, env in commands)
    assert not any("playwright" in " ".join(c) for c, _env in commands)


def test_failed_install_fails_loudly(
    chromium: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(command: list[str], **kwargs: Any) -> Any:
        raise subprocess.CalledProcessError(100, command)

    monkeypatch.setattr(browser_setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser_setup.subprocess, "run", run)
    assert browser_setup.main() == 1
    assert "Installing it failed" in capsys.readouterr().err
