"""A typed transcript as the extractor reads it: one speaker turn per line.

``坐席：`` / ``agent:`` is the agent, ``市民：`` / ``caller:`` the caller (full-width or ASCII
colon; blank lines skipped). The words get made-up times: a typed text has no silences, so a
sentence's end punctuation stands for the pause that ends a sentence in speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drafting.normalise import is_chinese
from drafting.types import Speaker, Transcript

_LINE = re.compile(r"^\s*(坐席|市民|agent|caller)\s*[:：]\s*(.*?)\s*$", re.IGNORECASE)
_SPEAKERS: dict[str, Speaker] = {
    "坐席": "agent",
    "市民": "caller",
    "agent": "agent",
    "caller": "caller",
}
# Sentence ends; an ASCII full stop only before a space or the end (not in "3.5").
_SENTENCE = re.compile(r"[。！？!?；;]+|\.(?=\s|$)")
# Words: each Chinese character (the finders read digits such as 幺三九 and names from the
# compact text, as from a recogniser's short Mandarin words), else runs between spaces and
# the punctuation inside a sentence.
_HAN = "\u3400-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_HAN}]|[^\s{_HAN}，、,：:“”\"（）()…]+")
_WORD_S = 0.3  # a word's length
_WORD_GAP = 0.1  # between words of a sentence
_SENTENCE_GAP = 11.0  # longer than any allowed taxonomy.sentence_gap (at most 10 s)


@dataclass(frozen=True)
class TextWord:
    text: str
    start: float
    end: float
    conf: float = 1.0  # typed: nothing misheard


@dataclass(frozen=True)
class TextTurn:
    speaker: Speaker
    words: tuple[TextWord, ...]


@dataclass(frozen=True)
class TextTranscript:
    turns: tuple[TextTurn, ...]
    legs: tuple[TextTurn, ...]
    language: str  # "zh" when the text has Chinese characters, else "en"


def parse_turns(text: str) -> Transcript:
    """The transcript of ``text``; ValueError naming the line (1-based) of a line without a
    speaker prefix or without words, or for a text without any turn."""
    turns: list[TextTurn] = []
    t = 0.0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(
                f"line {number}: no speaker (start it with 坐席：, 市民：, agent: or caller:)"
            )
        words: list[TextWord] = []
        for sentence in _SENTENCE.split(m.group(2)):
            tokens = _WORD.findall(sentence)
            if not tokens:
                continue
            if words:
                t += _SENTENCE_GAP
            for token in tokens:
                words.append(TextWord(token, round(t, 2), round(t + _WORD_S, 2)))
                t += _WORD_S + _WORD_GAP
        if not words:
            raise ValueError(f"line {number}: nothing said after the speaker")
        turns.append(TextTurn(_SPEAKERS[m.group(1).lower()], tuple(words)))
        t += _SENTENCE_GAP
    if not turns:
        raise ValueError("no speaker turns")
    language = "zh" if is_chinese(text) else "en"
    return TextTranscript(tuple(turns), (), language)
