"""Word and character error rates (asr/wer.py): known values, the normalisation each side
gets, sums over a test set."""

from __future__ import annotations

import pytest

from asr.wer import (
    ErrorCounts,
    cer,
    char_errors,
    normalize_chars,
    normalize_words,
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
