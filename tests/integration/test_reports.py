"""Reports: the CLI on records with known values (figures checked in the CSV), and the API's
HTML page rendered in headless Chromium (screenshot kept in test-results/) and printed by it
to PDF, in English and in Chinese."""

from __future__ import annotations

import asyncio
import base64
import csv
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions
from sqlalchemy import Engine, update

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.calls.store import CallStore
from hotline.db.models import CallRow
from hotline.metrics.config import MetricsConfig
from hotline.metrics.render import ReportRenderer
from hotline.metrics.report import bounds, to_csv
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.tickets.store import TicketStore
from telephony.tracker import CallRecord, Disposition
from testkit.support import shipped_config_with, supervisor_session
from tests.integration.test_config import run_cli
from tests.integration.test_wallboard import RESULTS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def record(n: int, hour: int, wait: float, talk: float | None, agent: str | None) -> CallRecord:
    start = datetime(2026, 11, 20, hour, 5, tzinfo=SHANGHAI).timestamp()
    answered = talk is not None
    return CallRecord(
        call_id=f"r{n}",
        caller_number=f"1390000000{n}",
        dialled_number="12345",
        started_at=start,
        queue="operator",
        queue_joined_at=start + 8,
        answered_at=start + 8 + wait if answered else None,
        ended_at=start + 8 + wait + (talk or 0),
        agent=agent,
        queue_wait=wait,
        talk_time=talk,
        disposition=Disposition.ANSWERED if answered else Disposition.ABANDONED,
        language="zh",
        request_kind="complaint" if n == 1 else "consultation",
    )


def test_daily_report_from_known_records(tmp_path: Path, engine: Engine) -> None:
    """On SQLite and PostgreSQL: the CLI reads the database the test filled."""
    CallStore(engine).save_many(
        [
            record(1, 9, 10.0, 60.0, "1001"),
            record(2, 9, 30.0, 120.0, "1002"),
            record(3, 14, 40.0, None, None),  # abandoned after 40 s
            record(4, 14, 2.0, None, None),  # a short abandon
        ]
    )
    tickets = TicketStore(engine)
    noon = datetime(2026, 11, 20, 12, tzinfo=SHANGHAI)
    first = tickets.insert(
        {"status": "open", "category": "street_lighting", "caller_number": "13900000001"},
        actor="a",
        at=noon,
    )
    for values in ({"category": "street_lighting", "repeat_of": first.id}, {"category": "noise"}):
        tickets.insert(
            {"status": "open", "caller_number": "13900000001", **values}, actor="a", at=noon
        )
    cfg = tmp_path / "hotline.yaml"
    url = engine.url.render_as_string(hide_password=False)
    cfg.write_text(shipped_config_with(url), encoding="utf-8")
    out = tmp_path / "reports"
    day = ("-c", str(cfg), "report", "daily", "--date", "2026-11-20", "--out", str(out))
    r = run_cli(*day, "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "4 offered, 2 answered" in r.stdout
    rows = list(csv.DictReader((out / "daily-2026-11-20.csv").read_text().splitlines()))
    total = next(row for row in rows if row["group"] == "total")
    assert (total["offered"], total["answered"], total["abandoned"]) == ("4", "2", "2")
    assert total["short_abandons"] == "1"
    assert float(total["asa"]) == 20.0  # (10 + 30) / 2
    assert float(total["aht"]) == 90.0  # (60 + 120) / 2
    assert float(total["service_level"]) == round(1 / 3, 4)  # 1 within 20 s / (4 - 1)
    assert float(total["abandonment_rate"]) == 0.5
    hours = {row["key"]: row["offered"] for row in rows if row["group"] == "hour"}
    assert hours == {"2026-11-20 09:00": "2", "2026-11-20 14:00": "2"}  # local hours
    text = (out / "daily-2026-11-20.csv").read_text()
    assert "category,street_lighting,2," in text and "category,noise,1," in text
    assert "repeat_caller,13900000001,3,1" in text  # three tickets, one a repeat
    # The abandoned calls reached no agent: not an agent's row (counted in the total, by queue).
    assert [row["key"] for row in rows if row["group"] == "agent"] == ["1001", "1002"]
    assert [row["offered"] for row in rows if row["group"] == "queue"] == ["4"]
    assert not [row for row in rows if row["group"] == "pbx"]  # one PBX: no by-PBX block
    defined = {r[1]: r[2] for r in csv.reader(text.splitlines()) if r and r[0] == "definition"}
    assert defined["aht"].startswith("AHT (average handling time) = (talk + hold + wrap-up) /")
    assert "occupancy" in defined  # the CSV's occupancy block has its definition too
    page = (out / "daily-2026-11-20.html").read_text()
    assert "Top ticket categories" in page and "Repeat callers" in page
    assert page.count("<svg") == 5 and "Talk hours per agent" in page
    assert '<h2 id="definitions">Definitions</h2>' in page and 'id="by-pbx"' not in page
    assert "<small>talk + hold + wrap-up</small>" in page  # under the AHT figure
    # Chinese by default: the same figures, the words and the category names translated.
    zh = run_cli(*day)
    assert zh.returncode == 0, zh.stderr
    page = (out / "daily-2026-11-20.html").read_text()
    assert '<html lang="zh-CN">' in page and '<h2 id="by-queue">按队列统计</h2>' in page
    assert "<td>路灯照明</td><td>2</td>" in page and "Top ticket categories" not in page
    assert "<dt>平均处理时长</dt><dd>平均处理时长（AHT）=（通话 + 保持 + 话后处理）/ 接通量" in page
    agents = page[page.index('<h2 id="by-agent">') : page.index('<h2 id="by-language">')]
    assert re.findall(r"<tr><td>([^<]*)</td>", agents) == ["1001", "1002"]
    bad = run_cli("-c", str(cfg), "report", "daily", "--date", "20/11/2026")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_live_aht_is_the_reports(engine: Engine) -> None:
    """The live view (CallStore.summary: the demo's and the service's headline) and the report
    give the same AHT: (talk + hold + wrap-up) / answered, wrap-up included in both."""
    store = CallStore(engine)
    store.save_many(
        [
            record(1, 9, 10.0, 60.0, "1001"),
            record(2, 9, 30.0, 120.0, "1002"),
            record(3, 14, 40.0, None, None),
        ]
    )
    with engine.begin() as conn:  # the desk writes each wrap-up on the call it follows
        for call_id, seconds in (("r1", 30.0), ("r2", 10.0)):
            conn.execute(
                update(CallRow).where(CallRow.call_id == call_id).values(wrapup_time=seconds)
            )
    since = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    live = store.summary(since)
    report = MetricsService(
        MetricsConfig(SHANGHAI, pbx_extensions={"main": frozenset({"1001", "1002"})}),
        MetricsStore(engine),
    ).report(since, since + timedelta(days=1))
    total = report["groups"]["total"]["total"]
    assert live.aht == total["aht"] == 110.0  # (60 + 30 + 120 + 10) / 2
    assert live.answered == total["answered"] == 2


def test_by_pbx_table_with_several_pbxes(engine: Engine) -> None:
    """Two PBXes configured: the page and the CSV have a by-PBX block, the quiet PBX listed
    with zeros; one PBX: neither has it."""
    calls = [record(1, 9, 10.0, 60.0, "2001"), record(2, 9, 30.0, 120.0, "3001")]
    calls += [record(3, 14, 40.0, None, None)]
    CallStore(engine).save_many(
        [replace(c, pbx=pbx) for c, pbx in zip(calls, ("east", "west", "east"), strict=True)]
    )
    since = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    seats = {"east": frozenset({"2001"}), "west": frozenset({"3001"}), "north": frozenset()}
    data = MetricsService(
        MetricsConfig(SHANGHAI, pbx_extensions=seats), MetricsStore(engine)
    ).report(since, since + timedelta(days=1))
    rows = [r for r in csv.reader(to_csv(data).splitlines()) if r and r[0] == "pbx"]
    assert [r[:5] for r in rows] == [
        ["pbx", "east", "2", "1", "1"],
        ["pbx", "west", "1", "1", "0"],
        ["pbx", "north", "0", "0", "0"],
    ]
    page = ReportRenderer().html("daily", data, SHANGHAI, "en")
    table = page[page.index('<h2 id="by-pbx">By PBX</h2>') : page.index('<h2 id="by-queue">')]
    cells = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", table)
    assert cells == [("east", "2", "1", "1"), ("west", "1", "1", "0"), ("north", "0", "0", "0")]
    one = MetricsService(
        MetricsConfig(SHANGHAI, pbx_extensions={"east": seats["east"]}), MetricsStore(engine)
    ).report(since, since + timedelta(days=1))
    assert 'id="by-pbx"' not in ReportRenderer().html("daily", one, SHANGHAI)
    assert "\npbx," not in to_csv(one)


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_report_period_of_any_instant(frozen_now: datetime, period: str) -> None:
    """The period containing "now" (a Sunday night, a month's last evening...): local
    midnights, Monday to Monday, the 1st to the 1st, "now" inside it."""
    today = frozen_now.astimezone(SHANGHAI).date()
    since, until = bounds(period, today, SHANGHAI)
    assert since <= frozen_now < until
    assert since.utcoffset() == until.utcoffset() == timedelta(hours=8)
    assert since.time() == until.time() == datetime.min.time()
    length = (until - since).days
    if period == "daily":
        assert since.date() == today and length == 1
    elif period == "weekly":
        assert since.weekday() == 0 and length == 7
    else:
        assert since.day == until.day == 1 and since.month == today.month
        assert (until - timedelta(days=1)).month == today.month and 28 <= length <= 31


async def test_report_page_renders_in_chromium(
    service: Service, settings: Settings, browser: webdriver.Chrome
) -> None:
    async with supervisor_session(service, settings, "repsup", "report-pw-1") as (http, headers):
        page = await http.get("/api/reports/weekly", params={"lang": "en"}, headers=headers)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        as_csv = await http.get("/api/reports/weekly", params={"format": "csv"}, headers=headers)
        assert as_csv.text.startswith("group,key,offered")
        assert (await http.get("/api/reports/yearly", headers=headers)).status_code == 422
        zh = await http.get("/api/reports/weekly", headers=headers)  # Chinese by default
        assert zh.status_code == 200 and "<h1>12345 热线 — 周报</h1>" in zh.text
        bad = await http.get("/api/reports/weekly", params={"lang": "fr"}, headers=headers)
        assert bad.status_code == 422 and "report.bad_lang" in bad.text
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    html_file = RESULTS / "report-weekly.html"
    await asyncio.to_thread(html_file.write_text, page.text, encoding="utf-8")

    def render() -> int:
        browser.get(html_file.as_uri())
        charts = browser.find_elements(By.CSS_SELECTOR, "figure svg")
        browser.save_screenshot(str(RESULTS / "report-weekly.png"))
        return len(charts)

    assert await asyncio.to_thread(render) == 5

    # Printed to PDF by the same Chromium (A4 from the page's @page rule), in Chinese too.
    zh_file = RESULTS / "report-weekly-zh.html"
    await asyncio.to_thread(zh_file.write_text, zh.text, encoding="utf-8")

    def print_pdf(path: Path) -> bytes:
        browser.get(path.as_uri())
        options = PrintOptions()
        options.background = True
        return base64.b64decode(browser.print_page(options))

    for path in (html_file, zh_file):
        pdf = await asyncio.to_thread(print_pdf, path)
        await asyncio.to_thread(path.with_suffix(".pdf").write_bytes, pdf)
        assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
        pages = re.findall(rb"/Type\s*/Page\b", pdf)
        assert len(pages) >= 1
