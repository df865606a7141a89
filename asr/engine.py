"""One speech engine per language, chosen in the configuration (``asr.engines``).

``SpeechEngine`` is what a worker asks of an engine: one leg (a recording of one speaker) in,
its ``LegTranscript`` out, blocking. Vosk's ``Recognizer`` (asr/recognize.py) and
``WhisperEngine`` (asr/whisper.py) both are one. A streaming engine (live captions) would add
a feed-audio, take-partial-words session beside ``transcribe``; the batch callers need not
change for it.

``Engines`` is a worker process's set: each language's engine is built and its model loaded
on first use (or by ``preload``), once per process, and reused for every job. One Vosk
recogniser holds the models of all Vosk languages; one Whisper engine per model folder serves
every language that names that folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from asr.errors import NoModel
from asr.recognize import Recognizer, RecognizerOptions
from asr.types import Detection, LegTranscript, Speaker
from asr.whisper import WhisperEngine, WhisperOptions, check_whisper_dir

EngineName = Literal["vosk", "whisper"]
ENGINE_NAMES: tuple[EngineName, ...] = ("vosk", "whisper")


class SpeechEngine(Protocol):
    def transcribe(self, path: Path | str, speaker: Speaker, language: str) -> LegTranscript:
        """Recognise one leg: ``AudioError`` if the file is unusable, ``ModelError`` if the
        model is missing or broken, ``NoModel`` if the engine has none for ``language``."""
        ...


@dataclass(frozen=True)
class EngineSpec:
    """A language's engine and its model folder (plain data: crosses to worker processes)."""

    engine: EngineName
    model: Path


def check_model(spec: EngineSpec) -> None:
    """``ModelError`` naming what is missing when the folder cannot be the engine's model
    (not loaded: that is slow)."""
    from asr.model import check_model_dir

    if spec.engine == "whisper":
        check_whisper_dir(spec.model)
    else:
        check_model_dir(spec.model)


class Engines:
    def __init__(
        self,
        specs: Mapping[str, EngineSpec],
        vosk: RecognizerOptions | None = None,
        whisper: WhisperOptions | None = None,
    ) -> None:
        self.specs = dict(specs)
        self._vosk_options = vosk
        self._whisper_options = whisper or WhisperOptions()
        self._vosk: Recognizer | None = None
        self._whisper: dict[Path, WhisperEngine] = {}

    @property
    def languages(self) -> list[str]:
        return sorted(self.specs)

    def engine(self, language: str) -> SpeechEngine:
        """The engine of ``language`` (``NoModel`` if none is configured); not loaded yet."""
        spec = self.specs.get(language)
        if spec is None:
            raise NoModel(language)
        if spec.engine == "whisper":
            return self._whisper_of(spec.model)
        if self._vosk is None:
            self._vosk = Recognizer(
                {lang: s.model for lang, s in self.specs.items() if s.engine == "vosk"},
                self._vosk_options,
            )
        return self._vosk

    def _whisper_of(self, folder: Path) -> WhisperEngine:
        if folder not in self._whisper:
            self._whisper[folder] = WhisperEngine(folder, self._whisper_options)
        return self._whisper[folder]

    def load(self, language: str) -> None:
        """Load ``language``'s model now; ``ModelError`` if it does not load."""
        engine = self.engine(language)
        if isinstance(engine, WhisperEngine):
            engine.load()
        elif isinstance(engine, Recognizer):
            engine.model(language)

    def transcribe(self, path: Path | str, speaker: Speaker, language: str) -> LegTranscript:
        return self.engine(language).transcribe(path, speaker, language)

    def can_detect(self) -> bool:
        return any(s.engine == "whisper" for s in self.specs.values())

    def detect(self, path: Path | str) -> Detection | None:
        """The configured language ``path`` (a caller's leg) is spoken in, by Whisper's
        language detection restricted to those languages; None when no Whisper model is
        configured or the leg holds no speech. ``ModelError`` if that model does not load."""
        folders = sorted({s.model for s in self.specs.values() if s.engine == "whisper"})
        if not folders:
            return None
        return self._whisper_of(folders[0]).detect(path, self.languages)


def specs_of(
    models: Mapping[str, str | Path], engine: EngineName = "vosk"
) -> dict[str, EngineSpec]:
    """Plain ``language → folder`` as specs of one engine (``asr.models`` means Vosk)."""
    return {lang: EngineSpec(engine, Path(folder)) for lang, folder in models.items()}
