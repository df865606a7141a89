"""The report's content before any words: the period's bounds, the groups it shows (page
and CSV alike), each figure's definition, and the CSV. ``render.py`` makes the page of it."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from hotline.core.errors import Invalid
from hotline.metrics.formulas import Metrics
from hotline.metrics.labels import CATALOGUE, Labels

PERIODS = ("daily", "weekly", "monthly")
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
# Per agent: seconds in each state and occupancy (MetricsService.compute's "occupancy").
OCCUPANCY = ["logged_in_s", "paused_s", "talk_s", "wrap_up_s", "occupancy"]
# The figures the definitions block defines, in its order (the call figures, then occupancy).
DEFINED = [*COLUMNS, "occupancy"]
# The data key of calls that reached no agent (formulas.key_of: a missing key).
NO_AGENT = "-"
# The draft acceptance block: per drafted ticket field (hotline/tickets/acceptance.py).
ACCEPTANCE = ["accepted", "changed", "emptied", "added", "rate"]
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


def shown_groups(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The groups the report shows, on the page and in the CSV alike: by agent without the
    calls that reached no agent (no agent's work: they count in the totals and by queue), by
    PBX only when several are configured (``data["pbxes"]``), each of them listed even
    without calls."""
    pbxes = list(data.get("pbxes") or ())
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group, rows in data["groups"].items():
        if group == "agent":
            rows = {k: m for k, m in rows.items() if k != NO_AGENT}
        elif group == "pbx":
            if len(pbxes) < 2:
                continue
            rows = {p: rows.get(p) or Metrics().as_dict() for p in pbxes} | rows
        out[group] = rows
    return out


def to_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["group", "key", *COLUMNS])
    for group, rows in shown_groups(data).items():
        for key, m in rows.items():
            w.writerow([group, key, *("" if m[c] is None else m[c] for c in COLUMNS)])
    occupancy = data.get("occupancy")
    if occupancy:
        w.writerow([])
        w.writerow(["occupancy", "agent", *OCCUPANCY])
        for agent, o in occupancy.items():
            w.writerow(["agent", agent, *("" if o[c] is None else o[c] for c in OCCUPANCY)])
    tickets = data.get("tickets")
    if tickets:
        w.writerow([])
        w.writerow(["tickets", "key", "tickets", "repeats"])
        for c in tickets["top_categories"]:
            w.writerow(["category", c["category"], c["tickets"], ""])
        for r in tickets["repeat_callers"]:
            w.writerow(["repeat_caller", r["caller_number"], r["tickets"], r["repeats"]])
    drafts = data.get("draft_acceptance")
    if drafts:
        w.writerow([])
        w.writerow(["draft_acceptance", "field", *ACCEPTANCE[:-1], "acceptance_rate"])
        for r in drafts:
            w.writerow(["field", r["field"], *("" if r[c] is None else r[c] for c in ACCEPTANCE)])
    weekly = data.get("draft_acceptance_weekly")
    if weekly:
        w.writerow([])
        head = ["draft_acceptance_weekly", "week_start", "field", *ACCEPTANCE[:-1]]
        w.writerow([*head, "acceptance_rate"])
        for r in weekly:
            cells = ("" if r[c] is None else r[c] for c in ACCEPTANCE)
            w.writerow(["week", r["week"], r["field"], *cells])
    sat = data.get("satisfaction")
    if sat:
        w.writerows(_satisfaction_rows(sat))
    # What each figure is (as on the page, in English: the CSV's words are its keys).
    w.writerow([])
    w.writerow(["definitions", "figure", "formula"])
    for name, formula in definitions(CATALOGUE["en"], data):
        w.writerow(["definition", name, formula])
    return out.getvalue()


def definitions(t: Labels, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(figure, formula) for every figure of the report, with its thresholds filled in."""
    short = f"{data['short_abandon_seconds']:g}"
    sl = f"{data['service_level_seconds']:g}"
    shown = [c for c in DEFINED if c != "occupancy" or data.get("occupancy") is not None]
    return [(c, t.formulas[c].format(short=short, sl=sl)) for c in shown]


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
