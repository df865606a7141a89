"""A call's transcript from its legs, and its renderings: txt, json and srt."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from asr.turns import merge
from asr.types import Detection, LegTranscript, Speaker, Transcript, Turn, Word

Format = Literal["txt", "json", "srt"]
FORMATS: tuple[Format, ...] = ("txt", "json", "srt")
# A single leg has no other speaker to end its turns: a pause this long starts a new line.
PAUSE_SECONDS = 1.0


def build(
    legs: Sequence[LegTranscript],
    language: str | None = None,
    detected: Detection | None = None,
    **extra: Any,
) -> Transcript:
    """One call: a caller and an agent leg are merged into turns; a lone leg is split at
    pauses. ``language`` defaults to the legs'; ``detected``: how it was found when the call
    did not say; ``extra`` (e.g. the source files) is kept in ``Transcript.extra``."""
    if not legs:
        raise ValueError("a transcript needs at least one leg")
    by = {leg.speaker: leg for leg in legs}
    if len(legs) == 2 and set(by) == {"caller", "agent"}:
        turns = merge(by["caller"], by["agent"])
    elif len(legs) == 1:
        turns = _split(legs[0])
    else:
        raise ValueError("legs must be one leg, or one caller and one agent leg")
    return Transcript(turns, tuple(legs), language or legs[0].language, dict(extra), detected)


def _split(leg: LegTranscript) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    words: list[Word] = []
    for w in leg.words:
        if words and w.start - words[-1].end >= PAUSE_SECONDS:
            turns.append(Turn(leg.speaker, words[0].start, words[-1].end, tuple(words)))
            words = []
        words.append(w)
    if words:
        turns.append(Turn(leg.speaker, words[0].start, words[-1].end, tuple(words)))
    return tuple(turns)


def duration(t: Transcript) -> float:
    return max((leg.duration for leg in t.legs), default=0.0)


def _clock(seconds: float, sep: str = ".") -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_txt(t: Transcript) -> str:
    """One line per turn: ``[00:00:01.200 - 00:00:04.500] caller: text``."""
    lines = [f"[{_clock(u.start)} - {_clock(u.end)}] {u.speaker}: {u.text}" for u in t.turns]
    return "\n".join(lines) + ("\n" if lines else "")


def to_srt(t: Transcript) -> str:
    cues = [
        f"{i}\n{_clock(u.start, ',')} --> {_clock(u.end, ',')}\n{u.speaker}: {u.text}\n"
        for i, u in enumerate(t.turns, 1)
    ]
    return "\n".join(cues)


def _word(w: Word) -> dict[str, Any]:
    return {"word": w.text, "start": w.start, "end": w.end, "conf": w.conf}


def to_dict(t: Transcript) -> dict[str, Any]:
    return {
        "language": t.language,
        # True: the call did not say (the caller left the IVR first); found from the audio.
        "language_detected": t.detected is not None,
        **(
            {"language_probability": round(t.detected.probability, 3)}
            if t.detected is not None
            else {}
        ),
        "unclear": t.unclear,
        "duration": round(duration(t), 3),
        "turns": [
            {
                "speaker": u.speaker,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "words": [_word(w) for w in u.words],
            }
            for u in t.turns
        ],
        "legs": [
            {
                "speaker": leg.speaker,
                "model": leg.model,
                "duration": round(leg.duration, 3),
                "text": leg.text,
                "unclear": list(leg.unclear),
            }
            for leg in t.legs
        ],
        **({"extra": t.extra} if t.extra else {}),
    }


def from_dict(data: dict[str, Any]) -> Transcript:
    """The inverse of ``to_dict`` (legs keep their text through their turns' words)."""
    turns = tuple(
        Turn(
            _speaker(u["speaker"]),
            float(u["start"]),
            float(u["end"]),
            tuple(Word(w["word"], w["start"], w["end"], w["conf"]) for w in u["words"]),
        )
        for u in data["turns"]
    )
    legs = tuple(
        LegTranscript(
            _speaker(leg["speaker"]),
            tuple(w for u in turns if u.speaker == leg["speaker"] for w in u.words),
            float(leg["duration"]),
            data["language"],
            leg["model"],
            tuple(str(u) for u in leg.get("unclear", ())),
        )
        for leg in data["legs"]
    )
    detected = None
    if data.get("language_detected"):
        detected = Detection(data["language"], float(data.get("language_probability", 0.0)))
    return Transcript(turns, legs, data["language"], dict(data.get("extra", {})), detected)


def _speaker(value: str) -> Speaker:
    if value not in ("caller", "agent"):
        raise ValueError(f"unknown speaker {value!r}")
    return "caller" if value == "caller" else "agent"


def to_json(t: Transcript) -> str:
    return json.dumps(to_dict(t), ensure_ascii=False, indent=1) + "\n"


def render(t: Transcript, fmt: Format) -> str:
    if fmt == "txt":
        return to_txt(t)
    if fmt == "srt":
        return to_srt(t)
    return to_json(t)
