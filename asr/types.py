"""What transcription produces, as plain values shared by the recogniser, the turn merger, the
job workers and the CLI (the ticket draft, ``drafting/``, reads the same shape through its own
protocols). No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Speaker = Literal["caller", "agent"]


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

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class Turn:
    """One speaker's consecutive words, in time order with the other speaker's turns."""

    speaker: Speaker
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class Transcript:
    """Both legs of a call merged into speaker turns."""

    turns: tuple[Turn, ...]
    legs: tuple[LegTranscript, ...]
    language: str
    extra: dict[str, Any] = field(default_factory=dict)

    def text_of(self, speaker: Speaker) -> str:
        return " ".join(t.text for t in self.turns if t.speaker == speaker)
