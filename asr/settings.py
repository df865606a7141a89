"""The ``asr:`` configuration section: speech models per language and the workers.

Kept in asr/ (imports flow hotline -> asr): hotline/app/settings.py includes it as ``Settings.asr``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asr.errors import ModelError, NoModel
from asr.model import check_model_dir
from asr.recognize import RecognizerOptions


class AsrSettings(BaseModel):
    """Unknown keys are errors, as in every section (telephony.settings.Strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Off: no call is transcribed (the jobs are not even created).
    enabled: bool = True
    # Language -> Vosk model folder (relative paths from the working directory). A language
    # without an entry is not transcribed, and `hotline config check` and the service say so.
    models: dict[str, Path] = {"en": Path("var/models/vosk-model-en-us-0.3.45")}
    # Worker processes on this machine; each loads each model it needs once (~150 MB each).
    workers: int = Field(2, ge=1, le=64)
    # Silence gate: a leg is not decoded while its peak stays below this (of 32767) for longer
    # than keep_silence seconds (its speaker is listening). 0 decodes every sample.
    silence_peak: int = Field(300, ge=0, le=32767)
    keep_silence: float = Field(1.0, ge=0.3, le=10)
    # Decoder search width instead of the model's conf/model.conf (None keeps the model's own:
    # beam 10, max-active 3000 for the small English model). Measured on the benchmark's 38
    # legs, one core, silence gate on, recognizer reused (2026-11-21): model's own 24.2x real
    # time, WER 36.1 %; 10/2000 26.7x, 36.2 %; 9/2000 35.1x, 36.3 %; 8/1000 43.9x, 37.5 %.
    # The model's own is the default: it meets 20x per core without giving up accuracy.
    beam: float | None = Field(None, ge=1, le=30)
    max_active: int | None = Field(None, ge=100, le=20000)

    @field_validator("models")
    @classmethod
    def _languages(cls, v: dict[str, Path]) -> dict[str, Path]:
        for lang in v:
            if not lang or not lang.isascii() or not lang.replace("-", "").isalnum():
                raise ValueError(f"{lang!r} is not a language code (e.g. en, zh)")
        return v

    @property
    def options(self) -> RecognizerOptions:
        return RecognizerOptions(
            silence_peak=self.silence_peak,
            keep_silence=self.keep_silence,
            beam=self.beam,
            max_active=self.max_active,
        )

    def without_model(self, languages: Iterable[str]) -> list[NoModel]:
        """The languages calls come in (IVR, queues) that no model covers."""
        return [NoModel(lang) for lang in sorted(set(languages)) if lang not in self.models]

    def model_problems(self) -> list[ModelError]:
        """Configured model folders that are missing or incomplete (not loaded: that is slow)."""
        problems = []
        for _, path in sorted(self.models.items()):
            try:
                check_model_dir(path)
            except ModelError as exc:
                problems.append(exc)
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
        lines += [f"asr.models: {p}" for p in self.model_problems()]
        return lines
