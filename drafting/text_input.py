"""Plain-text transcripts: one speaker turn per line, as people write calls down.

Each non-blank line starts with a speaker prefix and a colon (full-width or ASCII)::

    坐席：您好，12345热线，请讲。
    市民：呃，我们小区门口的路灯不亮了。
    agent: Hello, 12345 hotline.
    caller: The street light on Heping Road is out.

``parse_turns(text)`` gives the ``Transcript`` shape ``extract`` reads (the protocols of
``types.py``), with synthetic word times so the sentence-gap logic works: words 0.3 s apart,
a pause longer than any sensible ``sentence_gap`` after sentence-ending punctuation and
between turns, a short one after a comma. Words are what a recogniser would give: each Chinese
character one word (the extractor matches Mandarin on the text with spaces removed, and reads
spoken digits like 幺三九 one by one), runs of Latin letters, digits and apostrophes another.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drafting.types import Speaker

# Prefix → speaker; matched case-insensitively, before a full-width or ASCII colon.
SPEAKERS: dict[str, Speaker] = {
    "坐席": "agent",
    "市民": "caller",
    "agent": "agent",
    "caller": "caller",
}
_LANGUAGE = {"坐席": "zh", "市民": "zh", "agent": "en", "caller": "en"}
_PREFIX = re.compile(r"^\s*(?P<who>[^:：]{1,10}?)\s*[:：]\s?(?P<text>.*)$")
# A word, or one punctuation mark that stands for a pause.
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9'\u2019]+|[。！？!?…;；]|[，,、：:]")
_SENTENCE_END = frozenset("。！？!?…;；")
_COMMAS = frozenset("，,、：:")

WORD_STEP = 0.3  # seconds from one word's start to the next
WORD_LENGTH = 0.25
SENTENCE_PAUSE = 1.5  # after 。/./? and between turns: longer than any usual sentence_gap
COMMA_PAUSE = 0.2  # after ，/,: shorter than one


@dataclass(frozen=True)
class TextWord:
    text: str
    start: float
    end: float
    conf: float = 1.0  # written text: no recogniser doubt


@dataclass(frozen=True)
class TextTurn:
    speaker: Speaker
    words: tuple[TextWord, ...]


@dataclass(frozen=True)
class TextTranscript:
    turns: tuple[TextTurn, ...]
    legs: tuple[TextTurn, ...]  # empty: the turns are already merged
    language: str


def _tokens(text: str) -> list[str]:
    # "." ends a sentence in English but is also inside numbers ("3.5"): only a full stop
    # followed by a space or the line's end counts, rewritten as "。" for _TOKEN.
    text = re.sub(r"(?<=[A-Za-z0-9])\.(?=\s|$)", "。", text)
    return _TOKEN.findall(text)


def parse_turns(text: str, *, language: str | None = None) -> TextTranscript:
    """The turns of a written call. ``language``: the transcript's language; by default "zh"
    when the prefixes are 坐席/市民, "en" when they are agent/caller. Raises ``ValueError``
    (with the line number) on a non-blank line without a known speaker prefix, and on a text
    without any turn."""
    turns: list[TextTurn] = []
    languages: set[str] = set()
    t = 0.0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        mo = _PREFIX.match(line)
        who = mo.group("who").strip().lower() if mo else ""
        if mo is None or who not in SPEAKERS:
            known = ", ".join(SPEAKERS)
            raise ValueError(
                f"line {number}: no speaker prefix ({known} then a colon): {line.strip()[:40]!r}"
            )
        languages.add(_LANGUAGE[who])
        words: list[TextWord] = []
        for token in _tokens(mo.group("text")):
            if token in _SENTENCE_END or token in _COMMAS:
                t += SENTENCE_PAUSE if token in _SENTENCE_END else COMMA_PAUSE
                if words:  # kept on the word before, as a punctuating recogniser writes it
                    last = words[-1]
                    mark = "." if token == "。" and last.text.isascii() else token
                    words[-1] = TextWord(last.text + mark, last.start, last.end)
            else:
                words.append(TextWord(token, round(t, 2), round(t + WORD_LENGTH, 2)))
                t += WORD_STEP
        if words:
            turns.append(TextTurn(SPEAKERS[who], tuple(words)))
        t += SENTENCE_PAUSE
    if not turns:
        raise ValueError("no turns: every line is blank or has no words")
    if language is None:
        language = "zh" if "zh" in languages else "en"
    return TextTranscript(turns=tuple(turns), legs=(), language=language)
