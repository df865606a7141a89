"""The report page and its charts, on figures like those that once came out as "69.3",
"9.47 s", "7.46 %" and a clipped "00501h": round ticks with their unit, labels inside the
figure, bars centred on their labels, the page autoescaped, in Chinese with ``lang=zh``, the
same bytes for the same data, and no glyph matplotlib cannot measure."""

from __future__ import annotations

import csv
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from matplotlib.figure import Figure

from hotline.core.errors import Invalid
from hotline.metrics.charts import (
    CJK_FONTS,
    NICE_STEPS,
    TIME_STEPS,
    Chart,
    ChartRenderer,
    Series,
    Unit,
    ValueLabel,
    value_labels,
    y_axis,
)
from hotline.metrics.labels import DEFAULT_LANG, EN, LANGS, ZH
from hotline.metrics.render import TABLE_GROUPS, ReportRenderer, report_charts
from hotline.metrics.report import COLUMNS, DEFINED, OCCUPANCY, to_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"


def metrics(
    offered: int = 0,
    answered: int = 0,
    abandoned: int = 0,
    short: int = 0,
    asa: float | None = None,
    sl: float | None = None,
    talk_hours: float = 0.0,
) -> dict[str, Any]:
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "short_abandons": short,
        "asa": asa,
        "aht": 93.25 if answered else None,
        "service_level": sl,
        "abandonment_rate": abandoned / offered if offered else None,
        "talk_hours": talk_hours,
    }


def week() -> dict[str, Any]:
    """A week (Monday 16 November 2026) with the awkward values of the old charts."""
    busy = metrics(69, 60, 9, 2, asa=9.47, sl=0.0746, talk_hours=1.25)
    quiet = metrics(7, 6, 1, 0, asa=69.3, sl=0.693, talk_hours=0.00501)
    return {
        "since": "2026-11-16T00:00:00+08:00",
        "until": "2026-11-23T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "short_abandon_seconds": 5.0,
        "service_level_seconds": 20.0,
        "groups": {
            "total": {"total": metrics(76, 66, 10, 2, asa=14.9, sl=0.13, talk_hours=1.25501)},
            "hour": {"2026-11-17 09:00": busy, "2026-11-20 14:00": quiet},
            "day": {"2026-11-17": busy, "2026-11-20": quiet},
            "agent": {"1001": quiet, EVIL: busy, "-": metrics(1, 0, 1)},
            "queue": {EVIL: busy, "operator": quiet},
            "language": {"zh": busy, "en": quiet},
            "kind": {"complaint": busy, "consultation": quiet},
            "region": {"-": busy},
        },
        "tickets": {
            "top_categories": [{"category": "street_lighting", "tickets": 2}],
            "repeat_callers": [{"caller_number": EVIL, "tickets": 3, "repeats": 1}],
        },
    }


@pytest.fixture(scope="module")
def charts() -> ChartRenderer:
    return ChartRenderer()


@pytest.fixture(scope="module")
def drawn(charts: ChartRenderer) -> dict[str, tuple[Chart, Figure, str]]:
    out = {}
    for chart in report_charts("weekly", week(), SHANGHAI, EN):
        fig, svg = charts.render(chart)
        out[chart.key] = (chart, fig, svg)
    return out


def svg_ticks(svg: str, axis: str) -> list[str]:
    """The text of each tick label of ``axis`` (x or y), read from the SVG."""
    root = ET.fromstring(svg)
    labels = []
    for g in root.iter(f"{SVG}g"):
        if re.fullmatch(rf"[\w-]+-{axis}tick_\d+", g.get("id", "")):
            labels += [t.text or "" for t in g.iter(f"{SVG}text")]
    return labels


def is_multiple(value: float, step: Decimal) -> bool:
    return Decimal(str(value)) % step == 0


def nice(step: float, bases: tuple[float, ...]) -> bool:
    """``step`` is one of ``bases`` times a power of ten."""
    exp = Decimal(str(step)).adjusted()
    return any(Decimal(str(step)) == Decimal(str(b)) * Decimal(10) ** exp for b in bases) or any(
        Decimal(str(step)) == Decimal(str(b)) * Decimal(10) ** (exp - 1) for b in bases
    )


@pytest.mark.parametrize(
    ("unit", "peak"),
    [
        (Unit.COUNT, 69.3),
        (Unit.COUNT, 3),
        (Unit.COUNT, 1234),
        (Unit.SECONDS, 9.47),
        (Unit.SECONDS, 69.3),
        (Unit.SECONDS, 431),
        (Unit.PERCENT, 0.0746),
        (Unit.HOURS, 0.00501),
        (Unit.HOURS, 7.3),
        (Unit.HOURS, 23.9),
    ],
)
def test_value_axis_ends_on_a_round_tick(unit: Unit, peak: float) -> None:
    axis = y_axis(unit, [peak, None, 0])
    step = axis.ticks[1] - axis.ticks[0]
    bases = TIME_STEPS if unit is Unit.SECONDS or axis.labels[-1].endswith("min") else NICE_STEPS
    if unit is Unit.PERCENT:
        assert axis.labels == ("0 %", "25 %", "50 %", "75 %", "100 %")
    assert nice(step, bases), (axis, step)
    assert all(is_multiple(t, Decimal(str(step))) for t in axis.ticks), axis
    assert axis.ticks[0] == 0 and axis.top >= peak * axis.scale and len(axis.ticks) <= 7
    if unit is Unit.COUNT:
        assert all(t == int(t) for t in axis.ticks)  # counts: whole numbers
    for label in axis.labels:
        assert re.fullmatch(r"[\d,]+(\.5)? ?(s|min|h|%)?", label), label


def test_tick_labels_in_the_svg_are_round(drawn: dict[str, tuple[Chart, Figure, str]]) -> None:
    expected = {
        "calls-by-hour": ["0", "20", "40", "60", "80"],  # 69 offered in one hour
        "asa": ["0 s", "20 s", "40 s", "60 s", "80 s"],  # up to 69.3 s
        "service-level": ["0 %", "25 %", "50 %", "75 %", "100 %"],
        # 1.25 h = 75 min, and a tick more above it: room for the bar's label.
        "talk-hours": ["0 min", "20 min", "40 min", "60 min", "80 min", "100 min"],
        "abandoned": ["0", "2", "4", "6", "8", "10", "12"],  # 9 abandoned, and room
    }
    for key, (_, _, svg) in drawn.items():
        assert svg_ticks(svg, "y") == expected[key], key
    texts = [
        t.text or "" for _, _, svg in drawn.values() for t in ET.fromstring(svg).iter(f"{SVG}text")
    ]
    for old in ("69.3", "9.47", "7.46", "00501"):
        assert not [t for t in texts if old in t], old


def test_talk_under_an_hour_is_in_minutes_and_no_label_is_clipped(charts: ChartRenderer) -> None:
    chart = Chart(
        "talk",
        "Talk hours per agent",
        ("1001", "a rather long agent name"),
        (Series("talk hours", (0.00501, 0.3), "#16a34a"),),
        Unit.HOURS,
        skip_labels=False,
    )
    fig, svg = charts.render(chart)
    # 18 min at most, and a tick more above it for the bar's label.
    assert svg_ticks(svg, "y") == ["0 min", "5 min", "10 min", "15 min", "20 min", "25 min"]
    assert svg_ticks(svg, "x") == ["1001", "a rather long agent name"]
    with charts.context("measure"):
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        fig.draw_without_rendering()
        box = fig.bbox
        ax = fig.axes[0]
        texts = [*ax.get_xticklabels(), *ax.get_yticklabels()]
        for text in texts:
            extent = text.get_window_extent(renderer)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()


def test_bars_sit_on_their_labels(drawn: dict[str, tuple[Chart, Figure, str]]) -> None:
    for key in ("calls-by-hour", "talk-hours", "abandoned"):
        chart, fig, _ = drawn[key]
        ax = fig.axes[0]
        centres = {round(p.get_x() + p.get_width() / 2, 9) for p in ax.patches}  # type: ignore[attr-defined]
        ticks = list(ax.get_xticks())
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks and set(ticks) <= centres, key
        for tick, label in zip(ticks, labels, strict=True):
            assert chart.labels[int(tick)] == label, key
    # Every hour of the day has its label, under its bar.
    chart, fig, svg = drawn["calls-by-hour"]
    assert svg_ticks(svg, "x") == [f"{h:02d}" for h in range(24)]
    offered, answered = fig.axes[0].containers
    assert offered[9].get_height() == 69 and answered[9].get_height() == 60
    assert offered[9].get_x() + offered[9].get_width() / 2 == 9
    assert answered[9].get_x() + answered[9].get_width() / 2 == 9
    # The week's seven days, quiet ones included.
    assert drawn["asa"][0].labels == tuple(f"11-{d}" for d in range(16, 23))


def test_page_escapes_names(charts: ChartRenderer) -> None:
    page = ReportRenderer(charts=charts).html("weekly", week(), SHANGHAI)
    assert "<script" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page  # queue, agent, caller
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</text>" in page  # the chart's label
    assert page.count("<svg") == 5
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # five charts, no id twice


def test_chinese_is_the_default_english_on_request(charts: ChartRenderer) -> None:
    assert '<html lang="zh-CN">' in ReportRenderer(charts=charts).html("weekly", week(), SHANGHAI)
    page = ReportRenderer(charts=charts).html("weekly", week(), SHANGHAI, "en")
    assert '<html lang="en">' in page and "12345 hotline — weekly report" in page
    assert '<h2 id="by-queue">By queue</h2>' in page and "<th>service level</th>" in page
    assert "AHT (average handling time) = (talk + hold + wrap-up) / answered" in page
    assert '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"' in page


def test_chinese_report(charts: ChartRenderer) -> None:
    names = {"zh": {"category": {"street_lighting": "路灯照明"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" among them
        page = ReportRenderer(names, charts).html("weekly", week(), SHANGHAI, "zh")
    assert '<html lang="zh-CN">' in page and "<title>12345 热线周报</title>" in page
    for header in ("呼入量", "接通量", "平均应答速度", "平均处理时长"):
        assert f"<th>{header}</th>" in page, header
    assert (
        '<h2 id="by-queue">按队列统计</h2>' in page and '<h2 id="by-agent">按坐席统计</h2>' in page
    )
    for title in (
        "各时段来电量",
        "平均应答速度（按日）",
        "服务水平（20 秒，按日）",
        "坐席通话时长",
    ):
        assert f"<figcaption>{title}</figcaption>" in page, title
    assert "平均处理时长（AHT）=（通话 + 保持 + 话后处理）/ 接通量" in page  # what AHT includes
    assert "<small>通话 + 保持 + 话后处理</small>" in page  # under the figure itself
    assert "<td>投诉</td>" in page and "<td>路灯照明</td>" in page and "<td>合计</td>" not in page
    assert "时段（时）</text>" in page and ">接通</text>" in page  # axis and legend
    for english in ("By queue", "offered", "Calls by hour", "Top ticket categories"):
        assert english not in page, english


def test_unknown_language_is_refused(charts: ChartRenderer) -> None:
    with pytest.raises(Invalid) as caught:
        ReportRenderer(charts=charts).html("weekly", week(), SHANGHAI, "fr")
    assert caught.value.code == "report.bad_lang"


def test_same_data_same_bytes(charts: ChartRenderer) -> None:
    first = ReportRenderer(charts=charts).html("weekly", week(), SHANGHAI, "zh")
    again = ReportRenderer(charts=ChartRenderer()).html("weekly", week(), SHANGHAI, "zh")
    assert first == again
    assert "<dc:date>" not in first and "Matplotlib v" not in first


def test_matplotlib_measures_with_a_chinese_font(charts: ChartRenderer) -> None:
    assert charts.font in CJK_FONTS, "install fonts-noto-cjk (scripts/setup-system.sh)"
    chart = report_charts("daily", week() | {"until": "2026-11-17T00:00:00+08:00"}, SHANGHAI, ZH)
    _, svg = charts.render(chart[0])
    assert "font-family: 'Noto Sans CJK SC', 'Source Han Sans SC'" in svg
    assert svg_ticks(svg, "x")[0] == "00"


# -- every figure defined; abandoned calls not an agent; by PBX; value labels ----------------
def section(page: str, key: str) -> str:
    """The page from the heading with id ``key`` to the next heading of its level."""
    start = page.index(f'<h2 id="{key}">')
    end = page.find("<h2", start + 1)
    return page[start : end if end > 0 else len(page)]


def test_both_languages_define_every_figure() -> None:
    for t in (ZH, EN):
        assert set(t.formulas) == set(DEFINED), t.html_lang
        assert set(t.kpi_notes) == set(COLUMNS), t.html_lang
        assert set(TABLE_GROUPS) <= set(t.groups), t.html_lang
        assert set(t.occupancy_columns) == {"agent", *OCCUPANCY}, t.html_lang
    assert DEFAULT_LANG == "zh" and LANGS[0] == "zh"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_definitions_block_lists_each_figure_with_its_thresholds(
    charts: ChartRenderer, lang: str
) -> None:
    data = week() | {"service_level_seconds": 15.0, "short_abandon_seconds": 3.0}
    page = ReportRenderer(charts=charts).html("weekly", data, SHANGHAI, lang)
    t = ZH if lang == "zh" else EN
    block = section(page, "definitions")
    assert block.startswith(f'<h2 id="definitions">{t.definitions_title}</h2>')
    terms = re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", block)
    assert [name for name, _ in terms] == [t.columns[c] for c in COLUMNS]  # no occupancy data
    formulas = dict(terms)
    sl, aht = formulas[t.columns["service_level"]], formulas[t.columns["aht"]]
    assert "15 s" in sl or "15 秒" in sl
    assert (
        "3 s" in formulas[t.columns["short_abandons"]]
        or "3 秒" in formulas[t.columns["short_abandons"]]
    )
    assert ("(talk + hold + wrap-up) / answered" in aht) or (
        "（通话 + 保持 + 话后处理）/ 接通量" in aht
    )
    # Each headline figure says what it is made of, right under it.
    notes = re.findall(
        r'<div class="kpi"><span>[^<]+</span><b>[^<]+</b><small>([^<]+)</small>', page
    )
    assert len(notes) == len(COLUMNS)
    assert t.kpi_notes["service_level"].format(sl="15") in notes


def test_calls_without_an_agent_are_not_an_agent(charts: ChartRenderer) -> None:
    data = week()
    assert "-" in data["groups"]["agent"]  # one abandoned call, no agent
    for lang, t in (("zh", ZH), ("en", EN)):
        page = ReportRenderer(charts=charts).html("weekly", data, SHANGHAI, lang)
        agents = section(page, "by-agent")
        keys = re.findall(r"<tr><td>([^<]*)</td>", agents)
        assert keys == ["1001", "&lt;script&gt;alert(1)&lt;/script&gt;"], keys
        assert f'<p class="note">{t.agent_note}</p>' in agents
        queues = section(page, "by-queue")  # where they are counted
        assert len(re.findall(r"<tr><td>", queues)) == 2
    rows = list(csv.reader(to_csv(data).splitlines()))
    assert [r[1] for r in rows if r and r[0] == "agent"] == ["1001", EVIL]
    # Nor in the talk chart: its bars are the agents'.
    chart = next(c for c in report_charts("weekly", data, SHANGHAI, EN) if c.key == "talk-hours")
    assert chart.labels == ("1001", EVIL)


def test_by_pbx_table_only_with_several_pbxes(charts: ChartRenderer) -> None:
    data = week()
    data["groups"]["pbx"] = {"east": metrics(69, 60, 9, 2, asa=9.47, sl=0.0746, talk_hours=1.25)}
    one = data | {"pbxes": ["east"]}
    page = ReportRenderer(charts=charts).html("weekly", one, SHANGHAI, "en")
    assert 'id="by-pbx"' not in page and "By PBX" not in page
    assert not [r for r in csv.reader(to_csv(one).splitlines()) if r and r[0] == "pbx"]

    several = data | {"pbxes": ["east", "west"]}
    for lang, title, head in (("en", "By PBX", "PBX"), ("zh", "按交换机统计", "交换机")):
        page = ReportRenderer(charts=charts).html("weekly", several, SHANGHAI, lang)
        table = section(page, "by-pbx")
        assert table.startswith(f'<h2 id="by-pbx">{title}</h2>') and f"<th>{head}</th>" in table
        rows = re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", table)
        cells = [re.findall(r"<td>([^<]*)</td>", r) for r in rows]
        # Each configured PBX, the quiet one too; offered, answered, abandoned, short, ASA, AHT, SL.
        assert cells[0][:8] == ["east", "69", "60", "9", "2", "9.5s", "93.2s", "7.5%"]
        assert cells[1][:4] == ["west", "0", "0", "0"] and len(cells) == 2
        assert page.index('id="by-pbx"') < page.index('id="by-queue"')
    csv_rows = [r for r in csv.reader(to_csv(several).splitlines()) if r and r[0] == "pbx"]
    assert [r[:4] for r in csv_rows] == [["pbx", "east", "69", "60"], ["pbx", "west", "0", "0"]]


def test_occupancy_table_and_csv_block(charts: ChartRenderer) -> None:
    occupancy = {
        "a-1001": {
            "logged_in_s": 3725.0,
            "paused_s": 65.0,
            "talk_s": 1200.0,
            "wrap_up_s": 300.0,
            "occupancy": 0.4098,
        }
    }
    data = week() | {"occupancy": occupancy}
    page = ReportRenderer(charts=charts).html("weekly", data, SHANGHAI, "zh")
    table = section(page, "occupancy")
    assert "<th>占用率</th>" in table
    assert (
        "<td>a-1001</td><td>1:02:05</td><td>0:01:05</td><td>0:20:00</td><td>0:05:00</td><td>41.0%</td>"
        in table
    )
    assert "<dt>占用率</dt>" in section(page, "definitions")
    text = to_csv(data)
    assert "occupancy,agent,logged_in_s,paused_s,talk_s,wrap_up_s,occupancy" in text
    assert "agent,a-1001,3725.0,65.0,1200.0,300.0,0.4098" in text


def test_csv_has_the_definitions_too() -> None:
    rows = list(csv.reader(to_csv(week()).splitlines()))
    start = rows.index(["definitions", "figure", "formula"])
    block = {r[1]: r[2] for r in rows[start + 1 :] if r}
    assert list(block) == COLUMNS  # the CSV's figures, no occupancy in this data
    assert block["aht"].startswith(
        "AHT (average handling time) = (talk + hold + wrap-up) / answered"
    )
    assert "within 20 s" in block["service_level"]


def test_value_labels_are_the_bars_values_just_above_them() -> None:
    chart = Chart(
        "c",
        "calls",
        ("08", "09", "10"),
        (Series("offered", (12, 0, 69), "#93c5fd"), Series("answered", (10, 0, 60), "#2563eb")),
        Unit.COUNT,
    )
    axis = y_axis(Unit.COUNT, [12, 0, 69])
    # The whole bar (offered) of each hour with calls, on its label; none on an empty hour.
    assert value_labels(chart, axis) == [ValueLabel(0, 12, "12"), ValueLabel(2, 69, "69")]
    stacked = Chart(
        "s",
        "abandoned",
        ("a", "b"),
        (Series("x", (3, None), "r"), Series("y", (2, None), "r")),
        Unit.COUNT,
        stacked=True,
    )
    assert value_labels(stacked, y_axis(Unit.COUNT, [5])) == [ValueLabel(0, 5, "5")]
    hours = Chart("h", "talk", ("1001",), (Series("talk", (0.125,), "g"),), Unit.HOURS)
    assert [v.text for v in value_labels(hours, y_axis(Unit.HOURS, [0.125]))] == ["7.5 min"]
    # Too many bars for their labels: none rather than overlapping ones.
    crowded = Chart(
        "x", "t", tuple(str(i) for i in range(60)), (Series("n", (1234.0,) * 60, "b"),), Unit.COUNT
    )
    assert value_labels(crowded, y_axis(Unit.COUNT, [1234])) == []
    assert value_labels(replace(chart, kind="line"), axis) == []


def test_value_labels_drawn_inside_the_plot_clear_of_the_axis_labels(
    drawn: dict[str, tuple[Chart, Figure, str]], charts: ChartRenderer
) -> None:
    for key in ("calls-by-hour", "talk-hours", "abandoned"):
        _, fig, svg = drawn[key]
        ax = fig.axes[0]
        values = [t for t in ax.texts if (t.get_gid() or "").startswith("value_")]
        assert values, key
        with charts.context("measure"):
            renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
            fig.draw_without_rendering()
            plot = ax.get_window_extent(renderer)
            ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
            ticks += [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
            legend = ax.get_legend()
            if legend is not None:
                ticks.append(legend.get_window_extent(renderer))
            for text in values:
                box = text.get_window_extent(renderer)
                assert plot.y0 <= box.y0 and box.y1 <= plot.y1, (key, text.get_text())
                assert plot.x0 <= box.x0 and box.x1 <= plot.x1, (key, text.get_text())
                assert not any(box.overlaps(other) for other in ticks), (key, text.get_text())
                x, top = text.xy  # type: ignore[attr-defined]
                bar_top = ax.transData.transform((x, top))[1]
                assert bar_top <= box.y0 <= bar_top + 4, (key, text.get_text())  # just above
        # In the SVG as text, each a round number.
        root = ET.fromstring(svg)
        shown = [
            "".join(t.itertext())
            for g in root.iter(f"{SVG}g")
            if g.get("id", "").startswith(f"{key}-value")
            for t in g.iter(f"{SVG}text")
        ]
        assert shown == [t.get_text() for t in values], key
    texts = [t.get_text() for t in drawn["talk-hours"][1].axes[0].texts]
    assert texts == ["0.3 min", "75 min"]  # 0.00501 h and 1.25 h per agent
    abandoned = [t.get_text() for t in drawn["abandoned"][1].axes[0].texts]
    assert abandoned == ["9", "1"]  # per day: long and short abandons together
