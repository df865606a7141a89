"""The ``asr:`` configuration section: the speech engine and model of each language, the
engines' settings and the workers.

Kept in asr/ (imports flow hotline -> asr): hotline/app/settings.py includes it as ``Settings.asr``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from asr.engine import EngineName, EngineSpec, check_model
from asr.errors import ModelError, NoModel
from asr.recognize import RecognizerOptions
from asr.whisper import DEFAULT_PROMPTS, WhisperOptions

DEFAULT_VOSK_MODEL = Path("var/models/vosk-model-en-us-0.3.45")


def _language(lang: str) -> str:
    if not lang or not lang.isascii() or not lang.replace("-", "").isalnum():
        raise ValueError(f"{lang!r} is not a language code (e.g. en, zh)")
    return lang


class EngineChoice(BaseModel):
    """One language's engine: ``vosk`` (a Vosk model folder) or ``whisper`` (a Whisper model
    converted for CTranslate2: base, small, medium, large-v3...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: EngineName
    model: Path


class WhisperSettings(BaseModel):
    """``asr.whisper``: how the Whisper engine decodes (asr/whisper.py says why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # CPU threads of each worker process (the workers are the parallelism: asr.workers).
    threads: int = Field(1, ge=1, le=64)
    compute_type: str = Field("int8", pattern=r"^(int8|int8_float32|int8_float16|float32|float16)$")
    beam_size: int = Field(5, ge=1, le=10)
    vad: bool = True  # leave out what the voice-activity filter finds is not speech
    # Per language, the text every window is told came before: in Simplified characters for
    # Mandarin, so the model writes Simplified characters with punctuation.
    prompts: dict[str, str] = dict(DEFAULT_PROMPTS)
    # The gazetteer's places and the departments' names are given after the prompt up to this
    # many tokens (a long list slows decoding and the model starts writing it out).
    hotword_tokens: int = Field(120, ge=0, le=200)
    # A segment the model finds holds no speech (no_speech above this) is dropped when it is
    # unsure (mean log-probability below log_prob) or repetitive (compression ratio above
    # compression_ratio): Whisper's own thresholds, applied without its sampling fallback.
    no_speech: float = Field(0.6, gt=0, le=1)
    log_prob: float = Field(-1.0, le=0)
    compression_ratio: float = Field(2.4, gt=1)

    @field_validator("prompts")
    @classmethod
    def _prompt_languages(cls, v: dict[str, str]) -> dict[str, str]:
        for lang in v:
            _language(lang)
        return v

    def options(self, hotwords: Mapping[str, Sequence[str]] | None = None) -> WhisperOptions:
        """The engine's options; ``hotwords``: names per language (from the hotline's own
        configuration: places, departments)."""
        return WhisperOptions(
            threads=self.threads,
            compute_type=self.compute_type,
            beam_size=self.beam_size,
            vad=self.vad,
            prompts=dict(self.prompts),
            hotwords={lang: tuple(names) for lang, names in (hotwords or {}).items()},
            hotword_tokens=self.hotword_tokens,
            compression_ratio=self.compression_ratio,
            log_prob=self.log_prob,
            no_speech=self.no_speech,
        )


class AsrSettings(BaseModel):
    """Unknown keys are errors, as in every section (telephony.settings.Strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Off: no call is transcribed (the jobs are not even created).
    enabled: bool = True
    # Language -> engine and model folder (relative paths from the working directory), e.g.
    #   en: {engine: vosk, model: var/models/vosk-model-en-us-0.3.45}
    #   zh: {engine: whisper, model: var/models/whisper-base}
    # A language without an engine is not transcribed, and `hotline config check` and the
    # service say so.
    engines: dict[str, EngineChoice] = {}
    # The short form, for Vosk: language -> Vosk model folder. Unset, English is the small
    # Vosk model (unless `engines` names en); a language may not be in both.
    models: dict[str, Path] = {"en": DEFAULT_VOSK_MODEL}
    # A call whose language is not known (the caller left the IVR before choosing): found from
    # the caller's speech among the configured languages (needs a Whisper model); when it
    # cannot be (no Whisper model, no speech), this language (default: en if configured,
    # else the first configured).
    detect_language: bool = True
    default_language: str | None = None
    # Worker processes on this machine; each loads each model it needs once (Vosk small English
    # ~370 MB with its recogniser, Whisper base ~400 MB).
    workers: int = Field(2, ge=1, le=64)
    # Vosk's silence gate: a leg is not decoded while its peak stays below this (of 32767) for
    # longer than keep_silence seconds (its speaker is listening). 0 decodes every sample.
    silence_peak: int = Field(300, ge=0, le=32767)
    keep_silence: float = Field(1.0, ge=0.3, le=10)
    # Vosk decoder search width instead of the model's conf/model.conf (None keeps the model's
    # own: beam 10, max-active 3000 for the small English model). Measured on the benchmark's
    # 38 legs, one core, silence gate on, recognizer reused (2026-11-21): model's own 24.2x real
    # time, WER 36.1 %; 10/2000 26.7x, 36.2 %; 9/2000 35.1x, 36.3 %; 8/1000 43.9x, 37.5 %.
    # The model's own is the default: it meets 20x per core without giving up accuracy.
    beam: float | None = Field(None, ge=1, le=30)
    max_active: int | None = Field(None, ge=100, le=20000)
    whisper: WhisperSettings = WhisperSettings()

    @field_validator("models", "engines")
    @classmethod
    def _languages(cls, v: dict[str, object]) -> dict[str, object]:
        for lang in v:
            _language(lang)
        return v

    @model_validator(mode="after")
    def _one_engine_per_language(self) -> AsrSettings:
        if "models" not in self.model_fields_set:
            # The default (English on Vosk) gives way to ``engines``; dropped from the value
            # too, so that a dump of these settings parses back to the same settings.
            self.__dict__["models"] = {
                k: v for k, v in self.models.items() if k not in self.engines
            }
        else:
            both = sorted(set(self.models) & set(self.engines))
            if both:
                raise ValueError(
                    f"{', '.join(both)} in both asr.models and asr.engines: keep one "
                    "(asr.models names Vosk models; asr.engines any engine)"
                )
        if self.default_language is not None and self.default_language not in self.by_language:
            raise ValueError(
                f"default_language {self.default_language!r} has no engine "
                f"(configured: {', '.join(sorted(self.by_language)) or 'none'})"
            )
        return self

    @property
    def by_language(self) -> dict[str, EngineSpec]:
        """Every configured language's engine and model: ``models`` (Vosk) and ``engines``."""
        specs = {lang: EngineSpec("vosk", path) for lang, path in self.models.items()}
        specs.update({lang: EngineSpec(c.engine, c.model) for lang, c in self.engines.items()})
        return dict(sorted(specs.items()))

    @property
    def languages(self) -> list[str]:
        """The languages that are transcribed (calls, survey comments)."""
        return list(self.by_language) if self.enabled else []

    @property
    def fallback_language(self) -> str:
        """The language of a call whose language is neither known nor found."""
        if self.default_language is not None:
            return self.default_language
        langs = list(self.by_language)
        return "en" if "en" in langs or not langs else langs[0]

    @property
    def options(self) -> RecognizerOptions:
        return RecognizerOptions(
            silence_peak=self.silence_peak,
            keep_silence=self.keep_silence,
            beam=self.beam,
            max_active=self.max_active,
        )

    def without_model(self, languages: Iterable[str]) -> list[NoModel]:
        """The languages calls come in (IVR, queues) that no engine covers."""
        return [NoModel(lang) for lang in sorted(set(languages)) if lang not in self.by_language]

    def model_problems(self) -> list[str]:
        """Configured model folders that are missing or incomplete (not loaded: that is slow),
        each named by its setting."""
        problems = []
        for lang, spec in self.by_language.items():
            try:
                check_model(spec)
            except ModelError as exc:
                problems.append(f"asr.{'engines' if lang in self.engines else 'models'}: {exc}")
        return problems

    def coverage(self, languages: Iterable[str]) -> list[str]:
        """One line per language that will not be transcribed, for the log and config check:
        ``no speech model for zh: zh calls are not transcribed``."""
        if not self.enabled:
            return ["transcription is off (asr.enabled: false): no call is transcribed"]
        lines = [
            f"no speech model for {m.language}: {m.language} calls are not transcribed"
            for m in self.without_model(languages)
        ]
        lines += self.model_problems()
        return lines

    def describe(self) -> list[str]:
        """One line per language: its engine and model, for `hotline config check`."""
        return [f"{lang}: {spec.engine} {spec.model}" for lang, spec in self.by_language.items()]
