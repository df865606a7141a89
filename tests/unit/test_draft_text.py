"""``hotline draft``'s pure parts: the draft's txt and JSON renderings
(``hotline/app/drafts.py``) of a typed transcript, with the shipped taxonomy (the parser itself:
tests/unit/test_text_input.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from drafting import extract
from drafting.text_input import parse_turns
from hotline.app.drafts import FileDraft, draft_fields, to_json, to_txt
from hotline.app.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 15, 30)  # a Wednesday

ZH_CALL = """坐席：您好，12345市民服务热线。
市民：你好，和平路上的路灯坏了，已经一个星期了。

市民：我的电话是幺三九 一二三四 五六七八。
"""


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(ROOT / "config" / "hotline.yaml")


def test_txt_and_json_renderings(settings: Settings) -> None:
    d = extract(parse_turns(ZH_CALL), taxonomy=settings.draft, now=NOW)
    fields = draft_fields(d, settings.tickets)
    fd = FileDraft("call.txt", NOW, "option", fields)
    txt = to_txt(fd, settings.tickets)
    assert txt.splitlines() == [
        "== call.txt ==",
        "来电时间：2026-11-25T15:30 (--now)",
        f"类型：求助 ({d.kind.confidence:.2f}) （推断）",  # inferred from the category
        f"类别：路灯照明 [street_lighting] ({d.category.confidence:.2f})",
        "承办部门：市城市管理局 [urban_management]",
        "地点：和平路",
        "电话：13912345678 (手机)",
        "时间：一个星期 (2026-11-18 – 2026-11-25)",  # noqa: RUF001
        "紧急程度：（无）",
        f"摘要：{d.summary.text}",
    ]
    (obj,) = json.loads(to_json([fd]))
    # The agent page's names (DraftAnalysis), plus location and department.
    assert set(obj) >= {
        "kind",
        "category",
        "department",
        "location",
        "phones",
        "dates",
        "urgency",
        "summary",
        "ticket_fields",
    }
    assert (obj["file"], obj["now"], obj["now_source"]) == ("call.txt", NOW.isoformat(), "option")
    assert obj["category"]["value"] == "street_lighting"
    assert obj["department"] == "urban_management"
    assert obj["location"] == "和平路"
    assert [p["value"] for p in obj["phones"]] == ["13912345678"]
    assert obj["dates"][0]["start"] == "2026-11-18"
    assert obj["ticket_fields"]["category"] == "street_lighting"


def test_english_labels(settings: Settings) -> None:
    text = "caller: the street light on heping road is broken\n"
    d = extract(parse_turns(text), taxonomy=settings.draft, now=NOW)
    fd = FileDraft("en.txt", NOW, "file", draft_fields(d, settings.tickets))
    lines = to_txt(fd, settings.tickets).splitlines()
    assert lines[1] == "Call time: 2026-11-25T15:30 (the file's modification time)"
    assert lines[3].startswith("Category: Street lighting [street_lighting]")
    assert lines[5] == "Location: Heping Road"
    assert lines[6] == "Phones: (none)"
