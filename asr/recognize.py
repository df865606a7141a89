"""Recognising one recording leg with Vosk (blocking: run in worker processes or threads).

8 kHz legs are resampled to 16 kHz with sox before Vosk, measured on 20 espeak-ng sentences
(81 s of 8 kHz telephone-band speech, docs/benchmarks.md):

* sox to 16 kHz: WER 38 %, 3.7x real time per core;
* Vosk's own ``KaldiRecognizer(model, 8000)``: the shipped model refuses it ("Sampling
  frequency mismatch") unless ``--allow-upsample=true`` is added to its ``mfcc.conf``; then
  Kaldi's linear resampler upsamples and WER is 55 % at the same 3.7x;
* ``audioop.ratecv`` (linear interpolation, no filter): WER 61 %.

Measured again on real speech (the nine English clips of tests/data/speech at 8 kHz, 80 words,
and the same through mu-law with a 300-3400 Hz band; word errors, fewer is better) and on 22
espeak-ng sentences (256 words): sox's default filter 15 / 15 / 101, FFmpeg's (as
``vosk-transcriber`` resamples) 12 / 14 / 126, sox with its passband ending at 3.6 kHz
(``rate -h -b 90``, where the telephone band has long ended) 13 / 14 / 104: that one is used.

The same leg always gives the same text: sox's dither is random, so it is off (``-D``);
Kaldi's own dither draws on the C library's ``rand()``, whose state runs on from leg to leg, so
it is off too (``asr.model.Decoder``) and the same amount of noise is added here from a
generator seeded afresh for each leg (``RecognizerOptions.dither``; without any, the real
clips lose about a word in 80).

Decoding time goes to the search over speech, not the resampling, so the better filter costs
nothing measurable. What does save time is not decoding a leg while it is silent (its speaker is
listening): stretches quieter than ``silence_peak`` for longer than ``keep_silence`` are skipped
(the first ``keep_silence`` seconds are fed so Vosk still ends the utterance, and the last
``lead_in`` seconds before speech resumes so a soft onset is heard whole), and word times are
mapped back to the recording's own clock.

One ``KaldiRecognizer`` per language is kept and reused from leg to leg: the small model's
decoding graph is composed lazily (HCLr with Gr) inside the recognizer, and a new recognizer
starts with that composition empty. Measured on the benchmark's 38 legs, one core, whole legs:
a new recognizer per leg 16.4x real time, one reused 29.3x, WER 36.4 % and 35.1 %, resident
memory 326 and 417 MiB (it levels off after about 16 legs). Each leg still starts a new
utterance (its own speaker adaptation); it is renewed every ``renew_after`` seconds of audio
so the composition cannot grow without bound, and after any failure mid-leg.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from array import array
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.audio import WavInfo, read_wav
from asr.errors import AsrError, AudioError, NoModel
from asr.model import Decoder, LoadedModel, load_model
from asr.types import LegTranscript, Speaker, Word

MODEL_RATE = 16000  # what the small English model's features are computed at
BLOCK_SECONDS = 0.1  # silence is judged per block
FEED_SECONDS = 0.5  # audio handed to Vosk per call: fewer calls, same result
DITHER_SEED = 12345  # any fixed value: each leg starts the generator afresh


@dataclass(frozen=True)
class RecognizerOptions:
    # Peak sample magnitude (of 32767) below which a block counts as silence; 0 feeds all.
    silence_peak: int = 300
    keep_silence: float = 1.0
    # Seconds of a skipped stretch fed again just before speech resumes: a soft onset ("th",
    # "f", "h") is quieter than silence_peak and would otherwise be cut off the first word.
    lead_in: float = 0.3
    # Noise added to every sample (standard deviation, in sample units) before features are
    # computed, as Kaldi would (see asr.model.Decoder), but drawn from a generator seeded at
    # each leg: the same recording always gives the same text. 0 adds none.
    dither: float = 1.0
    beam: float | None = None  # decoder settings instead of the model's own (None: keep)
    max_active: int | None = None
    renew_after: float = 3600.0  # seconds of audio fed before a recognizer is replaced


@dataclass
class _Session:
    """A reused recognizer and how much audio it has been fed: Vosk's word times count from
    its first sample, so each leg's times are taken back by what came before."""

    rec: Any  # vosk.KaldiRecognizer
    fed_samples: int = 0


class Recognizer:
    """Holds the loaded model of each language it has been asked for (loaded on first use,
    once per process: a model takes about a second and 100+ MB to load)."""

    def __init__(
        self, models: Mapping[str, Path] | Path, options: RecognizerOptions | None = None
    ) -> None:
        # A bare folder: the caller has already chosen the model, it serves any language.
        self._paths = dict(models) if isinstance(models, Mapping) else {"*": Path(models)}
        self._loaded: dict[str, LoadedModel] = {}
        self._sessions: dict[str, _Session] = {}
        self.options = options or RecognizerOptions()

    def model(self, language: str) -> LoadedModel:
        """The model for ``language``: ``NoModel`` if none is configured, ``ModelError`` if
        its folder is missing or broken."""
        if language not in self._loaded:
            path = self._paths.get(language, self._paths.get("*"))
            if path is None:
                raise NoModel(language)
            decoder = Decoder(self.options.beam, self.options.max_active, dither=0.0)
            self._loaded[language] = load_model(path, language, decoder)
        return self._loaded[language]

    def transcribe(self, path: Path | str, speaker: Speaker, language: str) -> LegTranscript:
        """Recognise one leg; ``AudioError`` (with the reason) if the file is unusable."""
        info = read_wav(path)  # before the model: a bad file fails fast and cheaply
        model = self.model(language)
        session = self._sessions.pop(language, None)
        if session is None:
            import vosk

            session = _Session(vosk.KaldiRecognizer(model.vosk, MODEL_RATE))
            session.rec.SetWords(True)
        rec, offset = session.rec, session.fed_samples / MODEL_RATE
        spans: list[tuple[float, float]] = []  # (seconds fed to Vosk, seconds of recording)
        words: list[Word] = []
        fed = 0
        dither = _Dither(self.options.dither)
        # Not FinalResult() at each skipped stretch: restarting the utterance there made the
        # next words worse (23 % -> 31-38 % WER on the test reply); the clamp in _words is enough.
        # A failure part-way leaves the recognizer mid-utterance: it is dropped (not put back).
        for block in self._speech(info, spans):
            fed += len(block) // 2
            if rec.AcceptWaveform(dither(block)):
                words += _words(rec.Result(), spans, offset)
        words += _words(rec.FinalResult(), spans, offset)
        session.fed_samples += fed
        if session.fed_samples < self.options.renew_after * MODEL_RATE:
            self._sessions[language] = session
        return LegTranscript(speaker, tuple(words), info.duration, language, model.name)

    def _speech(self, info: WavInfo, spans: list[tuple[float, float]]) -> Iterator[bytes]:
        """The 16 kHz audio to feed, in FEED_SECONDS pieces, long silences left out; appends
        to ``spans`` where each fed stretch starts on both clocks."""
        opts = self.options
        block_bytes = int(MODEL_RATE * BLOCK_SECONDS) * 2
        feed_bytes = int(MODEL_RATE * FEED_SECONDS) * 2
        lead: deque[bytes] = deque(maxlen=round(opts.lead_in / BLOCK_SECONDS))
        fed = pos = quiet = 0.0
        feeding = False
        pending = bytearray()
        for block in _blocks_16k(info, block_bytes):
            seconds = len(block) / 2 / MODEL_RATE
            if opts.silence_peak and _peak(block) < opts.silence_peak:
                quiet += seconds
            else:
                quiet = 0.0
            if quiet <= opts.keep_silence:
                if not feeding:
                    back = sum(len(b) for b in lead) / 2 / MODEL_RATE
                    spans.append((fed, pos - back))
                    feeding = True
                    pending += b"".join(lead)
                    fed += back
                    lead.clear()
                pending += block
                fed += seconds
                if len(pending) >= feed_bytes:
                    yield bytes(pending)
                    pending.clear()
            else:
                if feeding and pending:
                    yield bytes(pending)
                    pending.clear()
                feeding = False
                lead.append(block)
            pos += seconds
        if pending:
            yield bytes(pending)


class _Dither:
    """Seeded Gaussian dither: the same leg gets the same noise, whatever came before."""

    def __init__(self, amount: float) -> None:
        import numpy as np

        self._np = np
        self._amount = amount
        self._rng = np.random.default_rng(DITHER_SEED)

    def __call__(self, block: bytes) -> bytes:
        if not self._amount:
            return block
        np = self._np
        samples = np.frombuffer(block, dtype="<i2").astype(np.float32)
        samples += self._rng.standard_normal(samples.size, dtype=np.float32) * self._amount
        return bytes(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes())


def _peak(block: bytes) -> int:
    samples = array("h", block)
    if sys.byteorder == "big":
        samples.byteswap()
    return max(max(samples), -min(samples)) if samples else 0


def _blocks_16k(info: WavInfo, block_bytes: int) -> Iterator[bytes]:
    """The recording as 16 kHz 16-bit mono PCM, ``block_bytes`` at a time."""
    if info.rate == MODEL_RATE:
        yield from _rechunk(info.chunks(FEED_SECONDS), block_bytes)
        return
    sox = shutil.which("sox")
    if sox is None:
        raise AsrError("sox is not installed (scripts/setup.sh installs it)")
    # sox's band-limited resampler (see the module docstring for why this one and these
    # settings); no dither (-D): sox's is random, and the same leg must give the same text.
    cmd = [
        sox,
        "-q",
        "-V1",
        str(info.path),
        "-t",
        "raw",
        "-e",
        "signed",
        "-b",
        "16",
        "-c",
        "1",
        "-L",
        "-D",
        "-",
        "rate",
        "-h",
        "-b",
        "90",
        str(MODEL_RATE),
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            while block := proc.stdout.read(block_bytes):
                yield block
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode(errors="replace").strip()
            code = proc.wait()
        if code != 0:
            raise AudioError(str(info.path), f"sox could not read it: {err or f'exit {code}'}")


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def _words(result_json: str, spans: list[tuple[float, float]], offset: float) -> list[Word]:
    """The words of a Vosk result; ``offset``: seconds the recognizer was fed before this leg."""
    result: dict[str, Any] = json.loads(result_json)
    words = []
    for w in result.get("result", ()):
        fed_start, fed_end = float(w["start"]) - offset, float(w["end"]) - offset
        start, end = _real_time(fed_start, spans), _real_time(fed_end, spans)
        # A word that still straddles a skipped stretch starts after it (the start alignment
        # may reach back into the silence fed before the gap).
        start = round(max(start, _span_start(fed_end, spans)), 3)
        words.append(Word(str(w["word"]), min(start, end), end, float(w.get("conf", 1.0))))
    return words


def _span_start(fed: float, spans: list[tuple[float, float]]) -> float:
    """Where the fed stretch holding ``fed`` starts, on the recording's clock."""
    start = 0.0
    for span_fed, span_real in spans:
        if span_fed > fed:
            break
        start = span_real
    return start


def _real_time(fed: float, spans: list[tuple[float, float]]) -> float:
    """A time on Vosk's clock (audio fed) on the recording's clock (silences included)."""
    start_fed, start_real = 0.0, 0.0
    for span_fed, span_real in spans:
        if span_fed > fed:
            break
        start_fed, start_real = span_fed, span_real
    return round(start_real + fed - start_fed, 3)
