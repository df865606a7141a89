"""``hotline draft`` run as the command: typed transcripts (Mandarin and English) and a
transcription JSON drafted with the shipped configuration; bad files named on stderr with the
reason, the others still drafted, exit 1; never a traceback."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from asr.transcript import build, to_dict
from asr.types import LegTranscript, Word
from tests.integration.test_config import run_cli

NOW = "2026-11-25T15:30:00+08:00"  # a Wednesday afternoon in the centre's zone

ZH_CALL = """坐席：您好，12345市民服务热线，请讲。
市民：你好，我要反映一下，和平路上的路灯坏了，晚上黑乎乎的，已经一个星期了。
坐席：请问具体在和平路什么位置？
市民：在和平路12号门口。处理好了给我回个电话，我的电话是幺三九 一二三四 五六七八。
坐席：好的，我们会尽快转交相关部门处理。
"""

EN_CALL = """agent: Hello, 12345 citizen service hotline, how can I help?
caller: Hi. There is a water pipe burst on Heping Road since yesterday, water everywhere.
agent: Can I have a number to call you back?
caller: Yes, it is 139 1234 5678.
"""


def draft(*args: str) -> tuple[int, str, str]:
    r = run_cli("-c", "config/hotline.yaml", "draft", *args)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout, r.stderr


def test_mandarin_and_english_drafts(tmp_path: Path) -> None:
    zh = tmp_path / "zh.txt"
    zh.write_text(ZH_CALL, encoding="utf-8")
    en = tmp_path / "en.txt"
    en.write_text(EN_CALL, encoding="utf-8")
    code, out, err = draft(str(zh), str(en), "--format", "json", "--now", NOW)
    assert (code, err) == (0, "")
    z, e = json.loads(out)
    assert (z["file"], z["language"], z["now_source"]) == (str(zh), "zh", "option")
    assert z["now"] == NOW
    assert z["category"]["value"] == "street_lighting"
    assert z["department"] == "urban_management"
    assert z["location"] == "和平路12号"
    assert [p["value"] for p in z["phones"]] == ["13912345678"]  # said as 幺三九…
    assert [(d["phrase"], d["start"], d["end"]) for d in z["dates"]] == [
        ("一个星期", "2026-11-18", "2026-11-25")
    ]
    assert z["urgency"]["level"] == "none"
    assert "路灯坏了" in z["summary"]["text"]
    assert z["ticket_fields"]["location"] == "和平路12号"

    assert e["language"] == "en"
    assert e["category"]["value"] == "water_supply"
    assert e["department"] == "water_group"
    assert e["location"] == "Heping Road"
    assert [p["value"] for p in e["phones"]] == ["13912345678"]
    assert [(d["phrase"], d["start"]) for d in e["dates"]] == [("since yesterday", "2026-11-24")]
    assert e["summary"]["text"].startswith("There is a water pipe burst on Heping Road")

    # txt: a Chinese block for the Mandarin call; --language overrides the detected one.
    code, out, err = draft(str(zh), "--now", NOW)
    assert code == 0, err
    assert "类别：路灯照明 [street_lighting]" in out
    assert "承办部门：市城市管理局 [urban_management]" in out
    assert "地点：和平路12号\n电话：13912345678 (手机)\n" in out
    code, out, err = draft(str(zh), "--now", NOW, "--language", "en")
    assert code == 0, err
    assert "Category: Street lighting [street_lighting]" in out


def test_call_time_from_the_json_or_the_file(tmp_path: Path) -> None:
    words = "the street light on heping road has been out since yesterday".split()
    leg = LegTranscript(
        "caller",
        tuple(Word(w, i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate(words)),
        5.0,
        "en",
        "vosk-model",
    )
    data = to_dict(build([leg], "en", None, started_at="2026-11-20T09:00:00+08:00"))
    js = tmp_path / "call.json"
    js.write_text(json.dumps(data), encoding="utf-8")
    txt = tmp_path / "old.txt"
    txt.write_text("caller: the street light on heping road is out since yesterday\n")
    at = datetime.fromisoformat("2026-03-02T10:00:00+08:00").timestamp()
    os.utime(txt, (at, at))
    code, out, err = draft(str(js), str(txt), "--format", "json", "--now", NOW)
    assert code == 0, err
    j, t = json.loads(out)
    assert (j["now_source"], j["now"]) == ("transcript", "2026-11-20T09:00:00+08:00")
    assert j["dates"][0]["start"] == "2026-11-19"
    assert j["category"]["value"] == "street_lighting"
    assert t["now_source"] == "option"
    # No --now: the file's modification time, and the output says so.
    code, out, err = draft(str(txt))
    assert code == 0, err
    assert "Call time: 2026-03-02T10:00+08:00 (the file's modification time)" in out
    assert "Dates: since yesterday (2026-03-01 – 2026-03-02)" in out  # noqa: RUF001


def test_bad_files_are_named_and_the_rest_drafted(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("市民：和平路的路灯坏了\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    unprefixed = tmp_path / "unprefixed.txt"
    unprefixed.write_text("坐席：你好\n路灯坏了\n", encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"turns": [', encoding="utf-8")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"text": "hello"}', encoding="utf-8")
    missing = tmp_path / "missing.txt"
    files = [missing, empty, binary, good, unprefixed, broken, wrong]
    code, out, err = draft(*map(str, files), "--now", NOW, "--format", "json")
    assert code == 1
    assert [d["file"] for d in json.loads(out)] == [str(good)]
    lines = err.splitlines()
    assert lines == [
        f"hotline: {missing}: no such file",
        f"hotline: {empty}: empty file",
        f"hotline: {binary}: not UTF-8 text (byte 0)",
        f"hotline: {unprefixed}: line 2: no speaker prefix (坐席, 市民, agent, caller then a "
        "colon): '路灯坏了'",
        f"hotline: {broken}: invalid JSON: Expecting value (line 1)",
        f"hotline: {wrong}: not a transcription JSON: KeyError('turns')",
    ]
    # Usage errors: exit 2 (argparse).
    r = run_cli("-c", "config/hotline.yaml", "draft", str(good), "--now", "yesterday")
    assert r.returncode == 2 and "not an ISO time" in r.stderr
    r = run_cli("-c", "config/hotline.yaml", "draft", str(good), "--language", "fr")
    assert r.returncode == 2
