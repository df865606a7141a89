"""Drafts that learn from the desk, on SQLite and PostgreSQL: filing a ticket from a call the
system drafted records what the agent did with each drafted field (kept, changed, emptied,
added), only at the first save, without the caller's words; the weekly report counts them per
field with the acceptance rate, in its HTML (English and Chinese) and its CSV; the monthly
report per field and week too."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hotline.app.settings import Settings
from hotline.core.auth import Principal
from hotline.db.models import DraftAcceptanceRow
from hotline.metrics.config import MetricsConfig
from hotline.metrics.render import ReportRenderer, bounds, to_csv
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.tickets.acceptance import ShownDraft
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from tests.integration.test_tickets import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENT = Principal("ag1", ("agent",))
LOCATION = "鼓楼区湖北路 5 号"
DESCRIPTION = "路灯不亮，已经三天了"
CALLBACK = "13912345678"  # the number the caller gave


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(fixed_now: datetime) -> Clock:
    return Clock(fixed_now)


@pytest.fixture
def svc(engine: Engine, clock: Clock) -> TicketService:
    config = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    settings = Settings.model_validate({"tickets": config["tickets"]})
    return TicketService(
        settings.tickets, TicketStore(engine), clock, tz=SHANGHAI, languages=settings.ivr.languages
    )


def draft(**suggested: str | None) -> ShownDraft:
    return ShownDraft(
        suggested={
            "kind": "complaint",
            "category": "street_lighting",
            "location": LOCATION,
            "callback_number": CALLBACK,
            "description": DESCRIPTION,
            **suggested,
        },
        prefilled={
            "kind": "consultation",
            "category": None,
            "location": "",
            "callback_number": "",
            "description": "",
        },
    )


def stored(engine: Engine) -> dict[tuple[int, str], DraftAcceptanceRow]:
    with Session(engine) as s:
        rows = s.scalars(select(DraftAcceptanceRow)).all()
    return {(r.ticket_id, r.field): r for r in rows}


def weekly(engine: Engine, at: datetime, period: str = "weekly") -> dict[str, Any]:
    since, until = bounds(period, at.astimezone(SHANGHAI).date(), SHANGHAI)
    service = MetricsService(MetricsConfig(SHANGHAI), MetricsStore(engine), TicketStore(engine))
    return service.report(since, until)


async def test_filing_records_each_fields_outcome_and_the_weekly_report_counts_them(
    engine: Engine, svc: TicketService, clock: Clock
) -> None:
    # Kind and category kept, the location emptied, the description changed.
    first = await svc.create(
        AGENT,
        {
            "kind": "complaint",
            "category": "street_lighting",
            "location": "",
            "callback_number": CALLBACK,
            "description": "路灯不亮，影响夜间出行",
        },
        call_id="pbx1-1001.1",
        draft=draft(),
    )
    # The category changed; the rest as drafted (whitespace apart); no location drafted, the
    # agent typed one.
    second = await svc.create(
        AGENT,
        {
            "kind": "complaint",
            "category": "noise",
            "location": "人民路",
            "callback_number": "13700000000",
            "description": f"  {DESCRIPTION} ",
        },
        call_id="pbx1-1002.1",
        draft=draft(location=None),
    )
    # Filed without a draft (none came before the agent saved): nothing recorded.
    third = await svc.create(
        AGENT,
        {"kind": "consultation", "category": "noise", "description": "咨询"},
        call_id="pbx1-1003.1",
    )
    a, b = first.ticket.id, second.ticket.id
    rows = stored(engine)
    assert {k: r.outcome for k, r in rows.items()} == {
        (a, "kind"): "accepted",
        (a, "category"): "accepted",
        (a, "location"): "emptied",
        (a, "callback_number"): "accepted",
        (a, "description"): "changed",
        (b, "kind"): "accepted",
        (b, "category"): "changed",
        (b, "location"): "added",
        (b, "callback_number"): "changed",
        (b, "description"): "accepted",
    }
    assert not any(t == third.ticket.id for t, _ in rows)
    assert TicketStore(engine).acceptance_of(third.ticket.id) == {}
    assert TicketStore(engine).acceptance_of(b)["location"] == "added"
    assert rows[(b, "category")].draft_value == "street_lighting"
    assert rows[(b, "category")].saved_value == "noise"
    assert rows[(a, "category")].call_id == "pbx1-1001.1"
    assert rows[(a, "kind")].at == clock.at
    # The caller's words are not copied: only the outcome for location and description.
    for field in ("location", "callback_number", "description"):
        assert rows[(a, field)].draft_value is None and rows[(a, field)].saved_value is None

    # A later edit does not change what the first save recorded.
    clock.at += timedelta(minutes=5)
    await svc.update(AGENT, a, {"location": LOCATION, "category": "noise"})
    assert {k: r.outcome for k, r in stored(engine).items()} == {
        k: r.outcome for k, r in rows.items()
    }

    data = weekly(engine, clock.at)
    per_field = {r["field"]: r for r in data["draft_acceptance"]}
    assert per_field["kind"] == {
        "field": "kind",
        "accepted": 2,
        "changed": 0,
        "emptied": 0,
        "added": 0,
        "rate": 1.0,
    }
    assert (per_field["category"]["accepted"], per_field["category"]["changed"]) == (1, 1)
    assert per_field["category"]["rate"] == 0.5
    assert per_field["location"]["emptied"] == 1 and per_field["location"]["added"] == 1
    assert per_field["location"]["rate"] == 0.0  # the one drafted location was emptied
    assert per_field["description"]["rate"] == 0.5

    # The CSV: its own block, one row per field.
    lines = to_csv(data).splitlines()
    start = lines.index("draft_acceptance,field,accepted,changed,emptied,added,acceptance_rate")
    block = list(csv.reader(lines[start + 1 : start + 6]))
    assert block == [
        ["field", "kind", "2", "0", "0", "0", "1.0"],
        ["field", "category", "1", "1", "0", "0", "0.5"],
        ["field", "location", "0", "0", "1", "1", "0.0"],
        ["field", "callback_number", "1", "1", "0", "0", "0.5"],
        ["field", "description", "1", "1", "0", "0", "0.5"],
    ]

    renderer = ReportRenderer()
    en = renderer.html("weekly", data, SHANGHAI, "en")
    assert '<h2 id="draft-acceptance">Draft acceptance per field</h2>' in en
    assert "<td>category</td><td>1</td><td>1</td><td>0</td><td>0</td><td>50.0%</td>" in en
    zh = renderer.html("weekly", data, SHANGHAI, "zh")
    assert '<h2 id="draft-acceptance">草稿字段采纳率</h2>' in zh
    head = "<th>字段</th><th>原样采纳</th><th>修改</th><th>清空</th><th>新增</th><th>采纳率</th>"
    assert head in zh
    assert "<td>诉求类型</td><td>2</td><td>0</td><td>0</td><td>0</td><td>100.0%</td>" in zh
    assert "<td>地点</td><td>0</td><td>0</td><td>1</td><td>1</td><td>0.0%</td>" in zh
    assert "<td>回拨电话</td><td>1</td><td>1</td><td>0</td><td>0</td><td>50.0%</td>" in zh
    assert "Draft acceptance" not in zh

    # The week before: no drafted tickets, the section says so; the CSV has no block.
    before = weekly(engine, clock.at - timedelta(days=7))
    assert before["draft_acceptance"] == []
    assert "draft_acceptance" not in to_csv(before)
    assert "暂无系统草稿的工单" in renderer.html("weekly", before, SHANGHAI, "zh")


async def test_the_monthly_report_shows_each_fields_acceptance_per_week(
    engine: Engine, svc: TicketService, clock: Clock
) -> None:
    """November 2026 in Shanghai: Sunday the 1st to Monday the 30th, six ISO weeks, the
    first and last cut to one day. Drafted tickets in the weeks of 2 and 16 November (one just
    after Monday midnight local time, still Sunday in UTC), none in the week of the 9th; one
    the evening before the month."""
    drafted = {
        "kind": "complaint",
        "category": "street_lighting",
        "location": LOCATION,
        "description": DESCRIPTION,
    }
    filed = [
        # Before the month (Saturday 31 October, 23:30 local): not counted.
        (datetime(2026, 10, 31, 23, 30), {**drafted, "category": "noise"}, draft()),
        # Week 45: everything kept; then the category changed and the location emptied.
        (datetime(2026, 11, 4, 10), drafted, draft()),
        (datetime(2026, 11, 4, 11), {**drafted, "category": "noise", "location": ""}, draft()),
        # Week 47, Monday 00:30 local: the kind changed; no location drafted, one typed.
        (
            datetime(2026, 11, 16, 0, 30),
            {**drafted, "kind": "report", "location": "人民路"},
            draft(location=None),
        ),
    ]
    for n, (local, values, shown) in enumerate(filed):
        clock.at = local.replace(tzinfo=SHANGHAI)
        await svc.create(AGENT, dict(values), call_id=f"pbx1-2{n:03d}.1", draft=shown)

    data = weekly(engine, datetime(2026, 11, 20, 12, tzinfo=SHANGHAI), "monthly")
    rows = {(r["week"], r["field"]): r for r in data["draft_acceptance_weekly"]}
    mondays = ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert list(dict.fromkeys(w for w, _ in rows)) == mondays
    assert rows[("2026-11-02", "category")] == {
        "week": "2026-11-02",
        "field": "category",
        "accepted": 1,
        "changed": 1,
        "emptied": 0,
        "added": 0,
        "rate": 0.5,
    }
    assert rows[("2026-11-02", "location")]["rate"] == 0.5
    assert rows[("2026-11-16", "kind")]["rate"] == 0.0
    assert rows[("2026-11-16", "category")]["rate"] == 1.0
    assert rows[("2026-11-16", "location")]["added"] == 1
    assert rows[("2026-11-16", "location")]["rate"] is None  # nothing drafted, nothing kept
    for monday in ("2026-10-26", "2026-11-09", "2026-11-23", "2026-11-30"):
        for field in ("kind", "category", "location", "description"):
            assert rows[(monday, field)]["rate"] is None
            assert rows[(monday, field)]["accepted"] == rows[(monday, field)]["changed"] == 0
    # The period's totals agree with the weeks'.
    total = {r["field"]: r for r in data["draft_acceptance"]}
    assert (total["kind"]["accepted"], total["kind"]["changed"]) == (2, 1)

    # The CSV: its own block, a row per week and field, the empty weeks' rate empty.
    lines = to_csv(data).splitlines()
    head = "draft_acceptance_weekly,week_start,field,accepted,changed,emptied,added,acceptance_rate"
    start = lines.index(head)
    block = list(csv.reader(lines[start + 1 : start + 1 + 6 * 4]))
    assert len(block) == 24 and all(r[0] == "week" for r in block)
    by = {(r[1], r[2]): r[3:] for r in block}
    assert by[("2026-11-02", "category")] == ["1", "1", "0", "0", "0.5"]
    assert by[("2026-11-02", "kind")] == ["2", "0", "0", "0", "1.0"]
    assert by[("2026-11-09", "category")] == ["0", "0", "0", "0", ""]
    assert by[("2026-11-16", "kind")] == ["0", "1", "0", "0", "0.0"]
    assert by[("2026-11-16", "location")] == ["0", "0", "0", "1", ""]

    # The page: a row per field, a column per week, then the whole period.
    renderer = ReportRenderer()
    en = renderer.html("monthly", data, SHANGHAI, "en")
    assert '<h3 id="draft-acceptance-weekly">Draft acceptance per field and week</h3>' in en
    weeks = "".join(
        f"<th>W{n} ({d})</th>"
        for n, d in zip(
            range(44, 50), ("10-26", "11-02", "11-09", "11-16", "11-23", "11-30"), strict=True
        )
    )
    assert f"<th>field</th>{weeks}<th>whole period</th>" in en
    empty = "<td></td>"
    assert (
        f"<td>kind</td>{empty}<td>100.0% (2)</td>{empty}<td>0.0% (1)</td>{empty * 2}"
        "<td>66.7% (3)</td>"
    ) in en
    assert (
        f"<td>category</td>{empty}<td>50.0% (2)</td>{empty}<td>100.0% (1)</td>{empty * 2}"
        "<td>66.7% (3)</td>"
    ) in en
    assert (f"<td>location</td>{empty}<td>50.0% (2)</td>{empty * 4}<td>50.0% (2)</td>") in en
    assert "0.0% (0)" not in en
    zh = renderer.html("monthly", data, SHANGHAI, "zh")
    assert '<h3 id="draft-acceptance-weekly">草稿字段每周采纳率</h3>' in zh
    assert "<th>字段</th><th>第44周（10-26）</th><th>第45周（11-02）</th>" in zh
    assert "<th>第49周（11-30）</th><th>全时段</th>" in zh
    assert (
        f"<td>类别</td>{empty}<td>50.0%（2）</td>{empty}<td>100.0%（1）</td>{empty * 2}"
        "<td>66.7%（3）</td>"
    ) in zh

    # A weekly report keeps the single block.
    week = weekly(engine, datetime(2026, 11, 4, 12, tzinfo=SHANGHAI))
    assert "draft_acceptance_weekly" not in week
    assert "draft_acceptance_weekly" not in to_csv(week)
    page = renderer.html("weekly", week, SHANGHAI, "en")
    assert 'id="draft-acceptance"' in page and "draft-acceptance-weekly" not in page
