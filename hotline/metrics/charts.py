"""The reports' charts: matplotlib figures saved as SVG that keeps its text as text.

Figures are ``matplotlib.figure.Figure`` objects on an Agg canvas (no pyplot and its global
figures). The SVG's text is real text (``svg.fonttype: none``), drawn by the browser with the
page's CJK font; matplotlib still measures it for the layout, so it must find a CJK font too
(``fonts-noto-cjk``, installed by scripts/setup-system.sh). Axes end on round ticks chosen with
``MaxNLocator``; labels carry their unit ("30 s", "25 %", "12 h"). Each bar's value is written
just above it, inside the plot (a tick more on top when the tallest needs the room), never by
the axis labels; a chart too crowded for them shows none. The same data gives the same bytes: a
fixed hash salt per chart and no date in the metadata.
"""

from __future__ import annotations

import html
import io
import logging
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

log = logging.getLogger(__name__)

# The Chinese fonts the page and the charts ask for, in order: Linux (Noto, Source Han,
# WenQuanYi), macOS (PingFang), Windows (YaHei). The page adds the generic family; matplotlib
# falls back to DejaVu Sans, its own font (which has no Chinese).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
)
CHART_FONTS = (*CJK_FONTS, "DejaVu Sans")
# Font files of the families above, as Debian installs them (looked for when matplotlib's
# font cache was made before the font was installed).
_CJK_FILES = ("NotoSansCJK", "SourceHanSans", "wqy-microhei")

# Round tick steps (times a power of ten): counts, hours, percentages; durations prefer
# steps that divide a minute.
NICE_STEPS = (1, 2, 2.5, 5, 10)
TIME_STEPS = (1, 2, 3, 5, 6, 10)

WIDTH_IN, HEIGHT_IN = 6.4, 2.6
TICK_SIZE = 8
# Bars' value labels: just above each bar, in this size; the axis gets a tick more when the
# tallest bar leaves less than HEADROOM of its height for its label.
VALUE_SIZE = 7
HEADROOM = 0.12
# About how wide a digit is at VALUE_SIZE (DejaVu's and Noto's digits: 0.6 em), in points,
# and the plot's width: a chart whose labels are wider than its bars shows none.
DIGIT_PT = 0.6 * VALUE_SIZE
PLOT_WIDTH_PT = 400


class Unit(StrEnum):
    COUNT = "count"
    SECONDS = "seconds"
    PERCENT = "percent"  # values are fractions, 0..1
    HOURS = "hours"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    color: str


@dataclass(frozen=True)
class Chart:
    """What one chart shows. ``key``: its id in the page (and the SVG ids' prefix)."""

    key: str
    title: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    unit: Unit
    kind: Literal["bars", "line"] = "bars"
    # Bars: stacked, else each later series drawn narrower in front of the first (a part of
    # it, e.g. answered of offered). Every bar is centred on its label.
    stacked: bool = False
    xlabel: str = ""
    ylabel: str = ""
    no_data: str = "no data"
    # Time axes show every n-th label when they would crowd; names (agents) are all shown,
    # slanted when they would crowd.
    skip_labels: bool = True


@dataclass(frozen=True)
class YAxis:
    """The value axis: data are multiplied by ``scale`` (hours shown as minutes...); the axis
    runs from 0 to ``top``, the last of ``ticks``."""

    ticks: tuple[float, ...]
    labels: tuple[str, ...]
    scale: float
    suffix: str = ""  # the unit after a value: " s", " min", " h", " %" ("" for counts)
    whole: bool = True  # values shown as whole numbers (counts, percentages)

    @property
    def top(self) -> float:
        return self.ticks[-1]

    def value(self, scaled: float) -> str:
        """A bar's value as its label says it: whole numbers for counts and percentages and
        from 10 up, else one decimal ("7.5 min", "12 s", "1.3 h")."""
        digits = 0 if self.whole or scaled >= 10 else 1
        return f"{scaled:,.{digits}f}".removesuffix(".0") + self.suffix

    def extended(self) -> YAxis:
        """One more round tick on top (room for the tallest bar's label)."""
        top = round(self.top + self.ticks[1] - self.ticks[0], 6)
        label = _tick_label(top, self.suffix)
        return YAxis((*self.ticks, top), (*self.labels, label), self.scale, self.suffix, self.whole)


def _tick_label(value: float, suffix: str) -> str:
    return f"{value:g}{suffix}" if suffix else _number(value)


def _ticks(top: float, steps: Sequence[float], integer: bool) -> tuple[float, ...]:
    """Round ticks from 0 to the first at or above ``top``."""
    locator = MaxNLocator(nbins=5, steps=list(steps), integer=integer, min_n_ticks=3)
    out: list[float] = []
    for t in locator.tick_values(0, top):
        value = round(float(t), 6)  # 0.30000000000000004 → 0.3
        if value < 0:
            continue
        out.append(value)
        if value >= top:
            break
    return tuple(out)


def _number(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:g}"


def y_axis(unit: Unit, values: Sequence[float | None]) -> YAxis:
    """Round ticks and their labels for ``values`` shown as ``unit``."""
    peak = max((v for v in values if v is not None and math.isfinite(v)), default=0.0)
    scale = 1.0
    whole = True
    if unit is Unit.PERCENT:
        ticks: tuple[float, ...] = (0, 25, 50, 75, 100)
        scale, suffix = 100.0, " %"
    elif unit is Unit.COUNT:
        ticks, suffix = _ticks(max(peak, 5), NICE_STEPS, integer=True), ""
    elif unit is Unit.SECONDS:
        whole = False
        if peak <= 180:
            ticks, suffix = _ticks(max(peak, 10), TIME_STEPS, integer=True), " s"
        else:  # minutes beyond three
            scale, suffix = 1 / 60, " min"
            ticks = _ticks(peak * scale, TIME_STEPS, integer=True)
    elif peak >= 2:  # hours
        whole = False
        ticks, suffix = _ticks(peak, NICE_STEPS, integer=False), " h"
    else:  # under two hours: minutes ("80 min" rather than "1.25 h")
        whole = False
        scale, suffix = 60.0, " min"
        ticks = _ticks(max(peak * scale, 5), TIME_STEPS, integer=True)
    return YAxis(ticks, tuple(_tick_label(t, suffix) for t in ticks), scale, suffix, whole)


def bar_tops(chart: Chart) -> list[float | None]:
    """Each bar's value (unscaled): the sum of a stacked bar, else the first series' (the
    whole of which the later series are parts); None where there is no value."""
    if chart.stacked:
        columns = zip(*(s.values for s in chart.series), strict=True)
        return [
            None if all(v is None for v in col) else sum(v or 0 for v in col) for col in columns
        ]
    return list(chart.series[0].values) if chart.series else []


@dataclass(frozen=True)
class ValueLabel:
    x: float  # the bar's centre (its label's position on the x axis)
    y: float  # the bar's top, in axis units: the label sits just above it
    text: str


def value_labels(chart: Chart, axis: YAxis) -> list[ValueLabel]:
    """The bars' value labels, one per bar with a value above 0 (a bar of 0 has no top to sit
    on). None at all when the widest would not fit across a bar: a crowded chart keeps its
    bars legible rather than its labels overlapping."""
    if chart.kind != "bars" or not chart.labels:
        return []
    out = [
        ValueLabel(float(i), v * axis.scale, axis.value(v * axis.scale))
        for i, v in enumerate(bar_tops(chart))
        if v is not None and math.isfinite(v) and v > 0
    ]
    slot = PLOT_WIDTH_PT / len(chart.labels)
    if any(len(label.text) * DIGIT_PT > 0.95 * slot for label in out):
        return []
    return out


def label_every(labels: Sequence[str], width_pt: float = 400) -> int:
    """Show every n-th label so that they fit side by side (about 4.5 pt a character at the
    ticks' size, and a gap)."""
    if not labels:
        return 1
    per_label = max(len(s) for s in labels) * 4.5 + 6
    fits = max(1, int(width_pt // per_label))
    return max(1, math.ceil(len(labels) / fits))


def installed_cjk_font() -> str | None:
    """The first of ``CJK_FONTS`` matplotlib knows, registering Debian's CJK font files with it
    if its font cache predates them (matplotlib's own font list, not state of ours)."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in known), None)
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        if any(part in Path(path).name for part in _CJK_FILES):
            font_manager.fontManager.addfont(path)
    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|xlink:href="#)([^)"]+)')


class ChartRenderer:
    """Draws ``Chart``s. Holds a lock: matplotlib's settings (fonts, SVG output) are
    process-wide, so two reports rendered at once in threads take turns."""

    def __init__(self) -> None:
        self.font = installed_cjk_font()
        if self.font is None:
            log.warning(
                "no CJK font for the report charts (install fonts-noto-cjk): Chinese labels "
                "are measured with DejaVu Sans and may overlap"
            )
        self._lock = threading.Lock()

    def rc(self, salt: str) -> dict[RcKeyType, Any]:
        return {
            "font.family": ["sans-serif"],
            "font.sans-serif": list(CHART_FONTS),
            "font.size": 9,
            "axes.titlesize": 9,
            "xtick.labelsize": TICK_SIZE,
            "ytick.labelsize": TICK_SIZE,
            "legend.fontsize": TICK_SIZE,
            "svg.fonttype": "none",  # real text, drawn by the browser
            "svg.hashsalt": f"hotline-{salt}",  # the clip-path and marker ids
            "svg.image_inline": True,
            "path.simplify": False,
        }

    @contextmanager
    def context(self, salt: str) -> Iterator[None]:
        """The settings charts are drawn and measured under (tests measure in it too)."""
        with self._lock, mpl.rc_context(self.rc(salt)):
            yield

    def render(self, chart: Chart) -> tuple[Figure, str]:
        """The figure (laid out) and its SVG, ready to put in a page. Blocking (CPU)."""
        with self.context(chart.key):
            fig = draw(chart)
            buf = io.StringIO()
            # No date and no creator (the matplotlib version): same data, same bytes.
            metadata = {"Date": None, "Creator": None, "Format": None, "Type": None}
            fig.savefig(buf, format="svg", metadata=metadata)
        return fig, _inline(buf.getvalue(), chart.key, chart.title)

    def svg(self, chart: Chart) -> str:
        return self.render(chart)[1]


def _inline(svg: str, key: str, title: str) -> str:
    """The SVG for a page with several charts: no XML prolog, ids prefixed with the chart's
    key (they must be unique in the page), a title for screen readers."""
    svg = svg[svg.index("<svg") :]
    svg = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg)
    head_end = svg.index(">") + 1
    text = html.escape(title)
    return (
        svg[: head_end - 1]
        + f' role="img" aria-label="{text}"><title>{text}</title>'
        + svg[head_end:]
    )


def draw(chart: Chart) -> Figure:
    """The chart as a figure on an Agg canvas (call under ``ChartRenderer.context``)."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = [v for s in chart.series for v in s.values]
    if chart.kind == "bars" and chart.stacked:
        axis = y_axis(chart.unit, bar_tops(chart))
    else:
        axis = y_axis(chart.unit, values)
    values_shown = value_labels(chart, axis)
    if values_shown and max(v.y for v in values_shown) > (1 - HEADROOM) * axis.top:
        axis = axis.extended()
    n = len(chart.labels)
    _frame(ax, chart, axis)
    if n == 0 or all(v is None for v in values):
        ax.text(
            0.5,
            0.5,
            chart.no_data,
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#6b7280",
        )
    if n:
        if chart.kind == "bars":
            _bars(ax, chart, axis)
            for i, v in enumerate(values_shown):
                ax.annotate(
                    v.text,
                    (v.x, v.y),
                    xytext=(0, 1.5),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=VALUE_SIZE,
                    color="#374151",
                    gid=f"value_{i}",  # the SVG's id (prefixed with the chart's key)
                )
        else:
            _lines(ax, chart, axis)
        crowded = label_every(chart.labels) > 1
        every = label_every(chart.labels) if chart.skip_labels else 1
        positions = list(range(0, n, every))
        rotate = crowded and not chart.skip_labels
        ax.set_xticks(positions, [chart.labels[i] for i in positions])
        if rotate:
            for tick in ax.get_xticklabels():
                tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.6, n - 0.4)
    else:
        ax.set_xticks([])
    if len(chart.series) > 1:
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=len(chart.series),
            frameon=False,
            borderaxespad=0.2,
            handlelength=1.2,
        )
    return fig


def _frame(ax: Axes, chart: Chart, axis: YAxis) -> None:
    ax.set_ylim(0, axis.top)
    ax.set_yticks(axis.ticks, axis.labels)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#9ca3af")
    ax.spines["bottom"].set_color("#9ca3af")
    ax.tick_params(colors="#374151", length=3)
    if chart.xlabel:
        ax.set_xlabel(chart.xlabel, color="#6b7280")
    if chart.ylabel:
        ax.set_ylabel(chart.ylabel, color="#6b7280")


def _scaled(values: tuple[float | None, ...], scale: float) -> list[float]:
    return [math.nan if v is None else v * scale for v in values]


def _bars(ax: Axes, chart: Chart, axis: YAxis) -> None:
    x = list(range(len(chart.labels)))
    bottom = [0.0] * len(x)
    for i, s in enumerate(chart.series):
        heights = [0.0 if math.isnan(v) else v for v in _scaled(s.values, axis.scale)]
        if chart.stacked:
            ax.bar(x, heights, width=0.7, bottom=bottom, color=s.color, label=s.name)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        else:
            width = 0.75 if i == 0 else 0.75 * 0.55
            ax.bar(x, heights, width=width, color=s.color, label=s.name)


def _lines(ax: Axes, chart: Chart, axis: YAxis) -> None:
    x = list(range(len(chart.labels)))
    for s in chart.series:
        y = _scaled(s.values, axis.scale)
        (line,) = ax.plot(
            x, y, color=s.color, linewidth=1.8, marker="o", markersize=3.5, label=s.name
        )
        line.set_clip_on(False)  # a point on the top (100 %) stays whole
