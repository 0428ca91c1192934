"""Charts of released figures, as SVG markup for the analyst's dashboard and for reports.

A chart is drawn only from what a release published (``releases.DashboardFigure``: rounded counts, hidden cells as
None), never from raw counts, so it can show nothing the figures themselves do not. A hidden cell is drawn as
absent, marked with an asterisk and a note under the chart; it is never drawn as a bar of any height.

The SVG is made with matplotlib (its ``Figure`` without pyplot, so no GUI backend; imported only when a chart is
drawn: it is slow to import) with ``svg.fonttype = 'none'``, so the labels stay text: the browser and WeasyPrint set
Korean and Chinese labels in a real CJK font, and the PDF's text can be searched. Then the markup is cleaned so that
it can be put inline in a page whose Content-Security-Policy forbids inline styles and scripts (``style-src
'self'``): matplotlib's ``style="..."`` attributes become SVG presentation attributes (``fill="..."``), which no
policy blocks; its ``<style>``, ``<metadata>`` and anything script-like are dropped; its ids get a per-chart prefix,
so that several charts on one page do not share an id. The output is deterministic (a fixed hash salt, no date), so
the same release gives the same bytes.
"""

from __future__ import annotations

import io
import re
import threading
import xml.etree.ElementTree as ET  # noqa: S405 - parses only the SVG matplotlib just wrote, never outside input
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from waystation.figures.releases import DashboardFigure

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# Fonts for the labels, by language, best first; only those installed are named in the SVG. The CJK fonts are
# Debian's fonts-noto-cjk (browser_setup installs it); the Korean or Chinese cut is chosen so that Han characters
# take the shapes readers of that language expect. DejaVu Sans (matplotlib's own) is always last.
FONTS = {
    "ko": ("Noto Sans CJK KR",),
    "zh-hans": ("Noto Sans CJK SC",),
    "en": ("DejaVu Sans", "Noto Sans CJK KR", "Noto Sans CJK SC"),
}

BAR_COLOUR = "#2f6f8f"
LINE_COLOUR = "#b5432b"
MUTED = "#555555"

# The CSS properties matplotlib writes in style attributes, all of which SVG also takes as presentation attributes.
PRESENTATION = frozenset(
    {
        "clip-path",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-style",
        "font-weight",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "dominant-baseline",
    }
)

# Which chart shows which indicator.
CHART_INDICATORS = {
    "arrivals": "arrivals_kr",
    "exploitation": "exploitation_types",
    "outcomes": "route_outcomes",
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # the released value; None when the release did not publish it


@dataclass(frozen=True)
class YearPoint:
    year: str
    network: int | None  # released; None when hidden
    national: int | None  # the public reference series; None when it has no figure for the year


def chart_svg(name: str, figure: DashboardFigure) -> SafeString:
    """The chart ``name`` (a key of ``CHART_INDICATORS``) of ``figure``, labelled in the language active now."""
    if name == "arrivals":
        return arrivals_svg(figure)
    if name in ("exploitation", "outcomes"):
        bars = tuple(Bar(", ".join(c.labels), c.value) for c in figure.cells if len(c.codes) == 1)
        return _cached_bars(name, figure.title, bars, _note(), _fonts())
    raise KeyError(name)


def dashboard_charts(figures: Sequence[DashboardFigure]) -> dict[str, SafeString]:
    """Each chart of the dashboard, keyed by the name of the indicator it shows beside."""
    by_name = {figure.name: figure for figure in figures}
    return {
        indicator: chart_svg(chart, by_name[indicator])
        for chart, indicator in CHART_INDICATORS.items()
        if indicator in by_name
    }


def arrivals_svg(figure: DashboardFigure) -> SafeString:
    """The network's arrivals in South Korea per year (bars, left axis) against the national arrivals the Ministry
    of Unification reports (line, right axis): two scales, because the network's hundreds sit beside thousands."""
    points = tuple(
        YearPoint(cell.codes["arrival_year"], cell.value, cell.reference)
        for cell in figure.cells
        if set(cell.codes) == {"arrival_year"} and cell.codes["arrival_year"].isdigit()
    )
    labels = (_("People in our care"), _("All arrivals in South Korea (Ministry of Unification)"), _("People"))
    return _cached_arrivals(figure.title, tuple(sorted(points, key=lambda p: p.year)), labels, _note(), _fonts())


@lru_cache(maxsize=64)
def _cached_bars(name: str, title: str, bars: tuple[Bar, ...], note: str, fonts: tuple[str, ...]) -> SafeString:
    return mark_safe(bars_svg(name, title, bars, note=note, fonts=fonts))  # noqa: S308 - cleaned SVG, text escaped


@lru_cache(maxsize=16)
def _cached_arrivals(
    title: str, points: tuple[YearPoint, ...], labels: tuple[str, str, str], note: str, fonts: tuple[str, ...]
) -> SafeString:
    return mark_safe(arrivals_svg_markup(title, points, labels, note=note, fonts=fonts))  # noqa: S308 - as above


def bars_svg(name: str, title: str, bars: Sequence[Bar], *, note: str, fonts: Sequence[str]) -> str:
    """Horizontal bars, one per category, the released value written at the end of each; hidden ones absent."""
    height = 1.2 + 0.42 * max(len(bars), 1)
    with _drawing(fonts) as figure:
        fig = figure(figsize=(7.0, height))
        ax = fig.subplots()
        positions = list(range(len(bars)))[::-1]  # the first category on top
        shown = [(pos, bar) for pos, bar in zip(positions, bars, strict=True) if bar.value is not None]
        ax.barh([pos for pos, _bar in shown], [bar.value or 0 for _pos, bar in shown], color=BAR_COLOUR)
        top = max([bar.value or 0 for bar in bars] + [1])
        for pos, bar in zip(positions, bars, strict=True):
            text = "*" if bar.value is None else f"{bar.value:,}"
            ax.text((bar.value or 0) + top * 0.01, pos, text, va="center", fontsize=9, color="#222222")
        ax.set_yticks(positions, [bar.label for bar in bars])
        ax.set_xlim(0, top * 1.15)
        _finish(fig, ax, title, note if any(bar.value is None for bar in bars) else "")
        return _svg(fig, name, title)


def arrivals_svg_markup(
    title: str, points: Sequence[YearPoint], labels: tuple[str, str, str], *, note: str, fonts: Sequence[str]
) -> str:
    network_label, national_label, axis_label = labels
    with _drawing(fonts) as figure:
        fig = figure(figsize=(7.0, 3.6))
        ax = fig.subplots()
        xs = list(range(len(points)))
        shown = [(x, p.network) for x, p in zip(xs, points, strict=True) if p.network is not None]
        ax.bar([x for x, _n in shown], [n or 0 for _x, n in shown], color=BAR_COLOUR, label=network_label)
        top = max([p.network or 0 for p in points] + [1])
        for x, point in zip(xs, points, strict=True):
            if point.network is None:
                ax.text(x, top * 0.02, "*", ha="center", va="bottom", fontsize=11, color=MUTED)
        ax.set_ylim(0, top * 1.2)
        ax.set_ylabel(axis_label)
        ax.set_xticks(xs, [p.year for p in points], rotation=45 if len(points) > 8 else 0)
        national = [(x, p.national) for x, p in zip(xs, points, strict=True) if p.national is not None]
        twin = ax.twinx()
        twin.plot([x for x, _n in national], [n for _x, n in national], color=LINE_COLOUR, marker="o")
        twin.set_ylim(0, max([n or 0 for _x, n in national] + [1]) * 1.15)
        twin.spines["top"].set_visible(False)
        twin.tick_params(axis="y", colors=LINE_COLOUR)
        # One legend for both axes, below the plot: the labels are long in every language.
        handles = [*ax.get_legend_handles_labels()[0], *twin.get_lines()]
        note = note if any(p.network is None for p in points) else ""
        fig.legend(
            handles,
            [network_label, national_label],
            loc="lower center",
            bbox_to_anchor=(0.5, 0.06 if note else 0.0),
            ncols=2,
            frameon=False,
            fontsize=9,
        )
        _finish(fig, ax, title, note, legend_below=True)
        return _svg(fig, "arrivals", title)


def _finish(fig: Figure, ax: Axes, title: str, note: str, *, legend_below: bool = False) -> None:
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    bottom = 0.0
    if legend_below:
        bottom += 0.1
    if note:
        fig.text(0.01, 0.005, note, fontsize=8, color=MUTED, ha="left", va="bottom")
        bottom += 0.06
    fig.tight_layout(rect=(0, bottom, 1, 1))


def _note() -> str:
    return _("* Not published: disclosure control hides it.")


def _fonts() -> tuple[str, ...]:
    wanted = FONTS.get(get_language() or "en", FONTS["en"])
    installed = _installed_fonts()
    return tuple(f for f in wanted if f in installed) + ("DejaVu Sans",)


@cache
def _installed_fonts() -> frozenset[str]:
    from matplotlib import font_manager

    return frozenset(entry.name for entry in font_manager.fontManager.ttflist)


# matplotlib's settings (rcParams) are global: one chart is drawn at a time, also when the server runs threads.
_DRAWING = threading.Lock()


@contextmanager
def _drawing(fonts: Sequence[str]) -> Iterator[type[Figure]]:
    """matplotlib's ``Figure`` with this module's settings, one chart at a time. No pyplot: its global registry of
    open figures is neither needed nor thread-safe; a ``Figure`` saves to SVG through its own canvas."""
    import matplotlib
    from matplotlib.figure import Figure

    with _DRAWING, matplotlib.rc_context(_rc(fonts)):
        yield Figure


def _rc(fonts: Sequence[str]) -> dict[Any, Any]:  # matplotlib types its keys as a Literal of every name
    return {
        "svg.fonttype": "none",  # text stays text
        "svg.hashsalt": "waystation",  # ids from a fixed salt: the same chart gives the same markup
        "font.family": list(dict.fromkeys(fonts)),
        "font.size": 9,
        "axes.edgecolor": MUTED,
        "xtick.color": "#333333",
        "ytick.color": "#333333",
    }


def _svg(fig: Figure, name: str, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return clean_svg(buffer.getvalue(), prefix=f"chart-{name}-", title=title)


_ID_REF = re.compile(r"url\(#([^)]+)\)")


def clean_svg(markup: str, *, prefix: str, title: str) -> str:
    """matplotlib's SVG made safe to put inline under a strict Content-Security-Policy (see the module docstring)."""
    root = ET.fromstring(markup)  # noqa: S314 - our own matplotlib output
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) in ("metadata", "style", "script", "foreignObject"):
                parent.remove(child)
    for element in root.iter():
        element.tag = _local(element.tag)
        for key in list(element.attrib):
            value = element.attrib.pop(key)
            name = _local(key)
            if name.startswith("on"):
                continue  # no event handler, ever
            if name == "style":
                for declaration in value.split(";"):
                    prop, _sep, prop_value = declaration.partition(":")
                    if prop.strip() in PRESENTATION and prop_value.strip():
                        element.set(prop.strip(), prop_value.strip())
                continue
            if name == "id":
                value = prefix + value
            elif name == "href":
                value = "#" + prefix + value.removeprefix("#")
            else:
                value = _ID_REF.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
            element.set(name, value)
    # What the removed <style> said for every element, now inherited from the root.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)  # sized by the page: the viewBox keeps the proportions
    root.set("xmlns", SVG_NS)
    root.set("class", "chart")
    root.set("role", "img")
    root.set("aria-label", title)
    label = ET.Element("title")
    label.text = title
    root.insert(0, label)
    return ET.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
