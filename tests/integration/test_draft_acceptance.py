"""Drafts that learn from the desk, on SQLite and PostgreSQL: filing a ticket from a call the
system drafted records what the agent did with each drafted field (kept, changed, emptied,
added), only at the first save, without the caller's words; the weekly report counts them per
field with the acceptance rate, in its HTML (English and Chinese) and its CSV."""

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


def weekly(engine: Engine, at: datetime) -> dict[str, Any]:
    since, until = bounds("weekly", at.astimezone(SHANGHAI).date(), SHANGHAI)
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
