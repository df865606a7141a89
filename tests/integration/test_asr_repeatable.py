"""Repeatable transcripts: the same telephone (8 kHz) recording gives the same text on every
run, in one worker (its engine reused from job to job, other legs decoded in between) and in a
fresh one: English through Vosk (no random dither: sox resamples with -D, Kaldi's own dither is
off and a seeded one is added per leg), Mandarin through Whisper (temperature 0 only, no
sampling fallback)."""

from __future__ import annotations

from asr.recognize import Recognizer
from asr.whisper import WhisperEngine, WhisperOptions
from tests.integration.conftest import ROOT, VOSK_MODEL, WHISPER_MODEL

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


def test_an_english_telephone_recording_gives_the_same_text_three_times() -> None:
    # The longest English clip: before the fix, its words changed from run to run ("sorrow of
    # his life" / "sorrows his life", "cotton" / "carton" / "caught in").
    clip = SPEECH / "en" / "librispeech_1995-1837-0001.8k.wav"
    other = SPEECH / "en" / "speechbrain_spk1_snt1.8k.wav"
    worker = Recognizer({"en": VOSK_MODEL})
    first = worker.transcribe(clip, "caller", "en")
    worker.transcribe(other, "agent", "en")  # the worker goes on to another leg in between
    again = worker.transcribe(clip, "caller", "en")
    third = Recognizer({"en": VOSK_MODEL}).transcribe(clip, "caller", "en")
    assert len(first.words) >= 20
    assert first.text == again.text == third.text
    assert first.words == again.words == third.words  # the times and confidences too
