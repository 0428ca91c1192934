"""Report templates (the appeal) rendered to HTML and PDF from the current releases, its charts, the analyst's
dashboard charts, and the CJK fonts the PDF needs, over synthetic data."""

from __future__ import annotations

import ctypes
import html
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from fontTools.ttLib import TTFont

from waystation.accounts.models import User
from waystation.audit.models import AuditEvent
from waystation.cases.choices import ConsentScope
from waystation.cases.models import Person
from waystation.cases.services import consent_record, person_register
from waystation.figures import charts, reference, reports
from waystation.figures.models import Release
from waystation.figures.releases import dashboard_figures
from waystation.testing import browser_setup
from waystation.vault.reveal import reveal

pytestmark = pytest.mark.django_db

HANGUL = re.compile(r"[\uac00-\ud7a3]")
HAN = re.compile(r"[\u4e00-\u9fff]")
CHART_TITLES = ("Types of exploitation", "Route outcomes", "Arrivals in South Korea")


@pytest.fixture
def population(synthetic: Callable[[int, int], SimpleNamespace]) -> SimpleNamespace:
    """The personas' small world plus 400 synthetic persons, and one more with a known name: a leak would show it."""
    world = synthetic(400, 44)
    person_register(
        actor=world.keeper_a, station=world.station_a, sex="F", name_hangul="가상 누설", name_romanized="Gasang Nuseol"
    )
    return world


@pytest.fixture
def few_women(world: SimpleNamespace) -> SimpleNamespace:
    """Only the personas' world and four more women, all consenting: fewer than 10 women are safe in the network."""
    for i in range(4):
        person_register(actor=world.keeper_a, station=world.station_b, sex="F", name_romanized=f"Gasang {i}")
    for person in Person.objects.all():
        consent_record(actor=world.coordinator, person=person, scope=ConsentScope.STATISTICS, given=True)
    return world


def released() -> dict[str, Any]:
    return {figure.name: figure for figure in dashboard_figures(actor=None)}


def secrets(user: User) -> list[str]:
    """Every case code and decrypted name: none may appear in a report or on the analyst's pages."""
    persons = list(Person.objects.all())
    fields = ["name_hangul", "name_romanized"]
    values = reveal(user=user, items=[(p, fields) for p in persons], purpose="test")
    names = [str(v[f]) for v in values for f in fields if str(v[f]).strip()]
    return [p.case_code for p in persons] + names


def visible_text(document: str) -> str:
    """The words of an HTML document as a reader sees them (tags dropped, entities decoded)."""
    document = re.sub(r"<(style|title)>.*?</\1>", " ", document, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", document))


def without_charts(document: str) -> str:
    return re.sub(r'<figure class="chart">.*?</figure>', " ", document, flags=re.S)


# --- HTML ----------------------------------------------------------------------------------------------------------


def test_the_appeal_is_filled_live_from_the_released_figures(population: SimpleNamespace) -> None:
    rendered = reports.report_render(template="appeal", language="en", actor=population.analyst)
    figures = released()
    text = " ".join(visible_text(rendered.document).split())
    assert "{{" not in rendered.document and "wsslot" not in rendered.document
    safe = figures["women_safe_now"].value
    assert safe is not None and safe >= 10
    assert f"Currently, {safe:,} North Korean women have found safety in our network." in text
    share = figures["share_women_trafficked"].share_percent
    assert share is not None and f"{share}% of the women in our care were trafficked" in text
    cells = {cell.codes.get("times_sold"): cell.value for cell in figures["times_sold"].cells}
    assert f"{cells['three_plus']:,} of the people in our care were sold three times or more" in text
    national = reference.national_arrivals()
    assert f"In 2018 it was {national[2018]['female']:,} women." in text
    assert "How these figures were made" in text and "rounded to the nearest 5" in text
    # The three charts, inline, labelled with their indicator's title.
    assert len(re.findall(r'<figure class="chart"><svg [^>]*class="chart"', rendered.document)) == 3
    for title in CHART_TITLES:
        assert f'aria-label="{title}"' in rendered.document
    # Nothing outside the released figures: no case code, no name.
    for secret in secrets(population.coordinator):
        assert secret not in rendered.document, secret


@pytest.mark.parametrize("language", ["ko", "zh-hans"])
def test_the_appeal_exists_in_korean_and_chinese(population: SimpleNamespace, language: str) -> None:
    rendered = reports.report_render(template="appeal", language=language, actor=None)
    text = visible_text(without_charts(rendered.document))
    assert "{{" not in rendered.document
    assert f'<html lang="{reports.HTML_LANG[language]}">' in rendered.document
    assert len(HANGUL.findall(text)) > 50 if language == "ko" else len(HAN.findall(text)) > 50
    safe = released()["women_safe_now"].value
    assert f"{safe:,}" in text


def test_a_hidden_figure_prints_fewer_than_ten_never_the_count(few_women: SimpleNamespace) -> None:
    rendered = reports.report_render(template="appeal", language="en", actor=None)
    raw = next(c["raw"] for c in Release.objects.get(indicator="women_safe_now").cells if not c["key"])
    assert 1 <= raw <= 9  # the population under test
    text = " ".join(visible_text(without_charts(rendered.document)).split())
    assert "Currently, fewer than 10 North Korean women have found safety in our network." in text
    assert "fewer than 10 women safe with us today" in text
    # A share over so few is not published, nor a hidden cell: a phrase, never a number.
    assert "a share not published of the women in our care were trafficked" in text
    values = reports.Values(released(), {}, "")
    assert (
        reports.fill("Never sold: {{ times_sold.never }}", values, source="t.md") == "<p>Never sold: not published</p>"
    )
    # The true count appears nowhere as a number (the charts' axes aside, drawn from released values only).
    assert not re.search(rf"(?<![\d.,\-]){raw}(?![\d.,%\-])", text), raw


def test_an_unknown_placeholder_is_named(population: SimpleNamespace) -> None:
    values = reports.Values(released(), {"threshold": 10, "rounding_base": 5, "min_denominator": 50}, "2026-01-01")
    with pytest.raises(reports.ReportError, match=r"Unknown placeholder in test.md: \{\{ women_saved \}\}"):
        reports.fill("Currently {{ women_safe_now }} and {{ women_saved }}.", values, source="test.md")
    with pytest.raises(reports.ReportError, match=r"\{\{ times_sold.four \}\}, \{\{ chart:pie \}\}"):
        reports.fill("{{ times_sold.four }}\n\n{{ chart:pie }}", values, source="test.md")
    with pytest.raises(reports.ReportError, match="chart placeholder must stand on a line of its own"):
        reports.fill("See {{ chart:outcomes }} here.", values, source="test.md")


def test_every_inserted_value_is_escaped() -> None:
    class Hostile(reports.Values):
        def text(self, expression: str) -> str | None:
            return '<script>alert("x")</script> *not emphasis* [link](http://example.org)'

    body = reports.fill("Currently, {{ women_safe_now }} women.", Hostile({}, {}, ""), source="test.md")
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "<em>" not in body and "<a " not in body


# --- PDF -----------------------------------------------------------------------------------------------------------


@cache
def font_file(family: str) -> tuple[str, int]:
    """The file and index in a collection fontconfig uses for ``family`` (it must be that very family)."""
    out = subprocess.run(  # noqa: S603
        ["fc-match", "-f", "%{family[0]}\n%{file}\n%{index}", family],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[0] == family, f"fontconfig has no {family!r} (it offers {out[0]!r})"
    return out[1], int(out[2])


@cache
def covered(family: str) -> frozenset[int]:
    path, index = font_file(family)
    font = TTFont(path, fontNumber=index, lazy=True)
    return frozenset(font.getBestCmap())


@cache
def families() -> list[str]:
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=True).stdout  # noqa: S607
    return sorted({name.strip() for line in listed.splitlines() for name in line.split(",")}, key=len, reverse=True)


def family_of(pdf_font_name: str) -> str:
    """The installed family of a font named in the PDF ("ABCDEF+Noto-Sans-CJK-KR-Bold" → "Noto Sans CJK KR")."""
    spaced = pdf_font_name.split("+", 1)[-1].replace("-", " ")
    return next((family for family in families() if spaced.startswith(family)), spaced)


def pdf_chars(pdf: bytes) -> Iterator[tuple[int, str, str]]:
    """(page, character, name of the font it is drawn in) for every character of the PDF's text."""
    document = pdfium.PdfDocument(pdf)
    buffer = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    for number in range(len(document)):
        textpage = document[number].get_textpage()
        count = textpage.count_chars()
        for i in range(count):
            code = pdfium_c.FPDFText_GetUnicode(textpage, i)
            if 0xDC00 <= code <= 0xDFFF:
                continue  # the second half of a character outside the BMP, read with the first
            if 0xD800 <= code <= 0xDBFF and i + 1 < count:
                code = 0x10000 + ((code - 0xD800) << 10) + (pdfium_c.FPDFText_GetUnicode(textpage, i + 1) - 0xDC00)
            length = pdfium_c.FPDFText_GetFontInfo(textpage, i, buffer, len(buffer), ctypes.byref(flags))
            yield number, chr(code), buffer.value.decode() if length else ""


def pdf_text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))


def ink_share(page: Any) -> float:
    """The share of a page's pixels that are not white."""
    histogram = page.render(scale=0.5, grayscale=True).to_pil().convert("L").histogram()
    return sum(histogram[:200]) / sum(histogram)


def test_the_appeal_pdf_sets_figures_charts_hangul_and_chinese_in_real_fonts(population: SimpleNamespace) -> None:
    for language in ("en", "ko", "zh-hans"):
        with translation.override(language):
            figures = released()  # labels and titles in the report's language
        pdf = reports.report_pdf(reports.report_render(template="appeal", language=language, actor=None))
        assert pdf.startswith(b"%PDF-")
        document = pdfium.PdfDocument(pdf)
        assert len(document) >= 2
        for number in range(len(document)):
            assert ink_share(document[number]) > 0.005, f"{language}: page {number + 1} is empty"
        text = pdf_text(pdf)
        # The figures: the released total and share, in the body; the charts' titles and category labels.
        assert f"{figures['women_safe_now'].value:,}" in text
        assert f"{figures['share_women_trafficked'].share_percent}%" in text
        outcomes = [", ".join(cell.labels) for cell in figures["route_outcomes"].cells]
        assert outcomes and all(label in text for label in outcomes), language
        assert figures["exploitation_types"].title in text and figures["arrivals_kr"].title in text
        # Both scripts in every version (the other versions are named in their own script).
        assert HANGUL.search(text) and HAN.search(text), language
        assert "\ufffd" not in text
        for page, char, font in pdf_chars(pdf):
            if char.isspace() or not char.isprintable():
                continue
            assert font, f"{language} p{page + 1}: {char!r} is drawn in no font"
            if HANGUL.match(char) or HAN.match(char):
                assert "CJK" in font, f"{language} p{page + 1}: {char!r} is drawn in {font}"
            # No missing glyph: the font it is drawn in really has it (else the PDF shows an empty box).
            assert ord(char) in covered(family_of(font)), f"{language} p{page + 1}: {font} has no {char!r}"
        for secret in secrets(population.coordinator):
            assert secret not in text, secret


def test_the_pdf_is_refused_when_no_font_has_a_character(few_women: SimpleNamespace) -> None:
    rendered = reports.report_render(template="appeal", language="en", actor=None)
    tangut = "\U00017000"  # a Tangut character: no font installed here, nor in fonts-noto-cjk
    broken = reports.Rendered(
        rendered.template, "en", "t", rendered.document.replace("</main>", f"<p>{tangut}</p></main>"), ()
    )
    with pytest.raises(reports.ReportError, match="No installed font has these characters: U\\+17000"):
        reports.report_pdf(broken)


def test_the_pdf_fetches_nothing(few_women: SimpleNamespace, tmp_path: Path) -> None:
    secret_file = tmp_path / "local.css"
    secret_file.write_text("body { color: red }")
    rendered = reports.report_render(template="appeal", language="en", actor=None)
    for link in (f'<link rel="stylesheet" href="file://{secret_file}">', '<img src="http://127.0.0.1:9/x.png">'):
        outside = reports.Rendered("appeal", "en", "t", rendered.document.replace("<head>", f"<head>{link}"), ())
        with pytest.raises(reports.ReportError, match="outside itself"):
            reports.report_pdf(outside)


# --- charts --------------------------------------------------------------------------------------------------------


def test_a_hidden_cell_is_drawn_as_absent_never_as_a_bar() -> None:
    fonts = ("DejaVu Sans",)
    note = "* Not published"
    one = charts.bars_svg("t", "Title", [charts.Bar("Forced marriage", 120)], note=note, fonts=fonts)
    with_hidden = charts.bars_svg(
        "t", "Title", [charts.Bar("Forced marriage", 120), charts.Bar("Forced labour", None)], note=note, fonts=fonts
    )
    bars = re.compile(r'<g id="chart-t-patch_\d+">')
    assert len(bars.findall(with_hidden)) == len(bars.findall(one))  # no bar for the hidden cell
    assert "Forced labour" in with_hidden and ">*<" in with_hidden and note in with_hidden
    assert note not in one  # the note only when something is hidden


def test_charts_are_deterministic_inline_safe_svg() -> None:
    points = [charts.YearPoint("2019", 20, 1047), charts.YearPoint("2020", None, 229)]
    labels = ("Ours", "National", "People")
    first = charts.arrivals_svg_markup("Arrivals", points, labels, note="* hidden", fonts=("DejaVu Sans",))
    again = charts.arrivals_svg_markup("Arrivals", points, labels, note="* hidden", fonts=("DejaVu Sans",))
    assert first == again
    assert first.startswith("<svg") and "<script" not in first and " on" not in first.split(">", 1)[0]
    # Nothing the dashboard's Content-Security-Policy would block, no date, no metadata.
    assert "style=" not in first and "<style" not in first and "<metadata" not in first
    ids = re.findall(r' id="([^"]+)"', first)
    assert ids and all(i.startswith("chart-arrivals-") for i in ids)
    assert all(ref.startswith("chart-arrivals-") for ref in re.findall(r"url\(#([^)]+)\)", first))
    assert ">Ours<" in first and ">National<" in first and ">2019<" in first


def test_the_analyst_dashboard_shows_the_charts_and_no_record(population: SimpleNamespace, client_for: Any) -> None:
    response = client_for(population.analyst).get("/")
    page = response.content.decode()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    svgs = re.findall(r'<svg [^>]*class="chart".*?</svg>', page, flags=re.S)
    assert len(svgs) == 3
    for title in CHART_TITLES:
        assert any(f'aria-label="{title}"' in svg for svg in svgs), title
    assert all("style=" not in svg and "<script" not in svg for svg in svgs)
    for label in (", ".join(cell.labels) for cell in released()["route_outcomes"].cells):
        assert any(f">{html.escape(label)}<" in svg for svg in svgs), label
    for secret in secrets(population.coordinator):
        assert secret not in page, secret


# --- the command ---------------------------------------------------------------------------------------------------


def test_the_report_command_writes_the_appeal(population: SimpleNamespace, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command(
        "figures", "report", "--template", "appeal", "--format", "pdf", "--out", str(tmp_path / "a.pdf"), stdout=out
    )
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    assert "Wrote" in out.getvalue()
    call_command(
        "figures", "report", "--template", "appeal", "--format", "html", "--language", "ko",
        "--out", str(tmp_path / "a.html"), stdout=io.StringIO(),
    )  # fmt: skip
    page = (tmp_path / "a.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ko">' in page and "{{" not in page
    events = AuditEvent.objects.filter(action="figures.report").order_by("seq")
    assert [(e.details["format"], e.details["language"]) for e in events] == [("pdf", "en"), ("html", "ko")]
    # The plain release still works as before.
    call_command("figures", "--json", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "leaflet", "--format", "pdf"], "No report template 'leaflet'"),
        (["--template", "appeal", "--format", "docx"], "Unknown --format 'docx'"),
        (["--template", "appeal", "--format", "pdf", "--language", "fr"], "Unknown --language 'fr'"),
        (["--format", "pdf"], "needs --template"),
        (
            ["--template", "appeal", "--format", "pdf", "--threshold", "20"],
            "--threshold do not go with `waystation figures report`",
        ),
    ],
)
def test_the_report_command_refuses_bad_input(
    few_women: SimpleNamespace, tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("figures", "report", *args, "--out", str(tmp_path / "x.pdf"), stdout=io.StringIO())
    assert not (tmp_path / "x.pdf").exists()
    assert not Release.objects.exists() and not AuditEvent.objects.filter(action__startswith="figures.").exists()


@pytest.mark.parametrize(
    ("language", "message"),
    [("ko_KR.UTF-8", "알 수 없는 --format 'docx'"), ("zh_CN.UTF-8", "未知的 --format 'docx'")],
)
def test_the_command_answers_in_the_terminals_language(
    few_women: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, language: str, message: str
) -> None:
    monkeypatch.setenv("LANGUAGE", language)
    try:
        with pytest.raises(CommandError, match=message):
            args = ["--template", "appeal", "--format", "docx", "--out", str(tmp_path / "x.pdf")]
            call_command("figures", "report", *args, stdout=io.StringIO())
        out = io.StringIO()
        call_command("figures", stdout=out)
        assert ("동의가 없어 제외됨" if language.startswith("ko") else "因未同意而未计入") in out.getvalue()
    finally:
        translation.activate("en")
    assert not (tmp_path / "x.pdf").exists()


def test_the_report_command_never_overwrites_by_accident(few_women: SimpleNamespace, tmp_path: Path) -> None:
    existing = tmp_path / "appeal.pdf"
    existing.write_bytes(b"keep me")
    base = ["figures", "report", "--template", "appeal", "--format", "pdf"]
    with pytest.raises(CommandError, match="exists already"):
        call_command(*base, "--out", str(existing), stdout=io.StringIO())
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(CommandError, match="is a directory"):
        call_command(*base, "--out", str(tmp_path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command(*base, "--out", str(tmp_path / "no" / "a.pdf"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="--out do not go with a release"):
        call_command("figures", "--out", str(existing), stdout=io.StringIO())
    call_command(*base, "--out", str(existing), "--force", stdout=io.StringIO())
    assert existing.read_bytes().startswith(b"%PDF-")


# --- the fonts the PDF needs (browser_setup) -----------------------------------------------------------------------


def fake_fc_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, families: str) -> None:
    script = tmp_path / "fc-list"
    script.write_text(f"#!/bin/sh\nprintf '{families}'\n")
    script.chmod(0o755)
    monkeypatch.setattr(
        browser_setup.shutil, "which", lambda name: str(script) if name == "fc-list" else f"/usr/bin/{name}"
    )


def test_the_cjk_fonts_are_found_through_fontconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert browser_setup.missing_cjk_fonts() == []  # the test machine has them: the PDF tests need them
    fake_fc_list(tmp_path, monkeypatch, "DejaVu Sans\\nNoto Sans CJK JP,Noto Sans CJK KR\\n")
    assert browser_setup.missing_cjk_fonts() == ["Noto Sans CJK SC"]


def test_missing_cjk_fonts_without_root_fail_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_fc_list(tmp_path, monkeypatch, "DejaVu Sans\\n")
    monkeypatch.setattr(browser_setup.os, "geteuid", lambda: 1000)
    assert browser_setup.ensure_cjk_fonts() == 1
    err = capsys.readouterr().err
    assert "!!!!!!!!" in err and "apt-get install -y fonts-noto-cjk" in err and "Noto Sans CJK KR" in err


def test_missing_cjk_fonts_as_root_are_installed_from_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_fc_list(tmp_path, monkeypatch, "DejaVu Sans\\n")
    commands: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> Any:
        commands.append(command)
        if "install" in command:  # what the package does: fontconfig now lists the families
            fake_fc_list(tmp_path, monkeypatch, "Noto Sans CJK KR\\nNoto Sans CJK SC\\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(browser_setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser_setup.subprocess, "run", run)
    assert browser_setup.ensure_cjk_fonts() == 0
    assert [c[-1] for c in commands] == ["update", "fonts-noto-cjk"]
