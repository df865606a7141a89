"""Word and character error rates of a transcript against the text that was said.

The alignment (Levenshtein: hits, substitutions, deletions, insertions) is jiwer's; what this
module owns is the normalisation both sides get first, so that a recogniser is not charged for
spelling conventions it never hears:

- words (``wer``): Unicode NFKC (full-width letters and digits fold to ASCII), case folded,
  punctuation dropped ("Road," and "road" are the same word), an apostrophe kept inside a word
  ("o'clock"); each CJK character is a word of its own, as Mandarin has no spaces;
- characters (``cer``, for Mandarin): NFKC, case folded, spaces and punctuation dropped
  (recognisers put spaces between Chinese words; full-width ，。？ and ASCII ,.? alike).

Numerals are left as they are unless asked: "三" and "3" differ here, as a benchmark that
wants them equal must say which form it expects. ``numbers=True`` (English) writes digits
out as words on both sides, the way published read-speech references write them and Vosk's
vocabulary says them ("1813" → "eighteen thirteen"). A ``converter`` (OpenCC's ``t2s``) for
``cer`` folds both sides to Simplified characters, so a recogniser that writes Traditional
characters is charged only for what it got wrong.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import jiwer

from asr.chinese import Converter

# A CJK ideograph (the basic block and extension A) is a word of its own.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

Unit = Literal["word", "character"]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


# -- English numbers as words --------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
# Digits with optional thousands separators, a decimal part, or an ordinal or plural ending
# ("21st", "1990s"); a number glued to letters ("3pm") is spelled apart from them.
_NUMBER = re.compile(r"(?<!\d)(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(\.\d+)?(?:(st|nd|rd|th|s)\b)?")


def _below_1000(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_ONES[rest % 10])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def cardinal_words(n: int) -> list[str]:
    """``105`` → ``["one", "hundred", "five"]`` (no "and"); past the trillions, digit by digit."""
    if n >= 1000 * 10**12:
        return [_ONES[int(d)] for d in str(n)]
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            words += [*_below_1000(n // scale), name]
            n %= scale
    if n or not words:
        words += _below_1000(n)
    return words


def _year_words(n: int) -> list[str]:
    """A four-digit number read as a year: 1813 "eighteen thirteen", 1900 "nineteen hundred",
    1805 "eighteen oh five", 2026 "twenty twenty six"."""
    high, low = divmod(n, 100)
    if low == 0:
        return [*_below_1000(high), "hundred"]
    if low < 10:
        return [*_below_1000(high), "oh", _ONES[low]]
    return [*_below_1000(high), *_below_1000(low)]


def _ending(words: list[str], suffix: str) -> list[str]:
    """The last word as an ordinal ("twenty first"), or plural with ``s`` ("nineties")."""
    last = words[-1]
    if suffix == "s":
        last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    elif last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return [*words[:-1], last]


def _spelled(match: re.Match[str]) -> str:
    digits, decimal, suffix = match.group(1), match.group(2), match.group(3)
    n = int(digits.replace(",", ""))
    year = len(digits) == 4 and suffix in (None, "s") and (1100 <= n <= 1999 or n >= 2010)
    if year and not decimal:
        words = _year_words(n)  # as a reader says a year ("in 1813", "the 1990s")
    else:
        words = cardinal_words(n)
    if decimal:
        words += ["point", *(_ONES[int(d)] for d in decimal[1:])]
    elif suffix:
        words = _ending(words, suffix)
    text, start, end = match.string, match.start(), match.end()
    # A space only where the number touched a letter ("3pm" → "three pm").
    before = " " if start and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and text[end].isalnum() else ""
    return before + " ".join(words) + after


def spell_numbers(text: str) -> str:
    """English ``text`` with its numbers written out: ``"In 1813, 2,500 men"`` → ``"In
    eighteen thirteen, two thousand five hundred men"``; ``"21st"`` → ``"twenty first"``,
    ``"3.5"`` → ``"three point five"``, ``"1990s"`` → ``"nineteen nineties"``. Four digits from
    1100 to 1999 and from 2010 are read as a year (as read speech says them); other numbers as
    cardinals, without "and"."""
    return _NUMBER.sub(_spelled, text)


# -- what is compared ----------------------------------------------------------------------------


def normalize_words(text: str, *, numbers: bool = False) -> list[str]:
    """The words ``wer`` compares: ``"The street, LIGHT!"`` → ``["the", "street", "light"]``;
    with ``numbers``, digits spelled out in English first (``spell_numbers``)."""
    folded = _fold(text)
    return _WORD.findall(spell_numbers(folded) if numbers else folded)


def normalize_chars(text: str, *, converter: Converter | None = None) -> str:
    """The characters ``cer`` compares: ``"路灯 坏了，"`` → ``"路灯坏了"``; with ``converter``
    (OpenCC ``t2s``), in Simplified characters: ``"路燈"`` → ``"路灯"``."""
    folded = _fold(text)
    if converter is not None:
        folded = converter.convert(folded)
    return "".join(
        c for c in folded if not c.isspace() and not unicodedata.category(c).startswith("P")
    )


@dataclass(frozen=True)
class ErrorCounts:
    """One alignment's counts; sums over a test set with ``+`` (a corpus rate is the summed
    errors over the summed reference length, not the mean of the per-item rates)."""

    unit: Unit
    hits: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def reference_length(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def rate(self) -> float:
        """Errors per reference unit; with an empty reference 0.0 if nothing was heard,
        else 1.0 (jiwer would give the insertion count)."""
        if self.reference_length == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_length

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        if other.unit != self.unit:
            raise ValueError(f"cannot add {other.unit} counts to {self.unit} counts")
        return ErrorCounts(
            self.unit,
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )

    def __str__(self) -> str:
        name = "WER" if self.unit == "word" else "CER"
        return (
            f"{name} {100 * self.rate:.1f} % ({self.errors}/{self.reference_length}: "
            f"{self.substitutions} sub, {self.deletions} del, {self.insertions} ins)"
        )


def _counts(unit: Unit, reference: list[str], hypothesis: list[str]) -> ErrorCounts:
    # The units carry no spaces, so jiwer's default split on whitespace gives them back as they are.
    out = jiwer.process_words(" ".join(reference), " ".join(hypothesis))
    return ErrorCounts(unit, out.hits, out.substitutions, out.deletions, out.insertions)


def word_errors(reference: str, hypothesis: str, *, numbers: bool = False) -> ErrorCounts:
    return _counts(
        "word",
        normalize_words(reference, numbers=numbers),
        normalize_words(hypothesis, numbers=numbers),
    )


def char_errors(
    reference: str, hypothesis: str, *, converter: Converter | None = None
) -> ErrorCounts:
    return _counts(
        "character",
        list(normalize_chars(reference, converter=converter)),
        list(normalize_chars(hypothesis, converter=converter)),
    )


def wer(reference: str, hypothesis: str, *, numbers: bool = False) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (0.25: one word in four wrong);
    ``numbers``: digits spelled out in English on both sides first."""
    return word_errors(reference, hypothesis, numbers=numbers).rate


def cer(reference: str, hypothesis: str, *, converter: Converter | None = None) -> float:
    """Character error rate, for Mandarin (spaces and punctuation are not characters);
    ``converter`` (OpenCC ``t2s``): both sides in Simplified characters first."""
    return char_errors(reference, hypothesis, converter=converter).rate
