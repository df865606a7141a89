"""What transcription produces, as plain values shared by the engines, the turn merger, the
job workers and the CLI (the ticket draft, ``drafting/``, reads the same shape through its own
protocols). No I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Speaker = Literal["caller", "agent"]

# Ideographs, CJK punctuation and full-width forms: written without spaces around them.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def joins_tight(left: str, right: str) -> bool:
    """No space between ``left`` and ``right``: Chinese is written without spaces, also next to
    its punctuation and digits ("3号楼"); other words are separated by one."""
    return bool(left and right and (_CJK.match(left[-1]) or _CJK.match(right[0])))


def join_words(texts: Iterable[str]) -> str:
    """Words as text: ``["路灯", "坏了，", "在", "3", "号楼"]`` → ``"路灯坏了，在3号楼"``,
    ``["street", "light"]`` → ``"street light"``."""
    out = ""
    for t in texts:
        if not t:
            continue
        if out and not joins_tight(out, t):
            out += " "
        out += t
    return out


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of its leg's recording
    end: float
    conf: float  # 0..1, the recogniser's confidence


@dataclass(frozen=True)
class LegTranscript:
    """One recording leg (one speaker), recognised."""

    speaker: Speaker
    words: tuple[Word, ...]
    duration: float  # seconds of audio
    language: str
    model: str  # which model (its folder name)
    # Why the engine could not make the audio out (noise, music, silence, a repeated-phrase
    # loop it cut): empty when the leg is clear. Said in words, for the agent and the logs.
    unclear: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return join_words(w.text for w in self.words)


@dataclass(frozen=True)
class Turn:
    """One speaker's consecutive words, in time order with the other speaker's turns."""

    speaker: Speaker
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return join_words(w.text for w in self.words)


@dataclass(frozen=True)
class Detection:
    """The language a leg was found to be in, when the call did not say (the caller left the
    IVR before choosing): chosen among the configured languages only."""

    language: str
    probability: float  # among those languages (they sum to 1)


@dataclass(frozen=True)
class Transcript:
    """Both legs of a call merged into speaker turns."""

    turns: tuple[Turn, ...]
    legs: tuple[LegTranscript, ...]
    language: str
    extra: dict[str, Any] = field(default_factory=dict)
    detected: Detection | None = None  # None: the language came with the call

    def text_of(self, speaker: Speaker) -> str:
        return join_words(t.text for t in self.turns if t.speaker == speaker)

    @property
    def unclear(self) -> bool:
        return any(leg.unclear for leg in self.legs)
