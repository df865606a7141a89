"""A two-party call's recorded legs from its spoken turns, as the PBX records them: one file per
speaker on one clock, each speaker's turns in order and their leg silent while the other talks.

``layout`` places the turns in time (pure arithmetic); ``legs`` lays 16-bit mono PCM clips out
that way (pure bytes). Making the clips (espeak-ng, a recording) and writing the WAVs are the
caller's (bench/draft_bench.py ``--engine``; an end-to-end test may play the caller's leg
through a phone and compare what the agent's side recorded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Speaker = Literal["caller", "agent"]
SPEAKERS: tuple[Speaker, ...] = ("caller", "agent")
SAMPLE_BYTES = 2  # 16-bit PCM

# Who speaks next waits this long after the other stops: longer than a recogniser's end of
# utterance, as a real answer is, so turns do not run into each other.
GAP = 0.6
LEAD = 0.5  # silence before the first turn (the call connecting)
TAIL = 0.5  # and after the last


@dataclass(frozen=True)
class Slot:
    """One turn's place on the call's clock, in seconds."""

    speaker: Speaker
    start: float
    end: float


def layout(
    turns: Sequence[tuple[Speaker, float]],
    *,
    gap: float = GAP,
    lead: float = LEAD,
) -> list[Slot]:
    """Each turn (its speaker and its length in seconds) placed after the one before: ``lead``
    before the first, ``gap`` between two turns, whoever speaks them (a speaker's two turns in
    a row are two utterances with a pause between, as a caller who goes on after a breath)."""
    if gap < 0 or lead < 0:
        raise ValueError("gap and lead must not be negative")
    slots: list[Slot] = []
    t = lead
    for speaker, seconds in turns:
        if seconds < 0:
            raise ValueError(f"a turn cannot last {seconds} s")
        slots.append(Slot(speaker, t, t + seconds))
        t += seconds + gap
    return slots


def _samples(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def legs(
    turns: Sequence[tuple[Speaker, bytes]],
    rate: int,
    *,
    gap: float = GAP,
    lead: float = LEAD,
    tail: float = TAIL,
) -> dict[Speaker, bytes]:
    """Both legs (16-bit mono PCM at ``rate``, the same length) of a call whose turns are
    ``turns``: each speaker's clip at its ``layout`` slot, zero samples elsewhere. Both keys are
    there even when one speaker never talks (a silent leg)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    for _, pcm in turns:
        if len(pcm) % SAMPLE_BYTES:
            raise ValueError("a clip must be whole 16-bit samples")
    # Slots in whole samples, so that clips never overlap from rounding.
    starts: list[int] = []
    n = _samples(lead, rate)
    step = _samples(gap, rate)
    for _, pcm in turns:
        starts.append(n)
        n += len(pcm) // SAMPLE_BYTES + step
    total = (n - step if turns else n) + _samples(tail, rate)
    out = {s: bytearray(total * SAMPLE_BYTES) for s in SPEAKERS}
    for (speaker, pcm), start in zip(turns, starts, strict=True):
        at = start * SAMPLE_BYTES
        out[speaker][at : at + len(pcm)] = pcm
    return {s: bytes(b) for s, b in out.items()}
