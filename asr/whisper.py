"""Recognising a leg with faster-whisper (a Whisper model converted for CTranslate2), the
Mandarin engine (blocking: worker processes only).

Decoding is repeatable: temperature 0 only, never the sampling fallback, one thread per
worker unless configured (``asr.whisper.threads``). What the fallback guarded against (a
window that loops on one phrase, or writes out its prompt over noise) is handled after
decoding instead (``asr/loops.py``):

* the voice-activity filter (Silero VAD) leaves out what is not speech, so silence, noise and
  music-on-hold are mostly never decoded;
* the text of one window never conditions the next (``condition_on_previous_text=False``);
* a segment the model itself thinks holds no speech (``no_speech`` above its threshold) and
  that is either unsure (mean log-probability below ``log_prob``) or repetitive (compression
  ratio above ``compression_ratio``) is dropped;
* repeated-phrase loops are cut, and a segment that only repeats the prompt is dropped.

What is left and how much was dropped tell whether the leg was clear (``LegTranscript.unclear``).

The prompt (for Mandarin "以下是普通话的句子。", in Simplified characters: without it Whisper
often writes Traditional ones) and the hot words (the gazetteer's places and the departments,
from the hotline's configuration) are given to every 30-second window through faster-whisper's
``hotwords`` (its ``initial_prompt`` reaches the first window only). Mandarin output then goes
through ``asr/chinese.py``: Simplified, Chinese punctuation, no spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.audio import read_wav
from asr.chinese import Converter, punctuated, simplified, t2s_converter
from asr.errors import ModelError
from asr.loops import MIN_RUN_CHARS, cut_loops, is_echo, listed_tail, norm
from asr.types import Detection, LegTranscript, Speaker, Word

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

RATE = 16000  # Whisper's input rate
# Speech left after a segment's end below which the rest is not decoded (see transcribe).
TAIL_SECONDS = 1.0
# Simplified-Chinese prompt: it keeps the model in Simplified characters and punctuating.
DEFAULT_PROMPTS = {"zh": "以下是普通话的句子。"}
# The files of a CTranslate2 Whisper folder (vocabulary.txt or .json).
_REQUIRED = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class WhisperOptions:
    """The Whisper engine's settings (``asr.whisper``), plain data for the worker processes."""

    threads: int = 1  # CPU threads per worker process
    compute_type: str = "int8"
    beam_size: int = 5
    vad: bool = True  # Silero voice-activity filter before decoding
    prompts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROMPTS))
    # Per language: names the decoder is told to expect (places, departments). Given after
    # the prompt, up to ``hotword_tokens`` tokens (the rest are left out: a long list costs
    # decoding time and the model starts copying it).
    hotwords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hotword_tokens: int = 120
    compression_ratio: float = 2.4
    log_prob: float = -1.0
    no_speech: float = 0.6


def check_whisper_dir(path: Path) -> None:
    """``ModelError`` naming what is missing when ``path`` cannot be a CTranslate2 Whisper
    model folder."""
    if not path.exists():
        raise ModelError(
            f"model folder {path} does not exist (scripts/setup-whisper.sh installs the base model)"
        )
    if not path.is_dir():
        raise ModelError(f"model path {path} is not a folder")
    missing = [r for r in _REQUIRED if not (path / r).is_file()]
    if not any((path / f"vocabulary.{ext}").is_file() for ext in ("txt", "json")):
        missing.append("vocabulary.txt (or vocabulary.json)")
    if missing:
        raise ModelError(
            f"model folder {path} is not a CTranslate2 Whisper model: no {', '.join(missing)}"
        )


# -- the pure part: decoded segments to the leg's words ----------------------------------------


@dataclass(frozen=True)
class Segment:
    """What the guard reads of one decoded segment."""

    start: float
    end: float
    words: tuple[Word, ...]
    compression_ratio: float
    avg_logprob: float
    no_speech_prob: float


def decoder_context(
    language: str, options: WhisperOptions, tokens: Callable[[str], int] = len
) -> str:
    """The prompt and hot words given to every window; hot words past ``hotword_tokens`` (as
    ``tokens`` counts them) are left out."""
    prompt = options.prompts.get(language, "")
    sep, end = ("、", "。") if language == "zh" else (", ", ".")
    names = list(dict.fromkeys(h.strip() for h in options.hotwords.get(language, ()) if h.strip()))

    def text(n: int) -> str:
        listed = sep.join(names[:n]) + end if n else ""
        return prompt + (" " if prompt and listed and language != "zh" else "") + listed

    n = len(names)
    while n and tokens(text(n)) > options.hotword_tokens:
        n -= 1
    return text(n)


@dataclass(frozen=True)
class Cleaned:
    words: tuple[Word, ...]
    unclear: tuple[str, ...]


def clean(
    segments: Sequence[Segment],
    *,
    language: str,
    duration: float,
    options: WhisperOptions,
    converter: Converter | None = None,
) -> Cleaned:
    """The leg's words from its decoded segments: non-speech and echo segments dropped, loops
    cut; Mandarin in Simplified characters with Chinese punctuation; and why it is unclear."""
    prompt = options.prompts.get(language, "")
    hotwords = options.hotwords.get(language, ())
    kept: list[Word] = []
    spoken = dropped = doubtful = 0.0  # seconds of what the decoder took for speech
    looped = 0  # characters cut from loops
    for seg in segments:
        length = max(0.0, seg.end - seg.start)
        spoken += length
        silent = seg.no_speech_prob > options.no_speech
        if silent and (
            seg.avg_logprob < options.log_prob or seg.compression_ratio > options.compression_ratio
        ):
            dropped += length
            continue
        heard = _attached(seg.words)
        words, _ = cut_loops(heard)
        before, after = _chars(heard), _chars(words)
        looped += before - after
        words = words[: listed_tail(words, hotwords)]  # the list it was given, copied out
        after = _chars(words)
        if not words or is_echo("".join(w.text for w in words), prompt, hotwords):
            dropped += length
            continue
        share = after / before
        dropped += length * (1 - share)
        if silent:  # kept on the decoder's confidence, but it heard no speech there
            doubtful += length * share
        if language == "zh":
            words = _chinese(words, converter)
        kept += words
    unclear: list[str] = []
    if not kept:
        found = "no speech found" if spoken == 0 else f"{spoken:.1f} s taken for speech"
        unclear.append(f"nothing made out in {duration:.1f} s of audio ({found})")
    elif dropped + doubtful > spoken / 2:
        unclear.append(
            f"mostly not made out: {dropped + doubtful:.1f} of {spoken:.1f} s of speech "
            "dropped or doubtful"
        )
    if kept and looped >= MIN_RUN_CHARS:
        unclear.append(f"a repeated phrase was cut ({looped} characters)")
    return Cleaned(tuple(kept), tuple(unclear))


def _attached(words: Sequence[Word]) -> list[Word]:
    """Words with a word that is only punctuation joined to the one before it (to the next
    at the start); blank ones left out."""
    out: list[Word] = []
    lead = ""
    for w in words:
        text = w.text.strip()
        if not text:
            continue
        if norm(text):
            out.append(Word(lead + text, w.start, w.end, w.conf))
            lead = ""
        elif out:
            last = out[-1]
            out[-1] = Word(last.text + text, last.start, max(last.end, w.end), last.conf)
        else:
            lead += text
    return out


def _chars(words: Sequence[Word]) -> int:
    return sum(len(norm(w.text)) for w in words)


def _chinese(words: list[Word], converter: Converter | None) -> list[Word]:
    texts = [w.text.strip() for w in words]
    if converter is not None:
        texts = simplified(texts, converter)
    texts = punctuated(texts)
    return [Word(t, w.start, w.end, w.conf) for t, w in zip(texts, words, strict=True)]


# -- the engine ----------------------------------------------------------------------------------


class WhisperEngine:
    """One Whisper model folder, loaded on first use (once per process: under a second, and
    about 400 MB resident for base with its working memory) and reused for every leg and
    every language it serves."""

    def __init__(self, folder: Path, options: WhisperOptions | None = None) -> None:
        self.folder = Path(folder)
        self.options = options or WhisperOptions()
        self._model: Any = None  # faster_whisper.WhisperModel (no type hints)
        self._converter: Converter | None = None
        self._contexts: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self.folder.name

    def load(self) -> None:
        """Load the model now; ``ModelError`` if the folder is missing or broken."""
        if self._model is not None:
            return
        check_whisper_dir(self.folder)
        from faster_whisper import WhisperModel

        try:
            self._model = WhisperModel(
                str(self.folder),
                device="cpu",
                compute_type=self.options.compute_type,
                cpu_threads=self.options.threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:  # ctranslate2's load errors
            raise ModelError(f"model {self.folder} failed to load: {exc}") from None
        self._converter = t2s_converter()

    def _context(self, language: str) -> str:
        if language not in self._contexts:
            tokenizer = self._model.hf_tokenizer

            def tokens(text: str) -> int:
                return len(tokenizer.encode(" " + text, add_special_tokens=False).ids)

            self._contexts[language] = decoder_context(language, self.options, tokens)
        return self._contexts[language]

    def _audio(self, path: Path | str) -> tuple[npt.NDArray[np.float32], float]:
        """The recording as 16 kHz float samples (PyAV resamples an 8 kHz leg, without
        dither: the same file gives the same samples), and its duration."""
        info = read_wav(path)  # before the model: a bad file fails fast, with its reason
        from faster_whisper import decode_audio

        audio: npt.NDArray[np.float32] = decode_audio(str(info.path), sampling_rate=RATE)
        return audio, info.duration

    def transcribe(self, path: Path | str, speaker: Speaker, language: str) -> LegTranscript:
        """Recognise one leg; ``AudioError`` (with the reason) if the file is unusable."""
        audio, duration = self._audio(path)
        self.load()
        code = language.split("-")[0].lower()
        context = self._context(code)
        opts = self.options
        chunks = self._speech(audio)
        segments: list[Segment] = []
        if chunks:
            import numpy as np
            from faster_whisper.vad import SpeechTimestampsMap, collect_chunks

            speech = np.concatenate(collect_chunks(audio, chunks)[0])
            left = len(speech) / RATE
            decoded, _ = self._model.transcribe(
                speech,
                language=code,
                task="transcribe",
                beam_size=opts.beam_size,
                best_of=1,
                temperature=0.0,
                condition_on_previous_text=False,
                compression_ratio_threshold=opts.compression_ratio,
                log_prob_threshold=opts.log_prob,
                no_speech_threshold=opts.no_speech,
                hotwords=context or None,
                word_timestamps=True,
                vad_filter=False,  # done above: the speech's own length tells where it ends
            )
            clock = SpeechTimestampsMap(chunks, RATE, time_precision=3)
            for s in decoded:
                segments.append(_segment(s, clock))
                # With word times, Whisper decodes again from the last word's end: at the end
                # of the speech that is a window of a breath or of the VAD's padding, where the
                # model loops or writes out its prompt (twice the time of a short leg).
                if left - float(s.end) < TAIL_SECONDS:
                    break
        cleaned = clean(
            segments,
            language=code,
            duration=duration,
            options=opts,
            converter=self._converter,
        )
        return LegTranscript(speaker, cleaned.words, duration, language, self.name, cleaned.unclear)

    def _speech(self, audio: npt.NDArray[np.float32]) -> list[dict[str, int]]:
        """Where the speech is (sample offsets), by the VAD; all of it without the VAD."""
        if not self.options.vad:
            return [{"start": 0, "end": len(audio)}] if len(audio) else []
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        chunks: list[dict[str, int]] = get_speech_timestamps(audio, VadOptions())
        return chunks

    def detect(self, path: Path | str, languages: Sequence[str]) -> Detection | None:
        """Which of ``languages`` the speech in ``path`` is in (Whisper's language detection
        on the first 30 s of speech, the other languages left out); None when the leg holds
        no speech to tell by."""
        from faster_whisper.vad import collect_chunks

        audio, _ = self._audio(path)
        self.load()
        chunks = self._speech(audio)
        if not chunks:
            return None
        import numpy as np

        speech = np.concatenate(collect_chunks(audio, chunks)[0])
        _, _, probs = self._model.detect_language(audio=speech)
        codes = {lang.split("-")[0].lower(): lang for lang in languages}
        scores = {codes[code]: float(p) for code, p in probs if code in codes}
        total = sum(scores.values())
        if not scores or total <= 0:
            return None
        best = max(scores, key=lambda lang: scores[lang])
        return Detection(best, scores[best] / total)


def _segment(s: Any, clock: Any) -> Segment:
    """A faster-whisper segment as plain values, its times (numpy floats, on the clock of the
    speech alone) put back on the recording's clock by ``clock`` (a SpeechTimestampsMap)."""
    words = []
    for w in s.words or ():
        # Both ends of a word on the chunk its middle is in (as faster-whisper does).
        chunk = clock.get_chunk_index((float(w.start) + float(w.end)) / 2)
        start = float(clock.get_original_time(float(w.start), chunk))
        end = float(clock.get_original_time(float(w.end), chunk))
        words.append(Word(str(w.word).strip(), start, end, float(w.probability)))
    return Segment(
        float(clock.get_original_time(float(s.start))),
        float(clock.get_original_time(float(s.end), is_end=True)),
        tuple(words),
        float(s.compression_ratio),
        float(s.avg_logprob),
        float(s.no_speech_prob),
    )
