"""Korean and Chinese: every string is translated, the catalogues follow the code, and pages switch language.

The catalogues are checked with Babel, and the strings of the code are extracted with Babel too (templates through
Django's own ``templatize``, as ``makemessages`` does), so that none of this needs GNU gettext on the machine.
"""

from __future__ import annotations

import gettext
import io
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django import forms
from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.core.signals import setting_changed
from django.test import override_settings
from django.utils import timezone, translation
from django.utils.translation.template import templatize

import waystation
from waystation.accounts.models import User
from waystation.accounts.services import user_set_password
from waystation.network.models import Station
from waystation.web.management.commands.compilemessages import placeholders

PACKAGE_DIR = Path(waystation.__file__).resolve().parent
LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGES = ["ko", "zh_Hans"]  # the folder names; the language codes are "ko" and "zh-hans"
REFRESH_HINT = "run `make messages`, translate the new entries in src/waystation/locale/*/LC_MESSAGES/django.po"


def catalogue(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").open("rb") as fh:
        return read_po(fh, abort_invalid=True)


def texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def where(message: Message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:2]) or f"line {message.lineno}"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues() -> Iterator[None]:
    """This module also runs on its own (``pytest tests/web/test_i18n.py``), without ``make test``'s compile step."""
    call_command("compilemessages", verbosity=0)
    # Forget any catalogue loaded before the .mo files were fresh, as Django's tests do when LOCALE_PATHS changes.
    setting_changed.send(
        sender=settings._wrapped.__class__, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=True
    )
    yield


# --- the catalogues ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_header(language: str) -> None:
    cat = catalogue(language)
    assert str(cat.locale) == language
    assert cat.num_plurals == 1, "Korean and Chinese have one plural form"
    assert cat.charset.lower() == "utf-8"
    assert not cat.fuzzy, "the header is marked fuzzy"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_not_fuzzy(language: str) -> None:
    cat = catalogue(language)
    problems = []
    for message in cat:
        if not message.id:
            continue
        strings = texts(message.string)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r} ({where(message)})")
        elif not strings or not all(s.strip() for s in strings):
            problems.append(f"not translated: {message.id!r} ({where(message)})")
        elif message.pluralizable and len(strings) != cat.num_plurals:
            problems.append(f"{len(strings)} plural forms instead of {cat.num_plurals}: {message.id!r}")
    assert not problems, f"{language}: {len(problems)} problems ({REFRESH_HINT}):\n" + "\n".join(problems)
    assert len([m for m in cat if m.id]) > 100


def expected_placeholders(message: Message) -> Counter[str]:
    """The placeholders a translation must have: those of the msgid, or of the plural msgid for a plural message
    (the single form of Korean and Chinese is used for every number, so it must show the number)."""
    source = texts(message.id)[-1]
    found = placeholders(source) if "python-format" in message.flags else Counter()
    found.update(re.findall(r"\{\w*\}", source))  # str.format fields, in case a string uses format_lazy
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    problems = []
    for message in catalogue(language):
        if not message.id:
            continue
        wanted = expected_placeholders(message)
        for translated in texts(message.string):
            got = placeholders(translated) if "python-format" in message.flags else Counter()
            got.update(re.findall(r"\{\w*\}", translated))
            if got != wanted:
                problems.append(f"{message.id!r}: wants {dict(wanted)}, has {dict(got)} in {translated!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


def test_placeholder_check_catches_a_dropped_placeholder() -> None:
    message = Message(("%(n)s day", "%(n)s days"), ("일",), flags=["python-format"])
    assert expected_placeholders(message) == Counter({"%(n)s": 1})
    assert placeholders("일") != expected_placeholders(message)


# --- the catalogues follow the code --------------------------------------------------------------------------------

# The translation functions of Django, with Babel's keyword specification: (context index, "c"), msgid indices.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
SKIPPED_FOLDERS = {"migrations", "testing", "locale", "static", "__pycache__"}


def _extract(fileobj: io.BufferedIOBase, origin: str) -> Iterator[tuple[tuple[str | None, str], str]]:
    for lineno, funcname, messages, _comments in extract_python(fileobj, KEYWORDS, [], {"encoding": "utf-8"}):
        parts = texts(messages)
        context = parts.pop(0) if funcname.startswith(("pgettext", "npgettext")) else None
        if parts and parts[0]:
            yield (context, parts[0]), f"{origin}:{lineno}"


def strings_in_code(root: Path = PACKAGE_DIR) -> dict[tuple[str | None, str], list[str]]:
    """Every (context, msgid) that ``makemessages`` would extract from the package: .py, .html and .txt files."""
    found: dict[tuple[str | None, str], list[str]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or SKIPPED_FOLDERS & set(relative.parts):
            continue
        if path.suffix == ".py":
            stream: io.BufferedIOBase = io.BytesIO(path.read_bytes())
        elif path.suffix in {".html", ".txt"}:
            # templatize turns {% translate %}, {% blocktranslate %} and _("...") into gettext calls (as for
            # xgettext); each line is unindented so that Python's tokenizer reads the result.
            code = templatize(path.read_text(encoding="utf-8"), origin=str(relative))
            stream = io.BytesIO("\n".join(line.lstrip() for line in code.splitlines()).encode())
        else:
            continue
        for key, location in _extract(stream, str(relative)):
            found.setdefault(key, []).append(location)
    return found


def test_extraction_finds_python_and_template_strings(tmp_path: Path) -> None:
    (tmp_path / "app" / "templates").mkdir(parents=True)
    (tmp_path / "app" / "templates" / "page.html").write_text(
        '{% load i18n %}<h1>{% translate "Quick exit" %}</h1>\n'
        "  <p>{% blocktranslate with n=a cap=b %}{{ n }} of {{ cap }} places{% endblocktranslate %}</p>\n"
        "    <p>{% blocktranslate count n=k %}{{ n }} day{% plural %}{{ n }} days{% endblocktranslate %}</p>\n"
        '<p>{% translate "May" context "month" %} {{ x|default:_("Intake") }} 80%</p>\n',
        encoding="utf-8",
    )
    (tmp_path / "app" / "models.py").write_text(
        "from django.utils.translation import gettext_lazy as _, ngettext, pgettext_lazy\n"
        "A = _('Station keeper')\n"
        "B = ngettext('%(n)s case', '%(n)s cases', 2)\n"
        "C = pgettext_lazy('verb', 'Close')\n",
        encoding="utf-8",
    )
    (tmp_path / "app" / "migrations").mkdir()
    (tmp_path / "app" / "migrations" / "0001_initial.py").write_text("X = _('not for translators')\n")
    found = strings_in_code(tmp_path)
    assert set(found) == {
        (None, "Quick exit"),
        (None, "%(n)s of %(cap)s places"),
        (None, "%(n)s day"),
        ("month", "May"),
        (None, "Intake"),
        (None, "Station keeper"),
        (None, "%(n)s case"),
        ("verb", "Close"),
    }
    assert found[(None, "Station keeper")] == ["app/models.py:2"]
    assert len(strings_in_code()) > 100  # and the real package is read


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_every_string_of_the_code(language: str) -> None:
    cat = catalogue(language)
    known = {(m.context, texts(m.id)[0]) for m in cat if m.id}
    missing = {key: places for key, places in strings_in_code().items() if key not in known}
    lines = [
        f"{msgid!r}" + (f" (context {ctx!r})" if ctx else "") + f" at {places[0]}"
        for (ctx, msgid), places in missing.items()
    ]
    assert not missing, f"{language}: {len(missing)} strings are not in the catalogue ({REFRESH_HINT}):\n" + "\n".join(
        lines
    )


# --- waystation compilemessages -------------------------------------------------------------------------------------


def test_waystation_overrides_djangos_compilemessages() -> None:
    assert get_commands()["compilemessages"] == "waystation.web"


@pytest.fixture
def locale_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the real catalogues, set as the only locale path."""
    copy = tmp_path / "locale"
    for language in LANGUAGES:
        target = copy / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(LOCALE_DIR / language / "LC_MESSAGES" / "django.po", target / "django.po")
    with override_settings(LOCALE_PATHS=[copy]):
        yield copy


def compile_quietly(**options: object) -> str:
    out = io.StringIO()
    call_command("compilemessages", stdout=out, **options)
    return out.getvalue()


def test_compilemessages_needs_no_gettext(locale_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no msgfmt anywhere
    assert shutil.which("msgfmt") is None
    output = compile_quietly()
    assert "ko:" in output and "zh_Hans:" in output
    with (locale_copy / "ko" / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        korean = gettext.GNUTranslations(fh)
    assert korean.gettext("Quick exit") == "빠른 나가기"
    assert korean.ngettext("%(n)s day", "%(n)s days", 3) % {"n": 3} == "3일"
    with (locale_copy / "zh_Hans" / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        chinese = gettext.GNUTranslations(fh)
    assert chinese.gettext("Safe house") == "安全屋"


def test_compilemessages_is_idempotent(locale_copy: Path) -> None:
    compile_quietly()
    mo = locale_copy / "ko" / "LC_MESSAGES" / "django.mo"
    before = (mo.stat().st_mtime_ns, mo.read_bytes())
    os.utime(mo, ns=(1_000_000_000, 1_000_000_000))  # an old .mo with the right content is left alone
    output = compile_quietly()
    assert "ko: " in output and "up to date" in output
    assert mo.stat().st_mtime_ns == 1_000_000_000
    assert mo.read_bytes() == before[1]


def test_compilemessages_rebuilds_a_changed_catalogue(locale_copy: Path) -> None:
    compile_quietly()
    po = locale_copy / "ko" / "LC_MESSAGES" / "django.po"
    po.write_text(
        po.read_text(encoding="utf-8").replace('msgstr "빠른 나가기"', 'msgstr "빨리 나가기"'), encoding="utf-8"
    )
    assert "ko: " in compile_quietly(locale=["ko"])
    with (po.parent / "django.mo").open("rb") as fh:
        assert gettext.GNUTranslations(fh).gettext("Quick exit") == "빨리 나가기"


def write_catalogue(folder: Path, body: str) -> Path:
    po = folder / "ko" / "LC_MESSAGES" / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: ko\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n' + body,
        encoding="utf-8",
    )
    return po


def test_compilemessages_refuses_a_broken_catalogue(locale_copy: Path) -> None:
    po = write_catalogue(locale_copy, 'msgid "Quick exit"\nmsgstr "빠른 나가기\n\nmsgid "Save"\nmsgstr "저장"\n')
    with pytest.raises(CommandError) as refused:
        compile_quietly()
    assert str(po) in str(refused.value)
    assert "broken" in str(refused.value)
    assert not (po.parent / "django.mo").exists()


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('msgid "Save"\nmsgstr "저장"\n\nmsgid "Save"\nmsgstr "보관"\n', 10, "given twice"),
        (
            '#, python-format\nmsgid "%(n)s day"\nmsgid_plural "%(n)s days"\n'
            'msgstr[0] "%(n)s일"\nmsgstr[1] "%(n)s일"\n',
            8,
            "broken",
        ),
        ('msgid "Save"\nmsgstr "저장"\n"\n', 9, "broken"),
    ],
    ids=["duplicate", "too-many-plural-forms", "stray-quote"],
)
def test_compilemessages_names_the_line_at_fault(locale_copy: Path, body: str, line: int, reason: str) -> None:
    po = write_catalogue(locale_copy, body)
    with pytest.raises(CommandError, match=reason) as refused:
        compile_quietly()
    assert f"{po}:{line}:" in str(refused.value)


def test_compilemessages_refuses_a_translation_that_loses_a_placeholder(locale_copy: Path) -> None:
    po = write_catalogue(
        locale_copy,
        '#, python-format\nmsgid "Registered as case %(code)s."\nmsgstr "사례를 등록했습니다."\n',
    )
    with pytest.raises(CommandError, match=r"%\(code\)s") as refused:
        compile_quietly()
    assert f"{po}:" in str(refused.value)


def test_compilemessages_refuses_a_misspelt_placeholder(locale_copy: Path) -> None:
    write_catalogue(locale_copy, '#, python-format\nmsgid "Edit station %(code)s"\nmsgstr "거점 %(cod)s 고치기"\n')
    with pytest.raises(CommandError, match=r"%\(cod\)s"):
        compile_quietly()


def test_compilemessages_leaves_out_fuzzy_entries(locale_copy: Path) -> None:
    """A fuzzy entry is gettext's guess: it is not used, so even a wrong placeholder in it does not stop the demo."""
    po = write_catalogue(
        locale_copy,
        '#, fuzzy, python-format\nmsgid "Edit station %(code)s"\nmsgstr "거점 %(name)s 고치기"\n\n'
        'msgid "Save"\nmsgstr "저장"\n',
    )
    assert "ko: 1/2 messages translated" in compile_quietly(locale=["ko"])
    with (po.parent / "django.mo").open("rb") as fh:
        korean = gettext.GNUTranslations(fh)
    assert korean.gettext("Edit station %(code)s") == "Edit station %(code)s"
    assert korean.gettext("Save") == "저장"


def test_compilemessages_says_so_when_there_is_nothing_to_compile(tmp_path: Path) -> None:
    with override_settings(LOCALE_PATHS=[tmp_path]), pytest.raises(CommandError, match="No translation catalogue"):
        compile_quietly()


# --- pages in Korean and Chinese -----------------------------------------------------------------------------------

PAGES = {
    # language code: (html lang, words that must be on the sign-in page, on the keeper's dashboard)
    "ko": (
        "ko",
        ["접속하기", "사용자 이름", "비밀번호", "빠른 나가기"],
        ["첫 화면", "도착한 사람 등록", "2자리 중 0자리 찼음"],
    ),
    "zh-hans": ("zh-hans", ["登录", "用户名", "密码", "快速离开"], ["首页", "登记新到达的人", "2 个床位中已占用 0 个"]),
}


def switch_language(client: Any, language: str, next_path: str) -> None:
    """Choose a language with the form every page carries, as a person would."""
    page = client.get(next_path)
    assert page.status_code == 200
    assert 'action="/i18n/setlang/"' in page.content.decode()
    response = client.submit("/i18n/setlang/", {"language": language, "next": next_path})
    assert response.status_code == 302
    assert response.headers["Location"] == next_path


@pytest.mark.parametrize("language", PAGES)
def test_sign_in_page_in_the_chosen_language(language: str, client_for: Callable[[User | None], Any]) -> None:
    html_lang, words, _dashboard_words = PAGES[language]
    client = client_for(None)
    switch_language(client, language, "/accounts/login/")
    html = client.get("/accounts/login/").content.decode()
    assert f'<html lang="{html_lang}">' in html
    for word in words:
        assert word in html
    assert "Sign in" not in html and "Password" not in html


@pytest.mark.parametrize("language", PAGES)
def test_dashboard_in_the_chosen_language(
    language: str, client_for: Callable[[User | None], Any], keeper_a: User, station_a: Station
) -> None:
    html_lang, _sign_in_words, words = PAGES[language]
    client = client_for(keeper_a)
    switch_language(client, language, "/")
    html = client.get("/").content.decode()
    assert f'<html lang="{html_lang}">' in html
    for word in words:
        assert word in html
    assert "Dashboard" not in html and "places taken" not in html


def test_language_stays_chosen_after_signing_in(client_for: Callable[[User | None], Any], keeper_a: User) -> None:
    password = user_set_password(actor=None, user=keeper_a, password="quiet-harbour-lantern-7")
    client = client_for(None)
    switch_language(client, "ko", "/accounts/login/")
    client.get("/accounts/login/")
    response = client.submit("/accounts/login/", {"username": keeper_a.username, "password": password}, follow=True)
    html = response.content.decode()
    assert '<html lang="ko">' in html


def test_form_errors_in_korean(client_for: Callable[[User | None], Any], keeper_a: User, station_a: Station) -> None:
    client = client_for(keeper_a)
    switch_language(client, "ko", "/cases/register/")
    form = {
        "station": station_a.code_name,
        "name_hangul": "가상인",
        "sex": "F",
        "birth_year": "1700",
        "origin_province": "unknown",
    }
    html = client.submit("/cases/register/", form).content.decode()
    assert '<html lang="ko">' in html
    this_year = timezone.localdate().year
    assert f"출생 연도는 1900년에서 {this_year}년 사이여야 합니다." in html
    assert "Birth year must be" not in html

    # Django's own messages come in Korean too (from Django's catalogue), next to ours.
    html = client.submit("/cases/register/", {**form, "birth_year": "", "sex": ""}).content.decode()
    with translation.override("ko"):
        required = str(forms.Field.default_error_messages["required"])
    assert required != "This field is required."
    assert required in html
