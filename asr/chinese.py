"""Mandarin text a ticket clerk can use, from a recogniser's words (pure; no model).

* Simplified characters always: OpenCC's ``t2s`` conversion as the safety net behind the
  decoder's Simplified prompt (Whisper answers in Traditional characters now and then).
* Chinese punctuation: ASCII ``,`` ``?`` ``!`` ``;`` ``:`` ``.`` written after a Chinese
  character become ``，`` ``？`` ``！`` ``；`` ``：`` ``。`` (a decimal point between digits stays),
  and a sentence that ends on a character gets its ``。``.
* No spaces between Chinese characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

# Ideographs (basic block, extension A, compatibility) only: what a Chinese character is.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Spaces next to a Chinese character, CJK punctuation or a full-width form.
_WIDE = r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"
_SPACED = re.compile(rf"(?<={_WIDE})\s+|\s+(?={_WIDE})")
_FULL_WIDTH = {",": "，", "?": "？", "!": "！", ";": "；", ":": "：", ".": "。"}


class Converter(Protocol):
    """OpenCC's converter (``opencc.OpenCC("t2s")``), or a test's."""

    def convert(self, text: str) -> str: ...


def t2s_converter() -> Converter:
    """OpenCC's Traditional → Simplified conversion (phrases, then characters)."""
    import opencc

    converter: Converter = opencc.OpenCC("t2s")
    return converter


def is_han(char: str) -> bool:
    return bool(_HAN.match(char))


def simplified(words: Sequence[str], converter: Converter) -> list[str]:
    """``words`` in Simplified characters. Converted together, so OpenCC sees the phrases
    (some characters convert by context), then split back at the words' lengths; should a
    conversion change the length (it does not for t2s in practice), word by word."""
    joined = "".join(words)
    converted = converter.convert(joined)
    if len(converted) != len(joined):
        return [converter.convert(w) for w in words]
    out, pos = [], 0
    for w in words:
        out.append(converted[pos : pos + len(w)])
        pos += len(w)
    return out


def punctuated(words: Sequence[str], end_sentence: bool = True) -> list[str]:
    """``words`` with Chinese punctuation and no spaces next to Chinese characters; with
    ``end_sentence``, the last word ends in punctuation (``。`` added after a character)."""
    out: list[str] = []
    previous = ""  # the last character written, across words
    texts = [_SPACED.sub("", w.strip()) for w in words]
    for n, word in enumerate(texts):
        chars = list(word)
        for i, c in enumerate(chars):
            before = chars[i - 1] if i else previous
            after = chars[i + 1] if i + 1 < len(chars) else _first(texts[n + 1 :])
            if c in _FULL_WIDTH and is_han(before):
                if not (c == "." and after.isdigit()):
                    chars[i] = _FULL_WIDTH[c]
        word = "".join(chars)
        out.append(word)
        if word:
            previous = word[-1]
    if end_sentence:
        for i in range(len(out) - 1, -1, -1):
            if out[i]:
                if is_han(out[i][-1]):
                    out[i] += "。"
                break
    return out


def _first(words: Sequence[str]) -> str:
    for w in words:
        if w:
            return w[0]
    return ""
