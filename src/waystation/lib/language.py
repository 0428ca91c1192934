"""The language a command speaks: ``--language`` or the terminal's locale, as the web pages follow the browser."""

from __future__ import annotations

import os


def language_from_environment(given: str | None) -> str:
    """``en``, ``ko`` or ``zh-hans`` from ``--language`` or the locale variables (``ko_KR.UTF-8`` -> ``ko``)."""
    candidates = [given] if given else []
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        candidates += (os.environ.get(name) or "").split(":")
    for candidate in candidates:
        code = (candidate or "").lower().replace("_", "-")
        if code.startswith("ko"):
            return "ko"
        if code.startswith("zh"):
            return "zh-hans"
        if code.startswith("en"):
            return "en"
    return "en"
