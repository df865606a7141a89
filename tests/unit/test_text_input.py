"""drafting/text_input.py: plain-text calls (one turn per line, 坐席：/市民：/agent:/caller:)
as the transcript ``extract`` reads, with synthetic times the sentence gap cuts. Pure."""

from __future__ import annotations

from datetime import datetime

import pytest

from drafting import extract
from drafting.segments import segments
from drafting.settings import CategoryPhrases, DraftTaxonomy
from drafting.text_input import SENTENCE_PAUSE, parse_turns

NOW = datetime(2026, 11, 25, 15, 30)


def test_mandarin_prefixes_full_width_and_ascii_colons() -> None:
    t = parse_turns("坐席：您好，请讲。\n\n市民:路灯不亮\n")
    assert t.language == "zh"
    assert t.legs == ()
    assert [turn.speaker for turn in t.turns] == ["agent", "caller"]
    # One word per Chinese character, as the engine's spaced words are matched once joined.
    assert [w.text for w in t.turns[1].words] == ["路", "灯", "不", "亮"]
    starts = [w.start for turn in t.turns for w in turn.words]
    assert starts == sorted(starts)  # times run on across turns
    assert all(w.end > w.start and w.conf == 1.0 for turn in t.turns for w in turn.words)


def test_english_prefixes_any_case_and_words() -> None:
    t = parse_turns("Agent: Hello, 12345 hotline.\nCALLER: I can't sleep, it's 3.5 metres.")
    assert t.language == "en"
    # Punctuation stays on the word before it, as a punctuating recogniser (Whisper) writes it:
    # the extractor reads clause breaks from it.
    assert [w.text for w in t.turns[0].words] == ["Hello,", "12345", "hotline."]
    second = [w.text for w in t.turns[1].words]
    assert second == ["I", "can't", "sleep,", "it's", "3", "5", "metres."]


def test_language_may_be_given() -> None:
    assert parse_turns("caller: hello", language="zh").language == "zh"


def test_sentences_end_at_full_stops_and_turns_not_at_commas() -> None:
    t = parse_turns("市民：停水了，三天了。水压小！\n坐席：好的")
    segs = segments(t.turns, 0.7)
    assert [(s.speaker, s.zh) for s in segs] == [
        ("caller", "停水了三天了"),
        ("caller", "水压小"),
        ("agent", "好的"),
    ]
    assert segs[1].start - segs[0].end >= SENTENCE_PAUSE - 0.1


def test_unknown_prefix_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"line 3: no speaker prefix .*'医生：你好'"):
        parse_turns("坐席：您好\n\n医生：你好")
    with pytest.raises(ValueError, match="line 1: no speaker prefix"):
        parse_turns("just text")
    with pytest.raises(ValueError, match="no turns"):
        parse_turns("\n  \n")


def test_parsed_call_drafts_phone_in_groups_and_category() -> None:
    taxonomy = DraftTaxonomy(categories={"street_lighting": CategoryPhrases(zh=["路灯"])})
    text = "坐席：您好，12345热线，请讲。\n市民：呃，路灯坏了。电话幺三九，零五三幺，六七二八。"
    d = extract(parse_turns(text), taxonomy=taxonomy, now=NOW)
    assert d.language == "zh"
    assert d.category.value == "street_lighting"
    assert [p.value for p in d.phones] == ["13905316728"]
