"""Prompt files: synthesised from the config's texts, overridden by recorded WAVs.

Layout under ``prompts_dir``: ``<language>/<id>.tts.wav`` is synthesised with espeak-ng;
``<language>/<id>.wav`` beside it, if present and in Asterisk's format (8 kHz, mono, 16-bit
PCM WAV), is a studio recording and wins. A manifest remembers the text and voice each synthetic
file was made from, so only changed prompts are made again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ivr.menu import IvrSettings
from telephony.audio import synthesize

log = logging.getLogger(__name__)

MANIFEST = ".manifest.json"


@dataclass(frozen=True)
class BuildReport:
    made: list[str]  # "<lang>/<id>" synthesised this time
    kept: int  # up to date already
    recorded: list[str]  # overridden by a recording
    rejected: list[str]  # recordings in the wrong format (the synthetic one is used): reasons


def wav_problem(path: Path) -> str | None:
    """Why Asterisk's ``wav`` format cannot play ``path`` as is, or None when it can."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != 8000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
                return (
                    f"{w.getframerate()} Hz, {w.getnchannels()} channel(s), "
                    f"{8 * w.getsampwidth()}-bit; needs 8000 Hz mono 16-bit"
                )
            if w.getnframes() == 0:
                return "no audio in it"
    except (wave.Error, EOFError, OSError) as exc:
        return f"not a readable PCM WAV ({exc})"
    return None


class PromptLibrary:
    """Maps (prompt id, language) to the file the PBX plays."""

    def __init__(self, settings: IvrSettings, base: Path | None = None) -> None:
        self._settings = settings
        self.dir = (base or Path(settings.prompts_dir)).resolve()
        self._recorded: set[tuple[str, str]] = set()

    def pbx_sound_dir(self, language: str) -> Path:
        """Where the PBX's own sounds in ``language`` go (its ``sounds/<language>``)."""
        return self.dir / "asterisk" / language

    def path(self, prompt: str, language: str) -> str:
        """The file name for ``STREAM FILE`` (absolute, without extension)."""
        stem = self.dir / language / prompt
        return str(stem) if (prompt, language) in self._recorded else f"{stem}.tts"

    def build(self, workers: int = 4) -> BuildReport:
        """Synthesise missing or changed prompts; pick up recorded overrides. Blocking."""
        manifest_path = self.dir / MANIFEST
        try:
            manifest: dict[str, str] = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = {}
        todo: list[tuple[str, str, str, Path, str]] = []  # key, text, voice, out, digest
        recorded, rejected = [], []
        self._recorded.clear()
        kept = 0
        for pid, texts in sorted(self._settings.prompts.items()):
            for lang, text in sorted(texts.items()):
                key = f"{lang}/{pid}"
                override = self.dir / lang / f"{pid}.wav"
                if override.exists():
                    problem = wav_problem(override)
                    if problem is None:
                        self._recorded.add((pid, lang))
                        recorded.append(key)
                    else:
                        rejected.append(f"{override}: {problem}")
                        log.warning("prompt %s: recording not used: %s", override, problem)
                voice = self._settings.languages[lang].voice
                digest = hashlib.sha256(f"{voice}\n{text}".encode()).hexdigest()
                out = self.dir / lang / f"{pid}.tts.wav"
                if manifest.get(key) == digest and out.exists():
                    kept += 1
                    continue
                todo.append((key, text, voice, out, digest))
        for lang, sounds in sorted(self._settings.pbx_sounds.items()):
            voice = self._settings.languages[lang].voice
            for name, text in sorted(sounds.items()):
                key = f"asterisk/{lang}/{name}"
                digest = hashlib.sha256(f"{voice}\n{text}".encode()).hexdigest()
                out = self.pbx_sound_dir(lang) / f"{name}.wav"
                if manifest.get(key) == digest and out.exists():
                    kept += 1
                    continue
                todo.append((key, text, voice, out, digest))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda t: synthesize(t[1], t[3], voice=t[2]), todo))
        for key, _, _, _, digest in todo:
            manifest[key] = digest
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        made = [t[0] for t in todo]
        if made:
            log.info("prompts: %d synthesised, %d up to date", len(made), kept)
        return BuildReport(made=made, kept=kept, recorded=recorded, rejected=rejected)
