"""Make sure Debian's Chromium and CJK fonts are there for the tests: ``python -m waystation.testing.browser_setup``.

``make test`` runs this first. The browser tests are part of the suite and must never skip silently, so when
Chromium is missing and cannot be installed here, this says so loudly and fails. It never downloads a browser
through Playwright: the tests drive the distribution's Chromium, which gets the distribution's security updates.

The report tests check that the appeal's PDF sets Hangul and Chinese in real CJK fonts, so Debian's
``fonts-noto-cjk`` must be installed too: fontconfig (which WeasyPrint and Chromium use) is asked whether it knows
the Korean and Simplified Chinese Noto Sans CJK families; when it does not, they are installed the same way (as
root), or this fails loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CJK_PACKAGE = "fonts-noto-cjk"
CJK_FAMILIES = ("Noto Sans CJK KR", "Noto Sans CJK SC")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}


def chromium_version() -> str | None:
    """The version Chromium prints, or None when it is missing or does not run."""
    if not CHROMIUM.exists():
        return None
    try:
        result = subprocess.run(  # noqa: S603
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def apt_get(*args: str) -> None:
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("apt-get is not available: this is not a Debian-based system")
    command = [apt, "-o", "DPkg::Lock::Timeout=300", *args]
    print("browser_setup: running " + " ".join(command[:1] + list(args)), flush=True)
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, env={**os.environ, **APT_ENV})  # noqa: S603


def install_chromium() -> None:
    apt_get("update")
    apt_get("install", "-y", "chromium")


def missing_cjk_fonts() -> list[str]:
    """The CJK families fontconfig does not know (all of them when fc-list is missing or fails)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return list(CJK_FAMILIES)
    try:
        with subprocess.Popen(  # noqa: S603
            [fc_list, ":", "family"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        ) as process:
            listed, _err = process.communicate(timeout=60)
    except (OSError, subprocess.SubprocessError):
        return list(CJK_FAMILIES)
    if process.returncode != 0:
        return list(CJK_FAMILIES)
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    return [family for family in CJK_FAMILIES if family not in families]


def install_cjk_fonts() -> None:
    apt_get("update")
    apt_get("install", "-y", CJK_PACKAGE)


def fail_fonts(reason: str) -> int:
    bar = "!" * 78
    print(
        f"\n{bar}\n"
        f"!! The report tests need Debian's {CJK_PACKAGE} ({', '.join(CJK_FAMILIES)}), and it is not there.\n"
        f"!! {reason}\n"
        f"!! Install it as root:  apt-get update && apt-get install -y {CJK_PACKAGE}\n"
        f"{bar}\n",
        file=sys.stderr,
        flush=True,
    )
    return 1


def ensure_cjk_fonts() -> int:
    missing = missing_cjk_fonts()
    if not missing:
        print(f"browser_setup: CJK fonts {', '.join(CJK_FAMILIES)} installed", flush=True)
        return 0
    if os.geteuid() != 0:
        return fail_fonts(f"Missing: {', '.join(missing)}. This user is not root, so they cannot be installed here.")
    try:
        install_cjk_fonts()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        return fail_fonts(f"Installing them failed: {exc}")
    missing = missing_cjk_fonts()
    if missing:
        return fail_fonts(f"apt-get finished, but fontconfig still lacks {', '.join(missing)}.")
    print(f"browser_setup: installed {CJK_PACKAGE}", flush=True)
    return 0


def fail(reason: str) -> int:
    bar = "!" * 78
    print(
        f"\n{bar}\n"
        "!! The browser tests need Debian's Chromium at /usr/bin/chromium, and it is not there.\n"
        f"!! {reason}\n"
        "!! Install it as root:  apt-get update && apt-get install -y chromium\n"
        "!! (Never `playwright install`: the tests use the distribution's Chromium.)\n"
        f"{bar}\n",
        file=sys.stderr,
        flush=True,
    )
    return 1


def main() -> int:
    return ensure_chromium() or ensure_cjk_fonts()


def ensure_chromium() -> int:
    version = chromium_version()
    if version:
        print(f"browser_setup: {version} at {CHROMIUM}", flush=True)
        return 0
    if os.geteuid() != 0:
        return fail("This user is not root, so it cannot be installed from here.")
    try:
        install_chromium()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        return fail(f"Installing it failed: {exc}")
    version = chromium_version()
    if not version:
        return fail("apt-get finished, but /usr/bin/chromium still does not run.")
    print(f"browser_setup: installed {version} at {CHROMIUM}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
