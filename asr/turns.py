"""Merging the two legs of a call into speaker turns."""

from __future__ import annotations

import heapq

from asr.types import LegTranscript, Speaker, Turn, Word


def merge(caller: LegTranscript, agent: LegTranscript) -> tuple[Turn, ...]:
    """Both legs' words interleaved by start time; consecutive words of one speaker form a
    turn. The legs are recorded on the same clock (MixMonitor starts both files at once), so
    their word times compare directly. On equal start times the caller comes first."""
    tagged = heapq.merge(
        ((w.start, 0, w, "caller") for w in caller.words),
        ((w.start, 1, w, "agent") for w in agent.words),
    )
    turns: list[Turn] = []
    speaker: Speaker | None = None
    words: list[Word] = []
    for _, _, word, who in tagged:
        if who != speaker and words:
            turns.append(_turn(speaker, words))
            words = []
        speaker = "caller" if who == "caller" else "agent"
        words.append(word)
    if words:
        turns.append(_turn(speaker, words))
    return tuple(turns)


def _turn(speaker: Speaker | None, words: list[Word]) -> Turn:
    assert speaker is not None
    return Turn(speaker, words[0].start, max(w.end for w in words), tuple(words))
