"""Reports: Markdown templates whose placeholders are filled from the current releases, rendered to HTML and PDF.

A template is a shipped file ``templates/figures/reports/<name>.<language>.md`` (``appeal.en.md``, ``appeal.ko.md``,
``appeal.zh-hans.md``): Markdown with placeholders in double braces. Values come only from the current releases
(``releases.current_releases``: counts after disclosure control), never from the records, so a report can print
nothing the dashboard does not. Placeholders (see ``docs/figures-methodology.md``, "Reports"):

``{{ women_safe_now }}``                the released total of an indicator; for a share indicator
                                        (``share_women``, ``share_women_trafficked``), its percentage
``{{ persons_ever.total }}``            the released total, for any indicator
``{{ share_women.share }}``             a percentage (``85%``)
``{{ services_per_person.per_person }}`` a mean (``2.4``)
``{{ times_sold.three_plus }}``         a released cell, by its code (one-dimension cells only)
``{{ national.2018.female }}``          the Ministry of Unification's arrivals (female, male or total) that year;
``{{ national.latest_year }}``          its latest year, ``{{ national.latest.female }}`` that year's figure
``{{ threshold }}``, ``{{ rounding_base }}``, ``{{ released_on }}``  the release policy and date
``{{ chart:arrivals }}``, ``{{ chart:exploitation }}``, ``{{ chart:outcomes }}``  a chart, on a line of its own

A hidden figure never prints as a number: an indicator that is a single number (``women_safe_now``) prints
"fewer than 10" (the threshold of its release policy) when hidden, since it is then under the threshold; any other
hidden count prints "not published" (it may be hidden to protect another, so "fewer than" would not be true), a
percentage or mean not published prints "not published" too. Every value is HTML-escaped where it is put in, after
the Markdown is rendered, so no value can add markup. An unknown placeholder is an error that names it. Every report
ends with a footnote on the method, in the report's language.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import markdown  # type: ignore[import-untyped]
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from waystation.accounts.models import User
from waystation.audit.services import audit_record
from waystation.figures import charts, reference
from waystation.figures.releases import DashboardFigure, current_releases, dashboard_figures

# Beside the HTML templates, so that the package data that ships those ships these too.
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "figures" / "reports"
FORMATS = ("html", "pdf")
PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
CHART_PREFIX = "chart:"
# HTML ``lang`` of each of the site's languages (Django's codes are lower case).
HTML_LANG = {"en": "en", "ko": "ko", "zh-hans": "zh-Hans"}


class ReportError(ValueError):
    """A report cannot be made as asked: the message says why, in words for the person who asked."""


@dataclass(frozen=True)
class Rendered:
    template: str
    language: str
    title: str
    document: str  # a standalone HTML document, CSS inline, nothing to fetch
    release_ids: tuple[int, ...]


def templates() -> dict[str, tuple[str, ...]]:
    """The shipped templates: name → the languages it exists in."""
    found: dict[str, list[str]] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.md")):
        name, _dot, language = path.stem.partition(".")
        if language in HTML_LANG:
            found.setdefault(name, []).append(language)
    return {name: tuple(languages) for name, languages in found.items()}


def template_text(name: str, language: str) -> str:
    available = templates()
    if name not in available:
        raise ReportError(f"No report template {name!r}. Templates: {', '.join(sorted(available)) or 'none'}.")
    if language not in available[name]:
        raise ReportError(
            f"The template {name!r} has no {language!r} version. Languages: {', '.join(available[name])}."
        )
    return (TEMPLATE_DIR / f"{name}.{language}.md").read_text(encoding="utf-8")


def report_render(*, template: str, language: str = "en", actor: User | None) -> Rendered:
    """Fill ``template`` in ``language`` from the current releases (releasing afresh any a day old) and render it
    to a standalone HTML document."""
    text = template_text(template, language)
    with translation.override(language):
        releases = current_releases(actor=actor)
        figures = {figure.name: figure for figure in dashboard_figures(actor=actor, releases=releases)}
        policy = releases[0].policy if releases else {"threshold": 10, "rounding_base": 5, "min_denominator": 50}
        released_on = max((r.created_at for r in releases), default=timezone.now())
        values = Values(figures, policy, timezone.localdate(released_on).isoformat())
        body = fill(text, values, source=f"{template}.{language}.md")
        title = _title(text, values)
        document = render_to_string(
            "figures/report.html",
            {
                "lang": HTML_LANG[language],
                "title": title,
                "body": body,
                "policy": policy,
                "released_on": values.released_on,
                "national_source": reference.SOURCE,
            },
        )
    return Rendered(template, language, title, document, tuple(r.pk for r in releases))


def report_pdf(rendered: Rendered) -> bytes:
    """The PDF of a rendered report, by WeasyPrint, fetching nothing (everything is inline; a ``data:`` URL is the
    only kind it may read). Refused when a character has no installed font: the PDF would show empty boxes."""
    import weasyprint  # slow to import, and only reports need it
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    with _missing_glyphs() as missing:
        try:
            pdf = weasyprint.HTML(string=rendered.document, url_fetcher=fetcher).write_pdf()
        except FatalURLFetchingError as exc:
            raise ReportError(f"The report refers to something outside itself, which is not allowed: {exc}") from exc
    if missing:
        shown = ", ".join(sorted(missing))
        raise ReportError(
            f"No installed font has these characters: {shown}. Install Debian's fonts-noto-cjk "
            "(apt-get install fonts-noto-cjk) and try again."
        )
    return bytes(pdf)


def report_create(*, template: str, language: str, fmt: str, actor: User | None) -> bytes:
    """The report as bytes of ``fmt`` ("html" or "pdf"), audited as ``figures.report``."""
    if fmt not in FORMATS:
        raise ReportError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    rendered = report_render(template=template, language=language, actor=actor)
    output = report_pdf(rendered) if fmt == "pdf" else rendered.document.encode("utf-8")
    audit_record(
        actor=actor,
        action="figures.report",
        details={"template": template, "language": language, "format": fmt, "releases": list(rendered.release_ids)},
    )
    return output


# --- placeholders --------------------------------------------------------------------------------------------------


class Values:
    """What each placeholder prints, from released figures only."""

    def __init__(self, figures: Mapping[str, DashboardFigure], policy: Mapping[str, int], released_on: str) -> None:
        self.figures = figures
        self.policy = policy
        self.released_on = released_on

    def text(self, expression: str) -> str | None:
        """The text of a value placeholder (unescaped), or None when there is no such placeholder."""
        if expression in ("threshold", "rounding_base", "min_denominator"):
            return str(self.policy[expression])
        if expression == "released_on":
            return self.released_on
        name, _dot, part = expression.partition(".")
        if name == "national":
            return _national(part)
        figure = self.figures.get(name)
        if figure is None:
            return None
        if part == "":
            return _share(figure) if _is_share(figure) else _total(figure)
        if part == "total":
            return _total(figure)
        if part == "share":
            return _share(figure) if figure.share_percent is not None or _is_share(figure) else None
        if part == "per_person":
            return _not_published() if figure.per_person is None else str(figure.per_person)
        cells = [c for c in figure.cells if list(c.codes.values()) == [part]]
        if len(cells) != 1:
            return None
        return _not_published() if cells[0].value is None else f"{cells[0].value:,}"

    def chart(self, name: str) -> str | None:
        indicator = charts.CHART_INDICATORS.get(name)
        figure = self.figures.get(indicator or "")
        if figure is None:
            return None
        return str(charts.chart_svg(name, figure))


def fill(text: str, values: Values, *, source: str) -> str:
    """The template's HTML with every placeholder filled (see the module docstring).

    Each placeholder is first replaced by an inert token, the Markdown is rendered, then each token is replaced by
    its escaped value (or its chart): a value is never read as Markdown or HTML.
    """
    unknown: list[str] = []
    values_at: dict[str, str] = {}
    charts_at: dict[str, str] = {}

    def mark(match: re.Match[str]) -> str:
        expression = match.group(1)
        token = f"wsslot{len(values_at) + len(charts_at):04d}x"
        if expression.startswith(CHART_PREFIX):
            svg = values.chart(expression.removeprefix(CHART_PREFIX))
            if svg is None:
                unknown.append(match.group(0))
                return ""
            charts_at[token] = f'<figure class="chart">{svg}</figure>'
            return token
        value = values.text(expression)
        if value is None:
            unknown.append(match.group(0))
            return ""
        values_at[token] = html.escape(value)
        return token

    marked = PLACEHOLDER.sub(mark, text)
    if unknown:
        raise ReportError(f"Unknown placeholder in {source}: {', '.join(unknown)}.")
    body = markdown.markdown(
        marked, extensions=["attr_list", "md_in_html", "sane_lists", "tables"], output_format="html"
    )
    for token, figure in charts_at.items():
        if f"<p>{token}</p>" not in body:
            raise ReportError(
                f"In {source}, a chart placeholder must stand on a line of its own, with a blank line before and after."
            )
        body = body.replace(f"<p>{token}</p>", figure)
    for token, value in values_at.items():
        body = body.replace(token, value)
    return body


def _title(text: str, values: Values) -> str:
    """The first heading of the template, filled: the document's title."""
    heading = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
    return PLACEHOLDER.sub(lambda m: values.text(m.group(1)) or "", heading)


def _is_share(figure: DashboardFigure) -> bool:
    """A share indicator counts one yes/no group (``indicators._share_of_rows``); its headline is the share."""
    return bool(figure.cells) and all(set(cell.codes) == {"group"} for cell in figure.cells)


def _total(figure: DashboardFigure) -> str:
    if figure.value is not None:
        return f"{figure.value:,}"
    if figure.fewer_than_threshold:
        return _("fewer than %(n)s") % {"n": figure.threshold}  # the dashboard's words, translated once
    return _not_published()


def _share(figure: DashboardFigure) -> str:
    if figure.share_percent is None:
        return _("a share not published")
    return _("%(p)s%%") % {"p": figure.share_percent}


def _not_published() -> str:
    return _("not published")


def _national(part: str) -> str | None:
    series = reference.national_arrivals()
    year, _dot, column = part.partition(".")
    if year == "latest_year" and not column:
        return str(max(series)) if series else None
    if year == "latest" and series:
        year = str(max(series))
    row = series.get(int(year)) if year.isdigit() else None
    if row is None or column not in row:
        return None
    return f"{row[column]:,}"


# --- fonts ---------------------------------------------------------------------------------------------------------


@contextmanager
def _missing_glyphs() -> Iterator[set[str]]:
    """Collect the characters WeasyPrint had to draw as .notdef (an empty box) while rendering."""
    missing: set[str] = set()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if ".notdef glyph" in message:
                found = re.search(r"\(U\+([0-9A-F]+)\)", message)
                missing.add(f"U+{found.group(1)}" if found else message)

    handler = Collect(level=logging.WARNING)
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield missing
    finally:
        logger.removeHandler(handler)
