"""The parts of drafting/ on their own: normalisation, spoken numbers, phone numbers and dates
read from sentences, with a transcript of plain values (no asr types), and the package's
layering (it imports nothing of hotline, telephony, asr or ivr). Pure and fast."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from drafting import DraftTaxonomy, extract
from drafting.dates import find_dates
from drafting.normalise import compact, normalise_word
from drafting.numbers import en_number, zh_number
from drafting.phones import find_phones
from drafting.segments import Segment, segments
from drafting.soundalike import Syllable, syllables
from drafting.types import Speaker

DRAFTING = Path(__file__).resolve().parents[2] / "drafting"
NOW = datetime(2026, 11, 25, 15, 30)  # a Wednesday


@dataclass(frozen=True)
class PlainWord:
    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class PlainTurn:
    speaker: Speaker
    words: tuple[PlainWord, ...]


@dataclass(frozen=True)
class PlainTranscript:
    turns: tuple[PlainTurn, ...]
    legs: tuple[PlainTurn, ...]
    language: str


def turn(speaker: Speaker, text: str, start: float = 0.0) -> PlainTurn:
    """Words 0.4 s apart; "|" is a 1.2 s pause (a sentence break)."""
    words: list[PlainWord] = []
    t = start
    for token in text.split():
        if token == "|":
            t += 1.2
            continue
        words.append(PlainWord(token, round(t, 2), round(t + 0.3, 2), 1.0))
        t += 0.4
    return PlainTurn(speaker, tuple(words))


def sentences(*turns: PlainTurn) -> list[Segment]:
    return segments(turns, gap=0.7)


def test_normalise_and_compact() -> None:
    assert normalise_word("Road,") == "road"
    assert normalise_word("Don't") == "dont"
    assert normalise_word("[unk]") == ""
    # Spaces go between Chinese characters and next to digits, not between English words.
    assert compact(["和平", "路", "12", "号", "on", "it"]) == "和平路12号 on it"


def test_spoken_numbers() -> None:
    assert en_number("one hundred twenty three".split()) == 123
    assert en_number(["one", "two"]) == 12  # digit by digit
    assert en_number(["12"]) == 12
    assert en_number(["banana"]) is None
    assert (zh_number("十二"), zh_number("一百零五"), zh_number("幺三九")) == (12, 105, 139)


def test_sentences_cut_at_silences() -> None:
    segs = sentences(turn("caller", "the light | is out"), turn("agent", "ok", 5.0))
    assert [(s.speaker, s.en) for s in segs] == [
        ("caller", "the light"),
        ("caller", "is out"),
        ("agent", "ok"),
    ]


def test_phones_landline_triple_and_fillers() -> None:
    segs = sentences(
        turn(
            "caller",
            "call me on zero one zero | six triple two | four five six seven"
            " or one three eight uh one two three four five six seven eight",
        )
    )
    phones = {p.value: p for p in find_phones(segs)}
    assert set(phones) == {"01062224567", "13812345678"}
    assert (phones["01062224567"].kind, phones["13812345678"].kind) == ("landline", "mobile")
    assert phones["01062224567"].evidence[0].text == (
        "zero one zero six triple two four five six seven"
    )


def test_dates_times_and_frequencies() -> None:
    got = {
        d.phrase: d
        for d in find_dates(
            sentences(turn("caller", "it happens every night at eleven pm since last month")),
            NOW,
        )
    }
    assert got["every night"].kind == "recurring"
    assert got["at eleven pm"].time == "23:00"
    assert (got["since last month"].start, got["since last month"].end) == (
        date(2026, 10, 1),
        NOW.date(),
    )
    # "three times a week" is how often, not how long.
    assert find_dates(sentences(turn("caller", "three times a week")), NOW) == ()
    zh = {
        d.phrase: d
        for d in find_dates(
            sentences(turn("caller", "两 个 月 了 | 中午 一 点 | 三月 2025年")), NOW
        )
    }
    assert set(zh) == {"两个月", "中午一点"}  # 三月 is March, 2025年 a year
    assert (zh["两个月"].days, zh["两个月"].approximate) == (60, True)
    assert zh["中午一点"].time == "13:00"


def test_extract_reads_any_transcript_of_that_shape() -> None:
    taxonomy = DraftTaxonomy.model_validate(
        {"categories": {"street_lighting": {"en": ["street light"]}}}
    )
    transcript = PlainTranscript(
        (), (turn("caller", "the street light on main road is broken"),), "en"
    )
    d = extract(transcript, taxonomy=taxonomy, now=NOW)
    assert d.category.value == "street_lighting"
    assert d.language == "en"


def test_drafting_imports_no_other_layer() -> None:
    for path in sorted(DRAFTING.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in {"hotline", "telephony", "asr", "ivr"}, f"{path.name}: {name}"


def test_a_misheard_huge_number_is_no_date_and_no_crash() -> None:
    """A phone number heard as a count ("13912345678 days") used to raise OverflowError out of
    the draft; it is simply not a date, while the real date beside it is kept."""
    text = "it has been 13912345678 days and 13912345678 years ago since yesterday"
    got = find_dates(sentences(turn("caller", text)), NOW)
    assert [(d.phrase, d.start, d.end) for d in got] == [
        ("since yesterday", date(2026, 11, 24), date(2026, 11, 25))
    ]
    zh = find_dates(sentences(turn("caller", "一 三 九 一 二 三 四 五 六 七 八 天 了 昨天")), NOW)
    assert [(d.phrase, d.start) for d in zh] == [("昨天", date(2026, 11, 24))]


def test_syllables_keep_the_texts_offsets() -> None:
    # Digits, letters and punctuation between the characters: one entry each, None.
    said = syllables("顺更A3号，长清区")
    assert len(said) == len("顺更A3号，长清区")
    assert said[2] is None and said[3] is None and said[5] is None
    shun, geng, chang = said[0], said[1], said[6]
    assert shun is not None and geng is not None and chang is not None
    # Folded: sh → s, eng → en, zh/ch → z/c; the tone is dropped.
    assert shun == frozenset({Syllable("s", "un")}) and Syllable("g", "en") in geng
    # Every reading of a character: 长 is chang in 长清区 (zhang in 长大).
    assert {Syllable("c", "an"), Syllable("z", "an")} <= chang
