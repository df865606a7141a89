"""The speech engines' pure parts: Mandarin text a clerk can use (Simplified characters,
Chinese punctuation, no spaces), the loop guard (repeated-phrase detector, prompt echo,
non-speech segments, the unclear flag), the decoder's prompt and hot words, choosing the
engine of each language from the configuration, and its validation. No model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr.chinese import punctuated, simplified, t2s_converter
from asr.engine import Engines, EngineSpec
from asr.errors import NoModel
from asr.loops import cut_loops, find_loops, is_echo, listed_tail
from asr.recognize import Recognizer
from asr.settings import AsrSettings
from asr.transcript import build, from_dict, to_dict
from asr.types import Detection, LegTranscript, Word, join_words
from asr.whisper import Segment, WhisperEngine, WhisperOptions, clean, decoder_context
from hotline.app.settings import ConfigError, load_settings, parse_settings
from hotline.app.workers import hot_words, worker_config

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "以下是普通话的句子。"


def words(text: str, conf: float = 0.9, start: float = 0.0, step: float = 0.2) -> list[Word]:
    """One word per character (Whisper's Mandarin words are about that), ``step`` s each."""
    return [
        Word(c, round(start + i * step, 3), round(start + (i + 1) * step, 3), conf)
        for i, c in enumerate(text)
    ]


# -- Mandarin text -------------------------------------------------------------------------------


def test_chinese_is_written_without_spaces_and_other_words_with_them() -> None:
    assert join_words(["路灯", "坏了，", "在", "3", "号楼", "。"]) == "路灯坏了，在3号楼。"
    assert join_words(["street", "light,", "Heping", "Road"]) == "street light, Heping Road"
    assert join_words(["我用", "iPhone", "打的"]) == "我用iPhone打的"
    leg = LegTranscript("caller", tuple(words("路灯坏了")), 1.0, "zh", "whisper-base")
    assert leg.text == "路灯坏了"
    # A Vosk Chinese model's words come spaced: the text has none between characters.
    spaced = LegTranscript(
        "caller", (Word("路灯", 0, 1, 1), Word("坏", 1, 2, 1), Word("了", 2, 3, 1)), 3, "zh", "m"
    )
    assert spaced.text == "路灯坏了"
    assert build([spaced]).text_of("caller") == "路灯坏了"


def test_ascii_punctuation_after_chinese_becomes_chinese_and_a_sentence_ends() -> None:
    got = punctuated(["他负责", "技术,", "成了", "大忙人"])
    assert "".join(got) == "他负责技术，成了大忙人。"
    assert "".join(punctuated(["你能", "命令风吗?"])) == "你能命令风吗？"
    assert "".join(punctuated(["真的!", "好"])) == "真的！好。"
    # A decimal point between digits stays; an English word's comma stays.
    assert "".join(punctuated(["水费", "3.5", "元"])) == "水费3.5元。"
    assert "".join(punctuated(["Hello,", "我"])) == "Hello,我。"
    # Spaces next to Chinese characters go; the word count is kept (times stay with words).
    got = punctuated([" 路灯 坏了", "  好 "])
    assert got == ["路灯坏了", "好。"]
    assert punctuated(["好了。"]) == ["好了。"]  # already ended
    assert punctuated(["好", ""], end_sentence=False) == ["好", ""]


def test_traditional_characters_become_simplified_by_phrase() -> None:
    t2s = t2s_converter()
    got = simplified(["廣州", "市", "房地產", "中介", "協會", "分析"], t2s)
    assert got == ["广州", "市", "房地产", "中介", "协会", "分析"]
    assert simplified(["這是", "繁體"], t2s) == ["这是", "繁体"]
    assert simplified(["已经", "简体"], t2s) == ["已经", "简体"]  # Simplified stays


# -- the loop guard ------------------------------------------------------------------------------


def test_a_phrase_repeated_past_speech_is_a_loop() -> None:
    assert find_loops(list("对对对对")) == []  # people say that
    assert [(x.start, x.unit, x.repeats) for x in find_loops(list("好对对对对对"))] == [(1, 1, 5)]
    assert find_loops(list("谢谢谢谢")) == []
    assert [(x.unit, x.repeats) for x in find_loops(list("谢谢谢谢谢谢"))] == [(1, 6)]
    # A real sentence with a phrase that comes back (not in a row) is no loop.
    assert find_loops(list("菜做好了一碗清蒸武昌鱼一碗番茄炒鸡蛋一碗榨菜干子炒肉丝")) == []
    assert find_loops(["thank", "you", "thank", "you"]) == []
    loops = find_loops(["ok", "thank", "you", "thank", "you", "thank", "you", "bye"])
    assert [(x.start, x.unit, x.repeats) for x in loops] == [(1, 2, 3)]
    # Punctuation is not what makes a phrase: "人说," and "人说，" are the same.
    assert find_loops(["有", "些", "人说,", "有", "些", "人说，", "有", "些", "人说"]) != []


def test_a_loop_is_cut_with_the_unsure_words_that_lead_into_it() -> None:
    # The tail loop seen on a real clip: "请"(0.02) "问"(0.1) "问"... cut to nothing.
    tail = [Word("请", 3.63, 4.25, 0.02)] + [
        Word("问", 4.25, 4.25, 0.1 + i / 100) for i in range(60)
    ]
    kept, n = cut_loops(words("广州市房地产中介协会分析", 0.9) + tail)
    assert n == 1 and join_words(w.text for w in kept) == "广州市房地产中介协会分析"
    # A confident loop after real speech keeps one copy; what follows it stays.
    looped = words("我们去了") + words("我们去了" * 4) + words("好的")
    kept, n = cut_loops(looped)
    assert n == 1 and join_words(w.text for w in kept) == "我们去了好的"
    unchanged, n = cut_loops(words("路灯坏了一个星期"))
    assert n == 0 and join_words(w.text for w in unchanged) == "路灯坏了一个星期"


def test_a_segment_that_only_repeats_the_prompt_is_an_echo() -> None:
    places = ("和平路", "经十路", "经七路", "人民路街道办事处")
    assert is_echo("以下是普通话的句子。", PROMPT)
    assert is_echo("这就是普通话的句子", PROMPT)  # close enough: seen over noise
    assert is_echo("和平路、经十路、经十路、经七路、", PROMPT, places)
    assert not is_echo("和平路。", PROMPT, places)  # a caller naming one place is heard
    assert not is_echo("人民路街道办事处", PROMPT, places)
    assert not is_echo("我在和平路和经十路的路口", PROMPT, places)
    assert not is_echo("路灯坏了一个星期", PROMPT, places)


def test_the_hot_word_list_copied_out_after_speech_is_cut_off() -> None:
    # Seen on a real clip: the model went on from the caller's last sentence into its list.
    places = ("和平路", "纬一路", "一环东路", "经十路", "二环西路")
    said = words("凑合。") + [
        Word(t, 3.0, 3.2, 0.5) for t in ("和平路、", "纬一路、", "一环东路、")
    ]
    assert listed_tail(said, places) == 3
    cut_short = [*said, Word("经", 3.4, 3.5, 0.3)]  # the next entry begun: still the list
    assert listed_tail(cut_short, places) == 3
    # In any order (seen so: the list's 1st, 10th and 11th names).
    reordered = [*words("凑合。"), *(Word(t, 3.0, 3.2, 0.5) for t in ("一环东路、", "和平路、"))]
    assert listed_tail([*reordered, Word("经十路", 3.3, 3.4, 0.4)], places) == 3
    # And with a name miscopied by a character ("二环东路" is not on the list).
    assert listed_tail([*reordered, Word("二环东路、", 3.3, 3.4, 0.4)], places) == 3
    # A caller naming places is heard: one or two of them, or with words between them.
    for text in ("在和平路和纬一路", "和平路、纬一路", "和平路和纬一路和一环东路", "我在经十路"):
        assert listed_tail(words(text), places) == len(text)
    got = clean(
        [Segment(0.5, 3.6, tuple(said), 1.2, -0.4, 0.1)],
        language="zh",
        duration=4.0,
        options=WhisperOptions(hotwords={"zh": places}),
    )
    assert join_words(w.text for w in got.words) == "凑合。"


def segment(
    text: str,
    start: float,
    *,
    ns: float = 0.1,
    lp: float = -0.3,
    cr: float = 1.0,
    conf: float = 0.9,
    step: float = 0.2,
) -> Segment:
    ws = words(text, conf, start, step)
    return Segment(start, ws[-1].end if ws else start, tuple(ws), cr, lp, ns)


OPTS = WhisperOptions(hotwords={"zh": ("和平路", "经十路", "经七路")})


def test_clean_mandarin_words_and_a_clear_leg() -> None:
    got = clean(
        [segment("路灯壞了,在和平路", 0.5), segment("已經一個星期", 3.0)],
        language="zh",
        duration=5.0,
        options=OPTS,
        converter=t2s_converter(),
    )
    assert join_words(w.text for w in got.words) == "路灯坏了，在和平路。已经一个星期。"
    assert got.unclear == ()
    assert got.words[0].start == 0.5 and [w.start for w in got.words] == sorted(
        w.start for w in got.words
    )


def test_non_speech_loops_and_echoes_are_dropped_and_the_leg_is_unclear() -> None:
    speech = segment("广州市房地产中介协会分析", 0.1)
    # The decoder took it for no speech and it is repetitive: dropped (Whisper's own test,
    # without its sampling fallback).
    tail = segment("请" + "问" * 40, 3.6, ns=0.73, lp=-0.07, cr=33.0, step=0.015)
    got = clean([speech, tail], language="zh", duration=4.3, options=OPTS)
    assert join_words(w.text for w in got.words) == "广州市房地产中介协会分析。"
    assert got.unclear == ()  # a dropped tail is not an unclear leg
    echo = segment("和平路、经十路、经十路、经七路、", 2.5, ns=0.56, lp=-1.09)
    got = clean([speech, echo], language="zh", duration=4.3, options=OPTS)
    assert "经十路" not in join_words(w.text for w in got.words)
    # Reversed speech: one loop over the whole leg; what is left is short and says why.
    rev = segment("这些人说" + "有些人说" * 15, 0.5, cr=18.7, ns=0.1, conf=0.8)
    got = clean([rev], language="zh", duration=10.0, options=OPTS)
    assert join_words(w.text for w in got.words) == "这些人说有些人说。"
    assert any("mostly not made out" in u for u in got.unclear)
    assert any("repeated phrase" in u for u in got.unclear)
    assert find_loops([w.text for w in got.words]) == []
    # Nothing at all (noise the VAD left out, silence): empty and unclear.
    got = clean([], language="zh", duration=30.0, options=OPTS)
    assert got.words == () and got.unclear == (
        "nothing made out in 30.0 s of audio (no speech found)",
    )
    got = clean(
        [segment("以下是普通话的句子。", 28.6, ns=0.82, lp=-0.4)],
        language="zh",
        duration=30.0,
        options=OPTS,
    )
    assert got.words == () and got.unclear[0].startswith("nothing made out")


def test_the_prompt_and_as_many_hot_words_as_fit() -> None:
    opts = WhisperOptions(hotwords={"zh": ("和平路", "经十路", "和平路", " ", "市水务集团")})
    assert decoder_context("zh", opts) == PROMPT + "和平路、经十路、市水务集团。"
    capped = WhisperOptions(hotwords=opts.hotwords, hotword_tokens=len(PROMPT) + 8)
    assert decoder_context("zh", capped) == PROMPT + "和平路、经十路。"
    assert decoder_context("zh", WhisperOptions()) == PROMPT
    en = WhisperOptions(hotwords={"en": ("Heping Road", "Jingshi Road")})
    assert decoder_context("en", en) == "Heping Road, Jingshi Road."


# -- the transcript ------------------------------------------------------------------------------


def test_unclear_legs_and_the_detected_language_are_kept_in_the_job_result() -> None:
    caller = LegTranscript(
        "caller",
        tuple(words("路灯坏了。")),
        2.0,
        "zh",
        "whisper-base",
        ("a repeated phrase was cut (9 characters)",),
    )
    agent = LegTranscript("agent", tuple(words("好的。", start=1.2)), 2.0, "zh", "whisper-base")
    t = build([caller, agent], "zh", Detection("zh", 0.97))
    data = json.loads(json.dumps(to_dict(t), ensure_ascii=False))
    assert data["language"] == "zh" and data["language_detected"] is True
    assert data["language_probability"] == 0.97
    assert data["unclear"] is True
    assert data["legs"][0]["unclear"] == ["a repeated phrase was cut (9 characters)"]
    assert data["legs"][1]["unclear"] == []
    assert [u["text"] for u in data["turns"]] == [
        "路灯坏了。",
        "好的。",
    ]
    back = from_dict(data)
    assert back.detected == Detection("zh", 0.97) and back.unclear and back.turns == t.turns
    known = to_dict(build([agent], "zh"))
    assert known["language_detected"] is False and "language_probability" not in known
    assert known["unclear"] is False


# -- engines from the configuration --------------------------------------------------------------


def test_each_language_gets_its_engine_loaded_once_and_shared() -> None:
    specs = {
        "en": EngineSpec("vosk", Path("var/models/vosk-model-en-us-0.3.45")),
        "zh": EngineSpec("whisper", Path("var/models/whisper-base")),
        "yue": EngineSpec("whisper", Path("var/models/whisper-base")),
    }
    engines = Engines(specs)
    assert engines.languages == ["en", "yue", "zh"] and engines.can_detect()
    zh, yue, en = engines.engine("zh"), engines.engine("yue"), engines.engine("en")
    assert isinstance(zh, WhisperEngine) and zh is yue  # one model folder, one engine
    assert isinstance(en, Recognizer) and engines.engine("en") is en
    with pytest.raises(NoModel) as exc:
        engines.engine("fr")
    assert exc.value.language == "fr"
    assert not Engines({"en": specs["en"]}).can_detect()
    assert Engines({"en": specs["en"]}).detect("any.wav") is None


def test_engines_from_the_asr_section() -> None:
    default = AsrSettings()
    assert default.by_language == {
        "en": EngineSpec("vosk", Path("var/models/vosk-model-en-us-0.3.45"))
    }
    # engines: any engine per language; the default English Vosk model stays unless named.
    both = AsrSettings.model_validate({"engines": {"zh": {"engine": "whisper", "model": "w"}}})
    assert both.by_language == {
        "en": EngineSpec("vosk", Path("var/models/vosk-model-en-us-0.3.45")),
        "zh": EngineSpec("whisper", Path("w")),
    }
    assert both.languages == ["en", "zh"] and both.fallback_language == "en"
    assert both.without_model(["en", "zh", "fr"])[0].language == "fr"
    swapped = AsrSettings.model_validate({"engines": {"en": {"engine": "whisper", "model": "w"}}})
    assert swapped.by_language == {"en": EngineSpec("whisper", Path("w"))}
    # models: the short form, meaning Vosk (today's configurations keep working).
    old = AsrSettings.model_validate({"models": {"zh": "var/models/vosk-model-cn-0.22"}})
    assert old.by_language == {"zh": EngineSpec("vosk", Path("var/models/vosk-model-cn-0.22"))}
    assert old.fallback_language == "zh"
    assert AsrSettings(enabled=False).languages == []
    # A dump of the settings parses back to the same settings (the tests and `config show`
    # do it): the default English model gave way to `engines`, and is not in the dump either.
    for settings in (default, both, swapped, old):
        again = AsrSettings.model_validate(settings.model_dump(mode="json"))
        assert again.by_language == settings.by_language


def test_asr_config_errors_name_the_field() -> None:
    cases = {
        "asr: zh in both asr.models and asr.engines": {
            "models": {"zh": "a"},
            "engines": {"zh": {"engine": "whisper", "model": "b"}},
        },
        "asr.engines.zh.engine:": {"engines": {"zh": {"engine": "kaldi", "model": "b"}}},
        "asr.engines.zh.model:": {"engines": {"zh": {"engine": "whisper"}}},
        "asr.engines.zh.size: unknown key": {
            "engines": {"zh": {"engine": "whisper", "model": "b", "size": "base"}}
        },
        "asr.engines: ": {"engines": {"zh CN": {"engine": "whisper", "model": "b"}}},
        "asr.whisper.beam_size:": {"whisper": {"beam_size": 0}},
        "asr.whisper.compute_type:": {"whisper": {"compute_type": "int4"}},
        "asr: default_language 'fr' has no engine": {"default_language": "fr"},
    }
    for want, section in cases.items():
        with pytest.raises(ConfigError) as exc:
            parse_settings({"asr": section}, "t")
        assert any(p.startswith(want) for p in exc.value.problems), (want, exc.value.problems)


def test_the_shipped_config_transcribes_mandarin_with_whisper_and_its_hot_words() -> None:
    settings = load_settings(ROOT / "config" / "hotline.yaml", env={})
    specs = settings.asr.by_language
    assert specs["zh"] == EngineSpec("whisper", Path("var/models/whisper-base"))
    assert specs["en"].engine == "vosk"
    languages = set(settings.ivr.languages) | {q.language for q in settings.pbx.queues}
    assert settings.asr.coverage(languages) == []  # no "no speech model for zh"
    assert "zh" in settings.asr.languages  # survey comments in Mandarin are transcribed too
    hot = hot_words(settings)
    assert {"和平路", "趵突泉", "市水务集团"} <= set(hot["zh"])
    assert {"Heping Road", "City Water Supply Group"} <= set(hot["en"])
    cfg = worker_config(settings, "w1")
    assert cfg.specs == specs and cfg.whisper.hotwords["zh"] == hot["zh"]
    assert cfg.whisper.prompts["zh"] == PROMPT and cfg.whisper.threads == 1
    assert cfg.detect_language and cfg.fallback_language == "en"


def test_relative_dates_count_from_the_callers_day_not_utcs() -> None:
    from datetime import UTC, datetime

    from hotline.jobs.store import Job
    from hotline.transcription.worker import JobRunner

    settings = load_settings(ROOT / "config" / "hotline.yaml", env={})
    runner = JobRunner(worker_config(settings, "w1"))  # models load on first use, not here
    # 07:30 on 3 December in Shanghai is still 2 December in UTC.
    job = Job(1, "c1", "zh", None, {}, "queued", 0, datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
    when = runner.call_time(job)
    assert when.date().isoformat() == "2026-12-03" and when.utcoffset() is not None
    assert when == job.created_at
