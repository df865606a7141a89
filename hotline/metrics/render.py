"""Daily, weekly and monthly reports: one self-contained HTML page (inline SVG charts, no
scripts or downloads; printable to A4) and a CSV of the same figures. Served by the API and
written by the CLI. The page is a Jinja2 template (``templates/report.html``, autoescaped), its
words from ``labels.py`` in Chinese or English, its charts from ``charts.py``, what it shows and
the CSV from ``report.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hotline.core.errors import Invalid
from hotline.metrics.charts import CJK_FONTS, Chart, ChartRenderer, Series, Unit
from hotline.metrics.labels import CATALOGUE, DEFAULT_LANG, LANGS, Labels
from hotline.metrics.report import (
    ACCEPTANCE,
    COLUMNS,
    OCCUPANCY,
    SATISFACTION,
    definitions,
    shown_groups,
)
from hotline.metrics.report import bounds as bounds  # for importers of the render module
from hotline.metrics.report import to_csv as to_csv
from hotline.surveys.satisfaction import TARGET_LOW, TARGET_TEXT

# -- the page -----------------------------------------------------------------------------
BLUE, LIGHT_BLUE, GREEN, RED, LIGHT_RED = "#2563eb", "#93c5fd", "#16a34a", "#dc2626", "#fca5a5"
# By PBX first (only with several PBXes: shown_groups).
TABLE_GROUPS = ("pbx", "queue", "agent", "language", "kind", "region")
# The page's font list: a Chinese font wherever the page is opened, then the generic family.
CSS_FONTS = ", ".join(f'"{name}"' for name in CJK_FONTS) + ", sans-serif"


@dataclass(frozen=True)
class Table:
    title: str
    head: list[str]
    rows: list[list[str]]
    empty: str
    note: str = ""  # under the table
    key: str = ""  # its id in the page ("by-agent"...)


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    target: str = ""
    below: bool = False
    note: str = ""  # what the figure is made of, under it


@dataclass(frozen=True)
class ChartView:
    key: str
    title: str
    svg: Markup  # matplotlib's SVG, whose text it escapes itself


def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("hotline.metrics", "templates"),
        autoescape=select_autoescape(("html",), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# Display names of data keys: language → group ("category", "department") → id → name.
Names = Mapping[str, Mapping[str, Mapping[str, str]]]


class ReportRenderer:
    """The report page in Chinese or English. ``names``: display names of ticket categories
    and departments by id (the ticket taxonomy's; ids shown where a language has none).
    Build one (in hotline/app) and share it: it holds the compiled template and the chart
    renderer's lock."""

    def __init__(
        self,
        names: Names | None = None,
        charts: ChartRenderer | None = None,
    ) -> None:
        self.names = dict(names or {})
        self.charts = charts or ChartRenderer()
        self.env = _templates()

    @staticmethod
    def labels(lang: str) -> Labels:
        try:
            return CATALOGUE[lang]
        except KeyError:
            raise Invalid("report.bad_lang", f"lang must be one of {list(LANGS)}") from None

    def html(self, period: str, data: dict[str, Any], tz: tzinfo, lang: str = DEFAULT_LANG) -> str:
        """The page. Blocking (draws the charts: call from a thread on the event loop)."""
        t = self.labels(lang)
        groups = data["groups"]
        total = groups["total"].get("total") or dict.fromkeys(COLUMNS, 0)
        since = f"{datetime.fromisoformat(data['since']).astimezone(tz):%Y-%m-%d %H:%M}"
        until = f"{datetime.fromisoformat(data['until']).astimezone(tz):%Y-%m-%d %H:%M}"
        word = t.periods[period]
        figures = [
            ChartView(c.key, c.title, Markup(self.charts.svg(c)))
            for c in report_charts(period, data, tz, t)
        ]
        shown = shown_groups(data)
        tables = [
            Table(
                t.by_group.format(group=t.groups[g]),
                [t.groups[g], *(t.columns[c] for c in COLUMNS)],
                [
                    [self._key(lang, g, k), *(_fmt(c, m[c]) for c in COLUMNS)]
                    for k, m in shown[g].items()
                ],
                t.none,
                note=t.agent_note if g == "agent" else "",
                key=f"by-{g}",
            )
            for g in TABLE_GROUPS
            if g in shown
        ]
        short = f"{data['short_abandon_seconds']:g}"
        sl = f"{data['service_level_seconds']:g}"
        names = {**t.columns, "occupancy": t.occupancy_columns["occupancy"]}
        context = {
            "t": t,
            "css_fonts": Markup(CSS_FONTS),
            "title": t.page_title.format(period=word),
            "heading": t.heading.format(period=word),
            "span": t.span.format(since=since, until=until, tz=data["timezone"]),
            "kpis": [
                Kpi(
                    t.columns[c],
                    _fmt(c, total[c]),
                    note=t.kpi_notes[c].format(short=short, sl=sl),
                )
                for c in COLUMNS
            ],
            "figures": figures,
            "tables": tables,
            "occupancy": _occupancy(t, data.get("occupancy")),
            "definitions": [(names[c], formula) for c, formula in definitions(t, data)],
            "tickets": self._tickets(lang, t, data.get("tickets")),
            "drafts": self._drafts(t, data.get("draft_acceptance")),
            "drafts_weekly": _drafts_weekly(
                t, data.get("draft_acceptance_weekly"), data.get("draft_acceptance")
            ),
            "satisfaction": self._satisfaction(lang, t, data.get("satisfaction")),
        }
        return self.env.get_template("report.html").render(context)

    def _key(self, lang: str, group: str, key: str) -> str:
        """A data key as shown: fixed lists from the catalogue, taxonomy ids by name."""
        if key in ("total", "-") or group in ("language", "kind"):
            return self.labels(lang).key(key)
        if group in ("category", "department"):
            return self.names.get(lang, {}).get(group, {}).get(key, key)
        return key

    def _tickets(self, lang: str, t: Labels, tickets: dict[str, Any] | None) -> list[Table]:
        """The period's top ticket categories and repeat callers (same number, same problem)."""
        if tickets is None:
            return []
        return [
            Table(
                t.top_categories,
                [t.category, t.tickets],
                [
                    [self._key(lang, "category", c["category"]), str(c["tickets"])]
                    for c in tickets["top_categories"]
                ],
                t.no_tickets,
            ),
            Table(
                t.repeat_callers,
                [t.number, t.tickets, t.repeats],
                [
                    [r["caller_number"], str(r["tickets"]), str(r["repeats"])]
                    for r in tickets["repeat_callers"]
                ],
                t.none,
            ),
        ]

    @staticmethod
    def _drafts(t: Labels, rows: list[dict[str, Any]] | None) -> Table | None:
        """Per drafted field: accepted as drafted, changed, emptied, added, and the acceptance
        rate. None (no section) when the report has no ticket data."""
        if rows is None:
            return None
        return Table(
            t.draft_acceptance,
            [t.draft_field, *(t.draft_columns[c] for c in ACCEPTANCE)],
            [
                [
                    t.draft_fields.get(r["field"], r["field"]),
                    *(_fmt("draft_rate" if c == "rate" else c, r[c]) for c in ACCEPTANCE),
                ]
                for r in rows
            ],
            t.no_drafts,
        )

    def _satisfaction(self, lang: str, t: Labels, sat: dict[str, Any] | None) -> dict[str, Any]:
        """Surveyed, satisfaction rate (with the published target beside it) and satisfied
        share; then the same by department, category and agent. Empty: no section."""
        if sat is None:
            return {}
        total = sat["total"]
        rate = total["satisfaction_rate"]
        cols = t.sat_columns
        kpis = [
            Kpi(cols["surveyed"], str(total["surveyed"])),
            Kpi(
                cols["satisfaction_rate"],
                _fmt("satisfaction_rate", rate),
                target=t.target.format(target=TARGET_TEXT),
                below=rate is not None and rate < TARGET_LOW,
            ),
            Kpi(cols["satisfied_share"], _fmt("satisfied_share", total["satisfied_share"])),
        ]
        tables = [
            Table(
                t.satisfaction_by.format(group=t.sat_groups.get(g, g)),
                [t.sat_groups.get(g, g), *(cols[c] for c in SATISFACTION)],
                [
                    [self._key(lang, g, r["key"]), *(_fmt(c, r[c]) for c in SATISFACTION)]
                    for r in rows
                ],
                t.no_surveys,
            )
            for g, rows in sat["groups"].items()
        ]
        return {"kpis": kpis, "tables": tables}


def _occupancy(t: Labels, rows: dict[str, dict[str, Any]] | None) -> Table | None:
    """Per agent id: logged-in, paused, talk and wrap-up time, and occupancy. None (no
    table) when the data has none (the API's shape without agents' time)."""
    if rows is None:
        return None
    cols = t.occupancy_columns
    return Table(
        t.occupancy_title,
        [cols["agent"], *(cols[c] for c in OCCUPANCY)],
        [
            [
                agent,
                *(_fmt("occupancy" if c == "occupancy" else "duration", o[c]) for c in OCCUPANCY),
            ]
            for agent, o in rows.items()
        ],
        t.none,
        key="occupancy",
    )


def _drafts_weekly(
    t: Labels, rows: list[dict[str, Any]] | None, totals: list[dict[str, Any]] | None
) -> Table | None:
    """Per drafted field (a row), each week's acceptance rate with the tickets whose draft
    suggested the field (a column per week, headed by its ISO number and Monday), then the
    whole period's. None (no table) for a period within one week or without drafts."""
    if not rows:
        return None
    by = {(r["week"], r["field"]): r for r in rows}
    mondays = list(dict.fromkeys(r["week"] for r in rows))
    fields = list(dict.fromkeys(r["field"] for r in rows))
    whole = {r["field"]: r for r in totals or []}
    head = [
        t.draft_field,
        *(
            t.draft_week.format(week=date.fromisoformat(m).isocalendar().week, monday=m[5:])
            for m in mondays
        ),
        t.draft_period,
    ]
    return Table(
        t.draft_weekly,
        head,
        [
            [
                t.draft_fields.get(f, f),
                *(_rate_cell(t, by.get((m, f))) for m in mondays),
                _rate_cell(t, whole.get(f)),
            ]
            for f in fields
        ],
        t.no_drafts,
    )


def _rate_cell(t: Labels, r: dict[str, Any] | None) -> str:
    """ "83.3% (12)": the rate and the tickets it is of; empty without a drafted value (no
    suggestion is no 0 %)."""
    if r is None or r["rate"] is None:
        return ""
    drafted = r["accepted"] + r["changed"] + r["emptied"]
    return t.draft_cell.format(rate=_fmt("draft_rate", r["rate"]), drafted=drafted)


def to_html(period: str, data: dict[str, Any], tz: tzinfo, lang: str = DEFAULT_LANG) -> str:
    """The page, with a renderer of its own (the API and the CLI share one: ReportRenderer)."""
    return ReportRenderer().html(period, data, tz, lang)


def _trend_keys(group: str, data: dict[str, Any], tz: tzinfo) -> list[str]:
    """Every local hour (daily report) or day of the period, in the metrics' key format, so
    that the trend charts show the quiet hours and days too."""
    since = datetime.fromisoformat(data["since"]).astimezone(UTC)
    until = datetime.fromisoformat(data["until"]).astimezone(UTC)
    fmt = "%Y-%m-%d %H:00" if group == "hour" else "%Y-%m-%d"
    keys = set(data["groups"][group])
    at = since
    while at < until:  # in UTC: an hour at a time, whatever the zone's offsets
        keys.add(at.astimezone(tz).strftime(fmt))
        at += timedelta(hours=1)
    return sorted(keys)


def report_charts(period: str, data: dict[str, Any], tz: tzinfo, t: Labels) -> list[Chart]:
    """The five charts: calls by hour of day, ASA and service level over the period, talk per
    agent, abandoned calls over the period."""
    groups = data["groups"]
    # Calls by hour of day (summed over the period's days).
    hours = tuple(f"{h:02d}" for h in range(24))
    offered = dict.fromkeys(hours, 0.0)
    answered = dict.fromkeys(hours, 0.0)
    for key, m in groups["hour"].items():
        offered[key[11:13]] += m["offered"]
        answered[key[11:13]] += m["answered"]
    trend_group = "hour" if period == "daily" else "day"
    keys = _trend_keys(trend_group, data, tz)
    rows = [groups[trend_group].get(k) for k in keys]
    labels = tuple(k[11:13] if trend_group == "hour" else k[5:] for k in keys)
    xlabel = t.hour_of_day if trend_group == "hour" else ""
    word = t.trend[trend_group]
    sl = f"{data['service_level_seconds']:g}"
    agents = {k: m for k, m in groups["agent"].items() if k != "-"}
    talk = tuple(m["talk_hours"] for m in agents.values())

    def col(name: str) -> tuple[float | None, ...]:
        return tuple(None if m is None else m[name] for m in rows)

    abandoned = col("abandoned")
    short = col("short_abandons")
    return [
        Chart(
            "calls-by-hour",
            t.calls_by_hour,
            hours,
            (
                Series(t.offered, tuple(offered.values()), LIGHT_BLUE),
                Series(t.answered, tuple(answered.values()), BLUE),
            ),
            Unit.COUNT,
            xlabel=t.hour_of_day,
            ylabel=t.calls_axis,
            no_data=t.no_data,
        ),
        Chart(
            "asa",
            t.asa_by.format(group=word),
            labels,
            (Series(t.columns["asa"], col("asa"), BLUE),),
            Unit.SECONDS,
            kind="line",
            xlabel=xlabel,
            no_data=t.no_data,
        ),
        Chart(
            "service-level",
            t.service_level_by.format(sl=sl, group=word),
            labels,
            (Series(t.columns["service_level"], col("service_level"), GREEN),),
            Unit.PERCENT,
            kind="line",
            xlabel=xlabel,
            no_data=t.no_data,
        ),
        Chart(
            "talk-hours",
            t.talk_per_agent,
            tuple(agents),
            (Series(t.columns["talk_hours"], talk, GREEN),),
            Unit.HOURS,
            skip_labels=False,
            no_data=t.no_data,
        ),
        Chart(
            "abandoned",
            t.abandoned_by.format(group=word),
            labels,
            (
                Series(
                    t.abandoned_long,
                    tuple(
                        None if a is None or s is None else a - s
                        for a, s in zip(abandoned, short, strict=True)
                    ),
                    RED,
                ),
                Series(t.short_abandons, short, LIGHT_RED),
            ),
            Unit.COUNT,
            stacked=True,
            xlabel=xlabel,
            ylabel=t.calls_axis,
            no_data=t.no_data,
        ),
    ]


def _fmt(column: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if column in (
        "service_level",
        "abandonment_rate",
        "satisfaction_rate",
        "satisfied_share",
        "draft_rate",
        "occupancy",
    ):
        return f"{100 * value:.1f}%"
    if column == "duration":  # seconds as h:mm:ss
        whole = round(value)
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if column in ("asa", "aht"):
        return f"{value:.1f}s"
    if column == "talk_hours":
        return f"{value:.2f}"
    return str(value)
