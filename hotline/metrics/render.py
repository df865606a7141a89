"""Daily, weekly and monthly reports: one self-contained HTML page (inline SVG charts, no
scripts or downloads) and a CSV of the same figures. Served by the API and written by the CLI."""

from __future__ import annotations

import csv
import html
import io
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from hotline.core.errors import Invalid
from hotline.surveys.satisfaction import TARGET_LOW, TARGET_TEXT

PERIODS = ("daily", "weekly", "monthly")
GROUPS = ["total", "hour", "day", "agent", "queue", "language", "kind", "region"]
COLUMNS = [
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "asa",
    "aht",
    "service_level",
    "abandonment_rate",
    "talk_hours",
]
SATISFACTION = [
    "surveyed",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "satisfaction_rate",
    "satisfied_share",
]


def bounds(period: str, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of the period containing ``day``, in local time."""
    if period == "daily":
        start = day
        end = day + timedelta(days=1)
    elif period == "weekly":
        start = day - timedelta(days=day.weekday())  # Monday
        end = start + timedelta(days=7)
    elif period == "monthly":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise Invalid("report.bad_period", f"period must be one of {list(PERIODS)}")
    return (
        datetime(start.year, start.month, start.day, tzinfo=tz),
        datetime(end.year, end.month, end.day, tzinfo=tz),
    )


def to_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["group", "key", *COLUMNS])
    for group, rows in data["groups"].items():
        for key, m in rows.items():
            w.writerow([group, key, *("" if m[c] is None else m[c] for c in COLUMNS)])
    tickets = data.get("tickets")
    if tickets:
        w.writerow([])
        w.writerow(["tickets", "key", "tickets", "repeats"])
        for c in tickets["top_categories"]:
            w.writerow(["category", c["category"], c["tickets"], ""])
        for r in tickets["repeat_callers"]:
            w.writerow(["repeat_caller", r["caller_number"], r["tickets"], r["repeats"]])
    sat = data.get("satisfaction")
    if sat:
        w.writerows(_satisfaction_rows(sat))
    return out.getvalue()


def _satisfaction_rows(sat: dict[str, Any]) -> list[list[Any]]:
    """Its own block: the total row also carries the published target band."""
    target = sat["target"]
    return [
        [],
        ["satisfaction", "key", *SATISFACTION, "target_low", "target_high"],
        ["total", "total", *_cells(sat["total"]), target["low"], target["high"]],
        *(
            [group, row["key"], *_cells(row)]
            for group, rows in sat["groups"].items()
            for row in rows
        ),
    ]


def _cells(row: dict[str, Any]) -> list[Any]:
    return ["" if row[c] is None else row[c] for c in SATISFACTION]


# -- charts -------------------------------------------------------------------------------
W, H, PAD = 640, 220, 40
COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea"]


def _axis(top: float, unit: str) -> str:
    lines = []
    for i in range(5):
        y = PAD + (H - 2 * PAD) * i / 4
        value = top * (1 - i / 4)
        lines.append(f'<line x1="{PAD}" x2="{W - 10}" y1="{y:.0f}" y2="{y:.0f}" stroke="#e5e7eb"/>')
        lines.append(
            f'<text x="{PAD - 4}" y="{y + 4:.0f}" text-anchor="end">{value:.3g}{unit}</text>'
        )
    return "".join(lines)


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], unit: str = "") -> str:
    top = max([v for vals in series.values() for v in vals] + [1e-9]) * 1.1
    n, k = max(len(labels), 1), max(len(series), 1)
    slot = (W - PAD - 10) / n
    bar = max(slot / (k + 1), 1)
    parts = [_axis(top, unit)]
    for s, (name, vals) in enumerate(series.items()):
        for i, v in enumerate(vals):
            h = (H - 2 * PAD) * v / top
            x = PAD + i * slot + s * bar + bar / 2
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{H - PAD - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[s % 4]}"><title>{html.escape(labels[i])} '
                f"{html.escape(name)}: {v:g}{unit}</title></rect>"
            )
    return _frame(title, labels, list(series), parts, slot)


def line_chart(
    title: str, labels: list[str], series: dict[str, list[float | None]], unit: str = ""
) -> str:
    top = max([v for vals in series.values() for v in vals if v is not None] + [1e-9]) * 1.1
    n = max(len(labels), 1)
    slot = (W - PAD - 10) / n
    parts = [_axis(top, unit)]
    for s, (name, vals) in enumerate(series.items()):
        pts = [
            (PAD + i * slot + slot / 2, H - PAD - (H - 2 * PAD) * v / top)
            for i, v in enumerate(vals)
            if v is not None
        ]
        if pts:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            color = COLORS[s % 4]
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
                f"<title>{html.escape(name)}</title></polyline>"
            )
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[s % 4]}"/>' for x, y in pts
            ]
    return _frame(title, labels, list(series), parts, slot)


def _frame(title: str, labels: list[str], series: list[str], parts: list[str], slot: float) -> str:
    step = max(1, len(labels) // 12)
    ticks = [
        f'<text x="{PAD + i * slot + slot / 2:.1f}" y="{H - PAD + 14}" text-anchor="middle">'
        f"{html.escape(lab)}</text>"
        for i, lab in enumerate(labels)
        if i % step == 0
    ]
    legend = [
        f'<tspan fill="{COLORS[s % 4]}">■ {html.escape(name)}</tspan> '
        for s, name in enumerate(series)
    ]
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{html.escape(title)}">{"".join(parts)}{"".join(ticks)}'
        f'<text x="{PAD}" y="16">{"".join(legend)}</text></svg></figure>'
    )


# -- the page -----------------------------------------------------------------------------
def to_html(period: str, data: dict[str, Any], tz: tzinfo) -> str:
    groups = data["groups"]
    total = groups["total"].get("total") or dict.fromkeys(COLUMNS, 0)
    # Calls by hour of day (summed over the period's days).
    by_hod: dict[str, dict[str, float]] = {
        f"{h:02d}": {"offered": 0, "answered": 0} for h in range(24)
    }
    for key, m in groups["hour"].items():
        hod = key[11:13]
        by_hod[hod]["offered"] += m["offered"]
        by_hod[hod]["answered"] += m["answered"]
    hours = list(by_hod)
    trend_group = "hour" if period == "daily" else "day"
    trend = groups[trend_group]
    tlabels = [k[11:16] if trend_group == "hour" else k[5:] for k in trend]
    agents = groups["agent"]
    charts = [
        bar_chart(
            "Calls by hour",
            hours,
            {
                "offered": [by_hod[h]["offered"] for h in hours],
                "answered": [by_hod[h]["answered"] for h in hours],
            },
        ),
        line_chart(
            f"ASA (s) by {trend_group}", tlabels, {"ASA": [m["asa"] for m in trend.values()]}, "s"
        ),
        line_chart(
            f"Service level ({data['service_level_seconds']:g} s) by {trend_group}",
            tlabels,
            {
                "service level": [
                    None if m["service_level"] is None else 100 * m["service_level"]
                    for m in trend.values()
                ]
            },
            "%",
        ),
        bar_chart(
            "Talk hours per agent",
            [k for k in agents if k != "-"],
            {"talk hours": [m["talk_hours"] for k, m in agents.items() if k != "-"]},
            "h",
        ),
        bar_chart(
            f"Abandoned by {trend_group}",
            tlabels,
            {
                "abandoned": [m["abandoned"] - m["short_abandons"] for m in trend.values()],
                "short abandons": [m["short_abandons"] for m in trend.values()],
            },
        ),
    ]

    def table(group: str) -> str:
        rows = groups[group]
        head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in COLUMNS)
        body = "".join(
            f"<tr><td>{html.escape(k)}</td>"
            + "".join(f"<td>{_fmt(c, m[c])}</td>" for c in COLUMNS)
            + "</tr>"
            for k, m in rows.items()
        )
        return f"<h2>By {group}</h2><table><tr><th>{group}</th>{head}</tr>{body}</table>"

    since = datetime.fromisoformat(data["since"]).astimezone(tz)
    until = datetime.fromisoformat(data["until"]).astimezone(tz)
    kpis = "".join(
        f'<div class="kpi"><span>{c.replace("_", " ")}</span><b>{_fmt(c, total[c])}</b></div>'
        for c in COLUMNS
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>12345 {period} report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #111827; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: .8rem; }}
.kpi {{ border: 1px solid #e5e7eb; border-radius: .4rem; padding: .4rem .8rem; }}
.kpi span {{ display: block; color: #6b7280; font-size: .8rem; }} .kpi b {{ font-size: 1.3rem; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(660px, 1fr)); }}
figure {{ margin: .5rem 0; }} figcaption {{ font-weight: 600; }}
svg text {{ font-size: 10px; fill: #374151; }}
table {{ border-collapse: collapse; margin-bottom: 1rem; }}
td, th {{ border-bottom: 1px solid #e5e7eb; padding: .2rem .5rem; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.target {{ color: #6b7280; font-size: .8rem; }} .below {{ color: #dc2626; }}
</style></head><body>
<h1>12345 hotline — {period} report</h1>
<p>{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} ({html.escape(data["timezone"])}).
Short abandons: under {data["short_abandon_seconds"]:g} s; service level: answered within
{data["service_level_seconds"]:g} s of offered minus short abandons.</p>
<div class="kpis">{kpis}</div>
<div class="charts">{"".join(charts)}</div>
{table("queue")}{table("agent")}{table("language")}{table("kind")}{table("region")}
{_tickets(data.get("tickets"))}
{_satisfaction(data.get("satisfaction"))}
</body></html>
"""


def _fmt(column: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if column in ("service_level", "abandonment_rate", "satisfaction_rate", "satisfied_share"):
        return f"{100 * value:.1f}%"
    if column in ("asa", "aht"):
        return f"{value:.1f}s"
    if column == "talk_hours":
        return f"{value:.2f}"
    return str(value)


def _tickets(tickets: dict[str, Any] | None) -> str:
    """The period's top ticket categories and repeat callers (same number, same problem)."""
    if tickets is None:
        return ""
    cats = (
        "".join(
            f"<tr><td>{html.escape(c['category'])}</td><td>{c['tickets']}</td></tr>"
            for c in tickets["top_categories"]
        )
        or '<tr><td colspan="2">no tickets</td></tr>'
    )
    callers = (
        "".join(
            f"<tr><td>{html.escape(r['caller_number'])}</td><td>{r['tickets']}</td>"
            f"<td>{r['repeats']}</td></tr>"
            for r in tickets["repeat_callers"]
        )
        or '<tr><td colspan="3">none</td></tr>'
    )
    return (
        "<h2>Top ticket categories</h2><table><tr><th>category</th><th>tickets</th></tr>"
        f"{cats}</table><h2>Repeat callers</h2><table><tr><th>number</th><th>tickets</th>"
        f"<th>repeats</th></tr>{callers}</table>"
    )


def _satisfaction(sat: dict[str, Any] | None) -> str:
    """Surveyed, satisfaction rate (with the published target beside it) and satisfied
    share; then the same by department, category and agent."""
    if sat is None:
        return ""
    total = sat["total"]
    rate = total["satisfaction_rate"]
    below = " below" if rate is not None and rate < TARGET_LOW else ""
    kpis = (
        f'<div class="kpi"><span>surveyed</span><b>{total["surveyed"]}</b></div>'
        f'<div class="kpi"><span>satisfaction rate</span><b>{_fmt("satisfaction_rate", rate)}</b>'
        f' <span class="target{below}">target {TARGET_TEXT}</span></div>'
        f'<div class="kpi"><span>satisfied share</span>'
        f"<b>{_fmt('satisfied_share', total['satisfied_share'])}</b></div>"
    )
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in SATISFACTION)

    def line(r: dict[str, Any]) -> str:
        cells = "".join(f"<td>{_fmt(c, r[c])}</td>" for c in SATISFACTION)
        return f"<tr><td>{html.escape(r['key'])}</td>{cells}</tr>"

    def table(group: str, rows: list[dict[str, Any]]) -> str:
        body = "".join(line(r) for r in rows)
        none = f'<tr><td colspan="{len(SATISFACTION) + 1}">no completed surveys</td></tr>'
        head_row = f"<tr><th>{group}</th>{head}</tr>"
        return f"<h3>Satisfaction by {group}</h3><table>{head_row}{body or none}</table>"

    tables = "".join(table(g, rows) for g, rows in sat["groups"].items())
    return (
        '<h2 id="satisfaction">Citizen satisfaction</h2>'
        "<p>Satisfaction-survey callbacks completed in the period: satisfaction rate = "
        "(satisfied + basically satisfied) / surveyed; satisfied share = satisfied / "
        f'surveyed.</p><div class="kpis">{kpis}</div>{tables}'
    )
