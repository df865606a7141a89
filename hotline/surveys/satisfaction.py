"""Citizen-satisfaction figures from the survey callbacks, shaped once for the API, the
reports and the wallboard.

The published 12345 figure is the satisfaction rate, (satisfied + basically satisfied) /
surveyed, where "surveyed" counts completed surveys (a key was pressed) finished in the period;
unreachable, unanswered, skipped or cancelled surveys are not in it. The satisfied share
(satisfied / surveyed) is shown beside it: a rate held up by "basically satisfied" alone is
a warning sign the rate hides.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from hotline.surveys.policy import CALLING, PAUSED, SCHEDULED
from hotline.surveys.store import StatRow, SurveyStore

# The published target band for the satisfaction rate: 95 % to 97.6 %.
TARGET_LOW, TARGET_HIGH = 0.95, 0.976
TARGET = {"low": TARGET_LOW, "high": TARGET_HIGH}
TARGET_TEXT = "95\u201397.6 %"  # with an en dash
# The report's breakdowns (the API offers every group of the store).
REPORT_GROUPS = ("department", "category", "agent")
NO_KEY = "-"  # a survey without a department, category or agent (e.g. call-triggered)


def _ratio(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def row_dict(row: StatRow) -> dict[str, Any]:
    return {
        "key": row.key if row.key is not None else NO_KEY,
        "surveyed": row.surveyed,
        "satisfied": row.satisfied,
        "basically_satisfied": row.basically_satisfied,
        "dissatisfied": row.dissatisfied,
        "satisfaction_rate": _ratio(row.satisfaction_rate),
        "satisfied_share": _ratio(row.satisfied_share),
    }


def total(store: SurveyStore, since: datetime, until: datetime, tz: tzinfo) -> dict[str, Any]:
    """The one ``total`` row, zeros when nothing was surveyed (the store then has no row)."""
    rows = store.stats(since, until, "total", tz)
    return row_dict(rows[0] if rows else StatRow("total", 0, 0, 0, 0))


def section(store: SurveyStore, since: datetime, until: datetime, tz: tzinfo) -> dict[str, Any]:
    """The report's satisfaction section for [since, until). Blocking (database)."""
    return {
        "target": TARGET,
        "total": total(store, since, until, tz),
        "groups": {
            g: [row_dict(r) for r in store.stats(since, until, g, tz)] for g in REPORT_GROUPS
        },
    }


def today(store: SurveyStore, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The wallboard's survey panel: today's (local day) figures, the work in hand and the
    dialer switch. Blocking (database)."""
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    counts = store.counts()
    return {
        **total(store, midnight, tomorrow, tz),
        "target": TARGET,
        "calling": counts.get(CALLING, 0),
        "scheduled": counts.get(SCHEDULED, 0),
        "paused": counts.get(PAUSED, 0),
        "dialer_paused": store.paused(),
    }
