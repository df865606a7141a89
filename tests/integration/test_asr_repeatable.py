"""Repeatable transcripts: the same telephone (8 kHz) recording gives the same text on every
run, in one worker (its engine reused from job to job) and in a fresh one: Mandarin through
Whisper (temperature 0 only, no sampling fallback).

English through Vosk is not repeatable yet (issue 19): a recognizer reused from leg to leg gives
a different text for the same samples, so its test comes with that fix."""

from __future__ import annotations

from asr.whisper import WhisperEngine, WhisperOptions
from tests.integration.conftest import ROOT, WHISPER_MODEL

SPEECH = ROOT / "tests" / "data" / "speech"


def test_a_mandarin_telephone_recording_gives_the_same_text_three_times() -> None:
    clip = SPEECH / "zh" / "thchs30_A2_2.8k.wav"
    worker = WhisperEngine(WHISPER_MODEL, WhisperOptions(hotwords={"zh": ("和平路", "经十路")}))
    first = worker.transcribe(clip, "caller", "zh")
    again = worker.transcribe(clip, "caller", "zh")
    fresh = WhisperEngine(WHISPER_MODEL, WhisperOptions(hotwords={"zh": ("和平路", "经十路")}))
    third = fresh.transcribe(clip, "caller", "zh")
    assert first.text and first.text == again.text == third.text
    assert first.words == again.words == third.words  # the times too
