"""The loop guard's pure parts: a repeated-phrase detector and a prompt-echo check.

Whisper models, decoding at temperature 0 only (for repeatable text), sometimes get stuck on a
phrase and repeat it until the window ends ("请问问问问…", "试试试试…"), or write out their
prompt ("以下是普通话的句子。") over audio they cannot make out. Whisper's own guard re-decodes
such a window with sampling at a higher temperature, which makes the text differ from run to
run; these checks take its place: a run of one phrase repeated past what people say
("对对对" is speech, "对对对对对" already a loop) is cut to its first occurrence, and the
unsure words leading into it go with it.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from asr.types import Word

MAX_UNIT = 16  # the longest repeated phrase looked for, in words (Chinese: ~characters)
MIN_REPEATS = 3  # a phrase said three times in a row may be speech ...
MIN_RUN_CHARS = 5  # ... unless the run is short: "对对对对" is speech, "对对对对对" a loop
UNSURE = 0.5  # words leading into a loop below this confidence are the loop's own start
ECHO_SIMILAR = 0.75  # a segment this close to the prompt sentence is the prompt written out
HOTWORD_SHARE = 0.8  # a segment this much made of hot words (two or more) is the list echoed


def norm(text: str) -> str:
    """Letters, digits and ideographs only, case folded: what is compared."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


@dataclass(frozen=True)
class Loop:
    """``repeats`` copies of the ``unit`` words starting at word ``start``."""

    start: int
    unit: int
    repeats: int

    @property
    def end(self) -> int:
        return self.start + self.unit * self.repeats


def find_loops(texts: Sequence[str]) -> list[Loop]:
    """The repeated-phrase runs in ``texts`` (words), left to right, not overlapping."""
    keys = [norm(t) for t in texts]
    loops: list[Loop] = []
    i = 0
    while i < len(keys):
        best: Loop | None = None
        for unit in range(1, min(MAX_UNIT, (len(keys) - i) // MIN_REPEATS) + 1):
            phrase = keys[i : i + unit]
            chars = sum(len(k) for k in phrase)
            if chars == 0:
                continue
            repeats = 1
            while keys[i + repeats * unit : i + (repeats + 1) * unit] == phrase:
                repeats += 1
            if repeats >= max(MIN_REPEATS, math.ceil(MIN_RUN_CHARS / chars)):
                found = Loop(i, unit, repeats)
                if best is None or found.end > best.end:
                    best = found
        if best is None:
            i += 1
        else:
            loops.append(best)
            i = best.end
    return loops


def cut_loops(words: Sequence[Word]) -> tuple[list[Word], int]:
    """``words`` with each loop cut to its first occurrence, and the unsure words that lead
    into it (and that first occurrence itself, when unsure) dropped; and how many loops."""
    loops = find_loops([w.text for w in words])
    if not loops:
        return list(words), 0
    out: list[Word] = []
    pos = 0
    for loop in loops:
        out += words[pos : loop.start + loop.unit]
        while out and out[-1].conf < UNSURE:
            out.pop()
        pos = loop.end
    out += words[pos:]
    return out, len(loops)


def is_echo(text: str, prompt: str, hotwords: Sequence[str] = ()) -> bool:
    """Whether ``text`` (a segment) only repeats what the decoder was given: close to the
    prompt's sentence, or a list of hot words (two or more of them making up nearly all of
    it; a caller who names one place, or a place and a street number, is heard)."""
    said = norm(text)
    if not said:
        return False
    if prompt and difflib.SequenceMatcher(None, said, norm(prompt)).ratio() >= ECHO_SIMILAR:
        return True
    names = sorted({n for n in (norm(h) for h in hotwords) if n}, key=len, reverse=True)
    covered = [False] * len(said)
    found = 0
    for name in names:
        start = said.find(name)
        while start >= 0:
            if not any(covered[start : start + len(name)]):
                covered[start : start + len(name)] = [True] * len(name)
                found += 1
            start = said.find(name, start + 1)
    return found >= 2 and sum(covered) >= HOTWORD_SHARE * len(said)


def listed_tail(words: Sequence[Word], hotwords: Sequence[str], min_names: int = 3) -> int:
    """Where a segment's trailing copy of the hot-word list starts (``len(words)`` if it has
    none). Whisper sometimes goes on from real speech into the names it was given
    ("…凑合。和平路、纬一路、一环东路、", seen on a real clip); ``min_names`` or more names
    and nothing else (the last may be cut short) count as that copy: a caller who names a
    place or two is heard, and one who reads out three places in a row with no word between
    them is not likely."""
    names = sorted({n for n in (norm(h) for h in hotwords) if n}, key=len, reverse=True)
    if not names:
        return len(words)
    for start in range(len(words)):
        if not norm(words[start].text):  # punctuation ends the speech before it
            continue
        if _only_names(norm("".join(w.text for w in words[start:])), names, min_names):
            return start
    return len(words)


def _only_names(text: str, names: Sequence[str], min_names: int) -> bool:
    """Whether ``text`` is ``min_names`` or more of ``names`` one after another (longest
    first; one character may be wrong in a name of three or more), the last possibly cut
    short."""
    pos = count = 0
    while pos < len(text):
        name = next((n for n in names if text.startswith(n, pos)), None)
        if name is None:  # copied with one character wrong ("一环东路" for "二环东路")
            name = next((n for n in names if len(n) >= 3 and _near(text[pos:], n)), None)
        if name is None:
            rest = text[pos:]
            return count >= min_names and any(n.startswith(rest) for n in names)
        pos, count = pos + len(name), count + 1
    return count >= min_names


def _near(text: str, name: str) -> bool:
    """Whether ``text`` starts with ``name`` but for one character."""
    return len(text) >= len(name) and sum(a != b for a, b in zip(text, name, strict=False)) <= 1
