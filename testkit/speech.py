"""Longer legs from short speech clips: clips joined with pauses of low-level noise between
them, as a caller pauses to think or to listen (bench/asr_accuracy.py's "pauses" set).

Everything is deterministic: the noise comes from a seeded generator, never from dither, so the
same clips give the same bytes on every run and machine.
"""

from __future__ import annotations

import random
import sys
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path

# The pauses between joined clips, in turn: all longer than the silence a leg may keep before
# the silence gate skips it (asr.keep_silence, 1 s), as a real pause is.
PAUSES = (1.5, 2.0, 2.5, 3.0)
NOISE_PEAK = 60  # of 32767: a quiet line's floor, under the silence gate's 300


def pause_groups(n: int, smallest: int = 3) -> list[range]:
    """``n`` clips in consecutive groups: as many of at least ``smallest`` as fit, as even as
    they come (9 → 3+3+3, 10 → 4+3+3, 7 → 4+3, 5 → 5, 2 → 2)."""
    if n <= 0:
        return []
    count = max(1, n // smallest)
    size, extra = divmod(n, count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        groups.append(range(start, end))
        start = end
    return groups


def noise(seconds: float, rate: int, peak: int = NOISE_PEAK, seed: int = 0) -> bytes:
    """``seconds`` of white noise within ±``peak``, 16-bit little-endian mono PCM; the same
    arguments give the same bytes."""
    rng = random.Random(seed)
    samples = array("h", (rng.randint(-peak, peak) for _ in range(round(seconds * rate))))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def join_with_pauses(
    clips: Sequence[bytes],
    pauses: Sequence[float],
    rate: int,
    *,
    peak: int = NOISE_PEAK,
    seed: int = 0,
) -> bytes:
    """16-bit mono PCM ``clips`` (same ``rate``) one after another, with ``pauses[i]`` seconds
    of noise (``noise``, seeded by ``seed`` and the pause's place) between clip i and i+1."""
    if len(pauses) != max(0, len(clips) - 1):
        raise ValueError(
            f"{len(clips)} clips need {max(0, len(clips) - 1)} pauses, not {len(pauses)}"
        )
    out = bytearray()
    for i, clip in enumerate(clips):
        if len(clip) % 2:
            raise ValueError(f"clip {i} is not 16-bit PCM ({len(clip)} bytes)")
        if i:
            out += noise(pauses[i - 1], rate, peak, seed * 1000 + i)
        out += clip
    return bytes(out)


def read_pcm(path: Path) -> tuple[int, bytes]:
    """A 16-bit mono WAV's rate and samples."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit mono PCM")
        return w.getframerate(), w.readframes(w.getnframes())


def write_wav(path: Path, rate: int, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
