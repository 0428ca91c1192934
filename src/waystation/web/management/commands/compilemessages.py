"""``waystation compilemessages``: the translations (.po) to the files Django reads (.mo), with Babel.

This replaces Django's command of the same name (an app's command comes before Django's own), so that GNU gettext
is never needed to set up, test or run Waystation: only Python. Every ``*.po`` under ``settings.LOCALE_PATHS`` is
read, checked and compiled next to itself. A broken catalogue stops the command with the file and line at fault;
an entry whose placeholders do not match its source text (``%(code)s``, ``%s``) is refused too, because it would
fail when shown. A ``.mo`` is rewritten only when its content changes, so running the command again does nothing.

Refreshing the catalogues themselves (extracting new strings) is a maintainer's job that does need GNU gettext:
``make messages``, see ``src/waystation/locale/README.md``.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Python %-placeholders as Django uses them: named (%(code)s), positional (%s, %d), and the escaped percent (%%).
_PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<kind>[diouxXeEfFgGcrsa%])"
)


def placeholders(text: str) -> Counter[str]:
    """The placeholders of a message, as a multiset: ``{'%(code)s': 1, '%s': 2, '%%': 1}``."""
    return Counter(match.group(0) for match in _PLACEHOLDER.finditer(text))


def _texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def placeholder_problems(message: Message) -> list[str]:
    """What is wrong with a translated message's placeholders; empty when nothing is.

    A translation must use exactly the named placeholders of its source, and the same positional ones in the same
    number. For a plural message, a form may drop the count (Korean and Chinese have one form, which stands for
    the singular and the plural source texts alike), but it may not bring in a name neither of them has.
    """
    if not message.id or "python-format" not in message.flags:
        return []  # as msgfmt --check: only a format string has placeholders (a lone "80%" is just text)
    sources = [placeholders(text) for text in _texts(message.id)]
    allowed = set().union(*sources)
    problems = []
    for translated in _texts(message.string):
        if not translated:
            continue
        found = placeholders(translated)
        unknown = sorted(set(found) - allowed)
        if unknown:
            problems.append(f"placeholder {', '.join(unknown)} is not in the source text")
        if len(sources) == 1:
            missing = sorted(set(sources[0]) - set(found))
            if missing:
                problems.append(f"placeholder {', '.join(missing)} of the source text is missing")
            positional = {key: n for key, n in sources[0].items() if "(" not in key}
            if positional != {key: n for key, n in found.items() if "(" not in key}:
                problems.append("the positional placeholders (%s, %d, %%) differ from the source text")
        else:
            required = set.intersection(*(set(source) for source in sources))  # in every form of the source
            missing = sorted(key for key in required - set(found) if "(" in key)
            if missing:
                problems.append(f"placeholder {', '.join(missing)} of the source text is missing")
    return problems


# Babel's reader forgives what msgfmt would refuse (an unclosed quote loses a character silently), so every line is
# checked first: a comment, a blank line, or a keyword and/or one complete C string.
_PO_LINE = re.compile(
    r"^\s*(?:(?P<keyword>msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?"
    r'"(?P<text>(?:[^"\\]|\\[\\"abfnrtv?\'0-7]|\\x[0-9a-fA-F]+)*)"\s*$'
)


def check_syntax(po: Path, text: str) -> None:
    """Refuse lines that are not PO syntax, and a msgid given twice (msgfmt refuses both too)."""
    seen: dict[tuple[str | None, str], int] = {}
    key: list[str | None] = [None, None]  # the context and msgid being read
    current: str | None = None  # the keyword whose string continues on the next line
    start = 0

    def finish() -> None:
        if key[1] is not None:
            entry = (key[0], key[1])
            if entry in seen:
                raise CommandError(f"{po}:{start}: msgid {key[1]!r} is given twice (first on line {seen[entry]})")
            seen[entry] = start
        key[0], key[1] = None, None

    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _PO_LINE.match(line)
        if not match:
            raise CommandError(f"{po}:{lineno}: this translation file is broken: not PO syntax: {stripped[:60]!r}")
        keyword = match.group("keyword")
        if keyword is None and current is None:
            raise CommandError(f"{po}:{lineno}: this translation file is broken: a string without msgid or msgstr")
        if keyword in ("msgctxt", "msgid") and current not in ("msgctxt",):
            finish()
            start = lineno
        if keyword is not None:
            current = keyword
            if keyword in ("msgctxt", "msgid"):
                key[0 if keyword == "msgctxt" else 1] = match.group("text")
        elif current in ("msgctxt", "msgid"):
            index = 0 if current == "msgctxt" else 1
            key[index] = (key[index] or "") + match.group("text")
    finish()


@dataclass(frozen=True)
class Compiled:
    po: Path
    mo: Path
    written: bool
    translated: int
    total: int


def read_catalogue(po: Path, *, use_fuzzy: bool = False) -> Catalog:
    """Read and check one .po file; a CommandError names the file and line of the first problem.

    Fuzzy entries are left out of the .mo (unless ``use_fuzzy``), so their placeholders are not held against it.
    """
    try:
        raw = po.read_bytes()
        check_syntax(po, raw.decode("utf-8"))
        catalog = read_po(io.BytesIO(raw), abort_invalid=True)
    except PoFileError as exc:
        reason = str(exc).rsplit(" on ", 1)[0]  # Babel appends its zero-based line number
        raise CommandError(f"{po}:{exc.lineno + 1}: this translation file is broken: {reason}") from exc
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise CommandError(f"{po}: this translation file cannot be read: {exc}") from exc
    for message in catalog:
        if message.fuzzy and not use_fuzzy:
            continue
        for problem in placeholder_problems(message):
            line = message.lineno or 0
            raise CommandError(f"{po}:{line}: msgid {message.id!r}: {problem}")
    return catalog


def compile_catalogue(po: Path, *, use_fuzzy: bool = False) -> Compiled:
    catalog = read_catalogue(po, use_fuzzy=use_fuzzy)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=use_fuzzy)
    content = buffer.getvalue()
    mo = po.with_suffix(".mo")
    written = False
    if not mo.exists() or mo.read_bytes() != content:
        # Write beside the target and rename: a test run or a server reading the .mo never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".tmp-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written = True
    messages = [m for m in catalog if m.id]
    translated = [m for m in messages if all(_texts(m.string)) and (use_fuzzy or not m.fuzzy)]
    return Compiled(po=po, mo=mo, written=written, translated=len(translated), total=len(messages))


def catalogue_files(locale_paths: Iterable[Path | str], *, locales: list[str], exclude: list[str]) -> list[Path]:
    """Every ``<locale path>/<language>/LC_MESSAGES/*.po``, in a stable order."""
    found = []
    for base in locale_paths:
        for po in sorted(Path(base).glob("*/LC_MESSAGES/*.po")):
            language = po.parent.parent.name
            if (locales and language not in locales) or language in exclude:
                continue
            found.append(po)
    return found


class Command(BaseCommand):
    help = (
        "Compiles the translation catalogues (.po) of Waystation into .mo files with Babel: no GNU gettext needed. "
        "Fails on a broken catalogue; rewrites a .mo only when it changes."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--locale", "-l", action="append", default=[], help="Compile only this language (repeatable), e.g. ko."
        )
        parser.add_argument(
            "--exclude", "-x", action="append", default=[], help="Do not compile this language (repeatable)."
        )
        parser.add_argument(
            "--use-fuzzy", "-f", action="store_true", help="Include translations marked fuzzy (off by default)."
        )
        parser.add_argument(
            "--ignore", "-i", action="append", default=[], help="Accepted for compatibility with Django's command."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        locale_paths = [Path(p) for p in settings.LOCALE_PATHS]
        files = catalogue_files(locale_paths, locales=options["locale"], exclude=options["exclude"])
        if not files:
            raise CommandError(
                "No translation catalogue (.po) found under " + ", ".join(str(p) for p in locale_paths) + "."
            )
        for po in files:
            result = compile_catalogue(po, use_fuzzy=options["use_fuzzy"])
            if options["verbosity"] >= 1:
                language = po.parent.parent.name
                state = "compiled" if result.written else "up to date"
                self.stdout.write(f"{language}: {result.translated}/{result.total} messages translated, {state}")
            if options["verbosity"] >= 2:
                self.stdout.write(f"  {result.po} -> {result.mo}")
