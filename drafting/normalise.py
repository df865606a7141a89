"""Text normalisation: ASR words as tokens, and the compact form Mandarin is matched on.

ASR text is lower case without punctuation, and Vosk's Mandarin models put spaces between
words: English is matched word by word on the spaced text, Mandarin on the text with the spaces
between Chinese characters removed (``compact``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_UNK = frozenset({"[unk]", "<unk>", "[noise]", "<noise>", "[laughter]"})
_PUNCT = ' \t.,!?;:"()[]{}，。！？；：、“”‘’（）…-'  # noqa: RUF001


def normalise_word(word: str) -> str:
    """A word as a token: lower case, no punctuation or apostrophes; "" for the
    recogniser's [unk] and noise markers."""
    w = word.lower()
    if w in _UNK:
        return ""
    return w.strip(_PUNCT).replace("'", "").replace("\u2019", "")


def is_chinese(text: str) -> bool:
    return CJK.search(text) is not None


def _joins(a: str, b: str) -> bool:
    """No space between two tokens in the compact text (Chinese next to Chinese or digits)."""
    ca, cb = is_chinese(a[-1]), is_chinese(b[0])
    return (ca and (cb or b[0].isdigit())) or (cb and a[-1].isdigit())


def compact(tokens: Sequence[str]) -> str:
    return compact_offsets(tokens)[0]


def compact_offsets(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """The compact text and where each token starts in it."""
    out, offsets = "", []
    for t in tokens:
        if out and not _joins(out, t):
            out += " "
        offsets.append(len(out))
        out += t
    return out, offsets


def ends_clause(word: str) -> bool:
    """The written word is, or ends with, punctuation (a comma or a full stop): a place
    name or a phrase does not run across it."""
    w = word.rstrip()
    return bool(w) and w[-1] in _PUNCT.strip()
