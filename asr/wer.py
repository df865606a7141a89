"""Word error rate: word-level Levenshtein distance over the reference length."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[\u4e00-\u9fff]")  # English words; one CJK char each


def normalize(text: str) -> list[str]:
    """Lower case, punctuation dropped ("Road," and "road" are the same word)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


@dataclass(frozen=True)
class WerResult:
    errors: int  # substitutions + deletions + insertions
    reference_words: int

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_words

    def __str__(self) -> str:
        return f"WER {100 * self.wer:.1f} % ({self.errors}/{self.reference_words})"


def word_errors(reference: str, hypothesis: str) -> WerResult:
    ref, hyp = normalize(reference), normalize(hypothesis)
    row = list(range(len(hyp) + 1))  # distances from the empty reference prefix
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return WerResult(row[len(hyp)], len(ref))


def wer(reference: str, hypothesis: str) -> float:
    return word_errors(reference, hypothesis).wer
