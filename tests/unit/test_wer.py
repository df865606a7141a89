"""Word and character error rates (asr/wer.py): known values, the normalisation each side
gets (numbers spelled out in English, Traditional folded to Simplified on request), sums over
a test set."""

from __future__ import annotations

import pytest

from asr.chinese import t2s_converter
from asr.wer import (
    ErrorCounts,
    cardinal_words,
    cer,
    char_errors,
    normalize_chars,
    normalize_words,
    spell_numbers,
    wer,
    word_errors,
)


def full_width(ascii_text: str) -> str:
    """``"AB1"`` in full-width forms (U+FF21...), as Chinese input methods type them."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


def test_one_substitution_in_four_words() -> None:
    assert wer("the street light broke", "the street lamp broke") == 0.25
    r = word_errors("the street light broke", "the street lamp broke")
    assert (r.hits, r.substitutions, r.deletions, r.insertions) == (3, 1, 0, 0)
    assert (r.errors, r.reference_length) == (1, 4)
    assert str(r) == "WER 25.0 % (1/4: 1 sub, 0 del, 0 ins)"


def test_substitution_deletion_insertion() -> None:
    r = word_errors("a b c d", "a x c")  # b → x, d dropped
    assert (r.substitutions, r.deletions, r.insertions) == (1, 1, 0)
    assert r.rate == 0.5
    r = word_errors("a b", "a b c d")
    assert (r.insertions, r.errors, r.reference_length, r.rate) == (2, 2, 2, 1.0)


def test_case_and_punctuation_are_not_errors() -> None:
    assert wer("The street, light!", "the street light") == 0
    assert wer("It\u2019s eleven o'clock.", "it's ELEVEN o\u2019clock") == 0  # curly and straight
    # Full-width Latin letters and digits are the same as ASCII ones.
    assert wer("Road 12", f"{full_width('ROAD')} {full_width('12')}") == 0
    assert normalize_words("Heping Road, No. 5!") == ["heping", "road", "no", "5"]


def test_numerals_are_not_converted() -> None:
    assert wer("three days", "3 days") == 0.5
    assert cer("三天", "3天") == 0.5


def test_numbers_spelled_out_on_request() -> None:
    # A published reference writes what the reader said; a recogniser may write digits.
    assert wer("IN EIGHTEEN THIRTEEN", "in 1813", numbers=True) == 0
    assert wer("three days", "3 days", numbers=True) == 0
    assert normalize_words("The 21st of May, 2,500 men", numbers=True) == (
        "the twenty first of may two thousand five hundred men".split()
    )
    r = word_errors("eight the press yard", "8 the press yard", numbers=True)
    assert (r.hits, r.errors) == (4, 0)
    # Only digits change: words and other text are left as they are.
    assert spell_numbers("no numbers here, sir.") == "no numbers here, sir."


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("0", "zero"),
        ("7", "seven"),
        ("13", "thirteen"),
        ("40", "forty"),
        ("99", "ninety nine"),
        ("105", "one hundred five"),
        ("1,000,000", "one million"),
        ("2005", "two thousand five"),  # not read as a year
        ("12345", "twelve thousand three hundred forty five"),
        ("1813", "eighteen thirteen"),  # four digits read as a year
        ("1900", "nineteen hundred"),
        ("1805", "eighteen oh five"),
        ("2026", "twenty twenty six"),
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd", "third"),
        ("12th", "twelfth"),
        ("20th", "twentieth"),
        ("101st", "one hundred first"),
        ("1990s", "nineteen nineties"),
        ("3.5", "three point five"),
        ("3pm", "three pm"),  # glued letters kept apart
        ("call 110.", "call one hundred ten."),  # a full stop is not a decimal point
    ],
)
def test_spell_numbers(text: str, spoken: str) -> None:
    assert spell_numbers(text) == spoken


def test_cardinal_words_past_the_trillions_digit_by_digit() -> None:
    assert cardinal_words(2 * 10**12 + 3) == ["two", "trillion", "three"]
    assert cardinal_words(10**15) == ["one"] + ["zero"] * 15


def test_mandarin_one_wrong_character() -> None:
    ref = "和平路的路灯坏了一个星期。"  # 12 characters, the full stop is none
    hyp = "和平路的路灯 坏了 一个 星斯"  # spaces between words, as a recogniser writes them
    r = char_errors(ref, hyp)
    assert (r.hits, r.substitutions, r.deletions, r.insertions) == (11, 1, 0, 0)
    assert r.rate == pytest.approx(1 / 12)
    assert str(r) == "CER 8.3 % (1/12: 1 sub, 0 del, 0 ins)"
    assert cer(ref, "和平路的路灯坏了一个星期") == 0


def test_mandarin_normalisation() -> None:
    # Spaces (ASCII and the ideographic one) and punctuation (full-width and ASCII) go;
    # full-width letters and digits fold to ASCII; case folds.
    text = f"路灯，坏了！\u3000“{full_width('123')}”号 {full_width('AB')},c?"
    assert normalize_chars(text) == "路灯坏了123号abc"
    assert cer("请问，路灯什么时候修？", "请问路灯什么时候修") == 0
    # Each Chinese character is a word for the WER: one wrong character is one wrong word.
    assert normalize_words("路灯坏了 street") == ["路", "灯", "坏", "了", "street"]
    assert wer("路灯坏了", "路等坏了") == 0.25


def test_mandarin_traditional_folded_on_request() -> None:
    t2s = t2s_converter()
    ref = "广州市房地产中介协会分析"
    hyp = "廣州市佛地產中間協會分析"  # Traditional, with two real mistakes (佛, 间)
    assert normalize_chars(hyp, converter=t2s) == "广州市佛地产中间协会分析"
    assert char_errors(ref, hyp).errors == 6  # every Traditional character counts as written
    folded = char_errors(ref, hyp, converter=t2s)
    assert (folded.substitutions, folded.reference_length) == (2, 12)
    assert cer(ref, hyp, converter=t2s) == pytest.approx(2 / 12)
    # Simplified text is left as it is; full-width forms and punctuation still fold.
    assert normalize_chars("路灯，坏了！", converter=t2s) == "路灯坏了"


def test_empty_reference() -> None:
    assert wer("", "") == 0.0 and cer("。", "") == 0.0
    assert wer("", "noise noise") == 1.0  # jiwer alone would say 2.0
    assert wer("hello", "") == 1.0


def test_counts_add_up_over_a_test_set() -> None:
    total = word_errors("a b c d", "a x c d") + word_errors("e f", "e f g")
    assert total == ErrorCounts("word", hits=5, substitutions=1, deletions=0, insertions=1)
    assert total.rate == pytest.approx(2 / 6)  # not the mean of 0.25 and 0.5
    with pytest.raises(ValueError, match="cannot add"):
        _ = total + char_errors("路", "路")
