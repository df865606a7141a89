"""Clips joined with pauses of low noise (testkit/speech.py, the "pauses" set of
bench/asr_accuracy.py): lengths, the clips' bytes untouched, the noise's level, the same bytes
every time, the grouping of clips."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from testkit.speech import NOISE_PEAK, join_with_pauses, noise, pause_groups, read_pcm, write_wav


def samples(pcm: bytes) -> array[int]:
    return array("h", pcm)  # little-endian on every machine the tests run on


def test_clips_kept_and_pauses_between() -> None:
    rate = 8000
    a, b, c = bytes([1, 0]) * 800, bytes([2, 0]) * 1600, bytes([3, 0]) * 400
    joined = join_with_pauses([a, b, c], [1.5, 2.0], rate)
    gap1, gap2 = int(1.5 * rate) * 2, int(2.0 * rate) * 2
    assert len(joined) == len(a) + gap1 + len(b) + gap2 + len(c)
    assert joined[: len(a)] == a
    start = len(a) + gap1
    assert joined[start : start + len(b)] == b
    assert joined[-len(c) :] == c
    pause = samples(joined[len(a) : start])
    assert max(abs(s) for s in pause) <= NOISE_PEAK
    assert len(set(pause)) > 10  # noise, not digital silence


def test_same_bytes_every_time() -> None:
    clips = [bytes(200), bytes(300)]
    assert join_with_pauses(clips, [1.5], 16000, seed=3) == join_with_pauses(
        clips, [1.5], 16000, seed=3
    )
    assert noise(0.5, 16000, seed=1) != noise(0.5, 16000, seed=2)
    assert len(noise(0.5, 16000)) == 16000  # 8000 samples of 2 bytes


def test_one_clip_needs_no_pause_and_bad_input_is_refused() -> None:
    assert join_with_pauses([b"\x01\x00"], [], 8000) == b"\x01\x00"
    with pytest.raises(ValueError, match="need 1 pauses"):
        join_with_pauses([bytes(2), bytes(2)], [], 8000)
    with pytest.raises(ValueError, match="not 16-bit PCM"):
        join_with_pauses([bytes(3)], [], 8000)


@pytest.mark.parametrize(
    ("n", "sizes"),
    [(9, [3, 3, 3]), (10, [4, 3, 3]), (11, [4, 4, 3]), (7, [4, 3]), (5, [5]), (2, [2]), (0, [])],
)
def test_pause_groups(n: int, sizes: list[int]) -> None:
    groups = pause_groups(n)
    assert [len(g) for g in groups] == sizes
    assert [i for g in groups for i in g] == list(range(n))  # every clip once, in order


def test_wav_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    write_wav(path, 8000, bytes(range(10)))
    assert read_pcm(path) == (8000, bytes(range(10)))
