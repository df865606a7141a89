"""Word and character error rates of a transcript against the text that was said.

The alignment (Levenshtein: hits, substitutions, deletions, insertions) is jiwer's; what this
module owns is the normalisation both sides get first, so that a recogniser is not charged for
spelling conventions it never hears:

- words (``wer``): Unicode NFKC (full-width letters and digits fold to ASCII), case folded,
  punctuation dropped ("Road," and "road" are the same word), an apostrophe kept inside a word
  ("o'clock"); each CJK character is a word of its own, as Mandarin has no spaces;
- characters (``cer``, for Mandarin): NFKC, case folded, spaces and punctuation dropped
  (recognisers put spaces between Chinese words; full-width ，。？ and ASCII ,.? alike).

Numerals are left as they are: "三" and "3" differ here, as a benchmark that wants them equal
must say which form it expects.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import jiwer

# A CJK ideograph (the basic block and extension A) is a word of its own.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

Unit = Literal["word", "character"]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def normalize_words(text: str) -> list[str]:
    """The words ``wer`` compares: ``"The street, LIGHT!"`` → ``["the", "street", "light"]``."""
    return _WORD.findall(_fold(text))


def normalize_chars(text: str) -> str:
    """The characters ``cer`` compares: ``"路灯 坏了，"`` → ``"路灯坏了"``."""
    return "".join(
        c for c in _fold(text) if not c.isspace() and not unicodedata.category(c).startswith("P")
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


def word_errors(reference: str, hypothesis: str) -> ErrorCounts:
    return _counts("word", normalize_words(reference), normalize_words(hypothesis))


def char_errors(reference: str, hypothesis: str) -> ErrorCounts:
    return _counts("character", list(normalize_chars(reference)), list(normalize_chars(hypothesis)))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (0.25: one word in four wrong)."""
    return word_errors(reference, hypothesis).rate


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, for Mandarin (spaces and punctuation are not characters)."""
    return char_errors(reference, hypothesis).rate
