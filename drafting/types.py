"""What the draft reads and what it proposes, as plain values.

The input is any transcript shaped like ``asr.types.Transcript`` (speaker turns of timed,
scored words): the protocols below say what is read, so ``drafting`` never imports ``asr``.
The output is a ``Draft``: every field keeps its evidence (what was said, by whom, when) and
``source: "system"`` until the agent confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any, Literal, Protocol

from drafting.normalise import is_chinese

Speaker = Literal["caller", "agent"]
Source = Literal["system"]
PlaceKind = Literal["road", "district", "community", "village", "landmark"]
DateKind = Literal["date", "range", "duration", "since", "recurring", "time"]
UrgencyLevel = Literal["none", "medium", "high"]


# ---------------------------------------------------------------------------------------------
# The transcript read (asr.types' Word, Turn, LegTranscript and Transcript fit as they are)


class Word(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float: ...  # seconds
    @property
    def end(self) -> float: ...
    @property
    def conf(self) -> float: ...  # 0..1, the recogniser's confidence


class Turn(Protocol):
    """One speaker's words in time order: a turn, or a whole leg of the call."""

    @property
    def speaker(self) -> Speaker: ...
    @property
    def words(self) -> Sequence[Word]: ...


class Transcript(Protocol):
    @property
    def turns(self) -> Sequence[Turn]: ...  # both legs merged; empty when not merged yet
    @property
    def legs(self) -> Sequence[Turn]: ...  # one per recording leg (one speaker)
    @property
    def language(self) -> str: ...


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class Evidence:
    """One thing said that supports a field."""

    phrase: str  # the configured phrase, gazetteer name or rule that matched
    text: str  # what the transcript says there
    speaker: Speaker
    at: float  # seconds from the start of the call (its sentence's start)


@dataclass(frozen=True)
class Choice:
    """Request kind or category: the best-scoring label, or None when nothing (or a tie)."""

    value: str | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)  # every candidate, for the agent
    prior: str | None = None  # the IVR's kind (or category), when it counted
    note: str = ""
    source: Source = "system"


@dataclass(frozen=True)
class PlaceMention:
    value: str  # normalised name: "Heping Road", 和平路
    label: str  # with the house number: "12 Heping Road", 和平路12号
    kind: PlaceKind
    number: str | None
    known: bool  # found in the gazetteer
    en: str | None  # both names when the gazetteer knows them
    zh: str | None
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class Phone:
    value: str  # digits only
    kind: Literal["mobile", "landline"]
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class DateMention:
    phrase: str  # as said: "for a week", 昨天
    kind: DateKind
    start: date | None  # resolved against ``now``; None without it (or for a time of day)
    end: date | None
    days: int | None  # length of a duration
    time: str | None  # "HH:MM" for a clock time
    approximate: bool  # "a few days", 几天, months counted as 30 days
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class Urgency:
    level: UrgencyLevel
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    negated: tuple[Evidence, ...] = ()  # "not urgent", 不紧急: heard and not counted
    source: Source = "system"


@dataclass(frozen=True)
class Sentence:
    text: str
    start: float
    end: float
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    text: str
    sentences: tuple[Sentence, ...]
    confidence: float
    source: Source = "system"


@dataclass(frozen=True)
class Draft:
    """What the system proposes for the ticket; every field stays ``source: "system"`` until
    the agent confirms it on the form."""

    language: str
    kind: Choice
    category: Choice
    places: tuple[PlaceMention, ...]
    phones: tuple[Phone, ...]
    dates: tuple[DateMention, ...]
    urgency: Urgency
    summary: Summary
    source: Source = "system"

    @property
    def callback_number(self) -> str | None:
        """The number the caller gave to be called back on: the surest one (the first said
        among equals); None when no number was heard."""
        best = max(self.phones, key=lambda p: p.confidence, default=None)
        return best.value if best is not None else None

    @property
    def location(self) -> str | None:
        """The best place, with its district when one was named apart from it."""
        if not self.places:
            return None
        best = max(self.places, key=lambda p: (p.kind != "district", p.confidence))
        district = next(
            (p for p in self.places if p.kind == "district" and p is not best), None
        )  # places are sorted by confidence, so this is the likeliest district
        if best.kind == "district" or district is None:
            return best.label
        if is_chinese(best.label):
            return f"{district.zh or district.label}{best.label}"
        return f"{best.label}, {district.en or district.label}"

    def ticket_fields(self) -> dict[str, str | None]:
        """Suggestions for the ticket form (all system-filled; None where nothing was found)."""
        return {
            "kind": self.kind.value,
            "category": self.category.value,
            "location": self.location,
            "callback_number": self.callback_number,
            "description": self.summary.text or None,
        }

    def as_dict(self) -> dict[str, Any]:
        out = _jsonable(self)
        assert isinstance(out, dict)
        out["ticket_fields"] = self.ticket_fields()
        return out


def _jsonable(v: Any) -> Any:
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, date):
        return v.isoformat()
    return v
