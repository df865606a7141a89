"""Batch transcription of recordings in worker processes (``hotline transcribe``).

``<base>-caller.wav`` and ``<base>-agent.wav`` found together are one call (merged into turns;
``<base>-mix.wav`` beside them is then left out, it is the same call mixed); any other WAV is
transcribed alone. A bad file is reported with its reason and the others go on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from asr.engine import Engines, EngineSpec, specs_of
from asr.errors import AsrError
from asr.recognize import RecognizerOptions
from asr.transcript import Format, build, render
from asr.types import Detection, Speaker
from asr.whisper import WhisperOptions


@dataclass(frozen=True)
class Item:
    """One output transcript: a call (two legs) or a lone recording."""

    name: str  # output file stem
    legs: tuple[tuple[Speaker, Path], ...]


@dataclass(frozen=True)
class Outcome:
    item: Item
    text: str | None  # the rendered transcript; None when it failed
    error: str | None
    audio_seconds: float  # of all its legs
    worker_pid: int


def collect(paths: Iterable[Path]) -> list[Item]:
    """The items for ``paths`` (files, or folders searched recursively for *.wav). A named
    path that does not exist is kept, so it is reported as missing rather than ignored."""
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.wav")) if p.is_dir() else [p]
    by_base: dict[Path, dict[str, Path]] = {}
    alone: list[Path] = []
    for f in dict.fromkeys(files):  # the same file named twice is done once
        stem = f.name.removesuffix(".wav")
        for role in ("caller", "agent", "mix"):
            if f.name.endswith(".wav") and stem.endswith(f"-{role}"):
                by_base.setdefault(f.with_name(stem.removesuffix(f"-{role}")), {})[role] = f
                break
        else:
            alone.append(f)
    items: list[Item] = []
    for base, roles in by_base.items():
        if "caller" in roles and "agent" in roles:
            items.append(Item(base.name, (("caller", roles["caller"]), ("agent", roles["agent"]))))
            continue
        for role, f in roles.items():
            speaker: Speaker = "agent" if role == "agent" else "caller"
            items.append(Item(f.name.removesuffix(".wav"), ((speaker, f),)))
    items += [Item(f.name.removesuffix(".wav"), (("caller", f),)) for f in alone]
    return sorted(items, key=lambda i: i.name)


# Each worker process keeps its engines here, set by the pool's initializer: a model is loaded
# once per process (not per file), and a process-pool task cannot carry it.
_engines: Engines | None = None


def _init_worker(
    specs: Mapping[str, EngineSpec], options: RecognizerOptions, whisper: WhisperOptions
) -> None:
    global _engines
    _engines = Engines(specs, options, whisper)


def transcribe_item(item: Item, language: str | None, fmt: Format) -> Outcome:
    """In a worker process: every leg of ``item``, merged and rendered. ``language`` None:
    found from the first leg's speech among the configured languages."""
    assert _engines is not None, "worker not initialised"
    seconds = 0.0
    try:
        detected: Detection | None = None
        if language is None:
            detected = _engines.detect(item.legs[0][1])
            if detected is None:
                raise AsrError("no language found (no speech, or no Whisper model to tell)")
        lang = detected.language if detected is not None else language
        assert lang is not None
        legs = [_engines.transcribe(path, speaker, lang) for speaker, path in item.legs]
        seconds = sum(leg.duration for leg in legs)
        transcript = build(legs, lang, detected, files=[str(p) for _, p in item.legs])
        return Outcome(item, render(transcript, fmt), None, seconds, os.getpid())
    except AsrError as exc:
        return Outcome(item, None, str(exc), seconds, os.getpid())


@dataclass(frozen=True)
class BatchResult:
    done: int
    failed: int
    audio_seconds: float
    wall_seconds: float


class Progress:
    """A one-line progress bar on a terminal, a line per 10 % otherwise (logs stay short)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.count = total, out, 0
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._last_tenth = -1

    def step(self, failed: int, audio: float) -> None:
        self.count += 1
        share = self.count / self.total if self.total else 1.0
        elapsed = time.monotonic() - self.started
        bar = "#" * int(share * 30)
        line = (
            f"transcribe [{bar:<30}] {self.count}/{self.total} {failed} failed, "
            f"{audio / 60:.1f} min of audio in {elapsed:.0f} s"
        )
        if self.tty:
            self.out.write("\r" + line + ("\n" if self.count == self.total else ""))
        elif int(share * 10) != self._last_tenth or self.count == self.total:
            self._last_tenth = int(share * 10)
            self.out.write(line + "\n")
        self.out.flush()


def run_batch(
    items: Sequence[Item],
    *,
    models: Mapping[str, Path] | None = None,
    engines: Mapping[str, EngineSpec] | None = None,
    language: str | None,
    fmt: Format,
    out_dir: Path,
    workers: int,
    options: RecognizerOptions | None = None,
    whisper: WhisperOptions | None = None,
    progress: TextIO | None = sys.stderr,
    errors: TextIO = sys.stderr,
) -> BatchResult:
    """Transcribe ``items`` with ``workers`` processes, writing ``out_dir/<name>.<fmt>``.
    ``models``: Vosk folders per language; ``engines``: any engine per language; ``language``
    None: each item's found from its speech."""
    specs = {**specs_of(models or {}), **(engines or {})}
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = Progress(len(items), progress) if progress is not None else None
    done = failed = 0
    audio = 0.0
    started = time.monotonic()
    setup = (specs, options or RecognizerOptions(), whisper or WhisperOptions())
    for outcome in _outcomes(items, setup, language, fmt, workers):
        audio += outcome.audio_seconds
        if outcome.text is None:
            failed += 1
            errors.write(f"transcribe: {outcome.item.name}: {outcome.error}\n")
        else:
            done += 1
            (out_dir / f"{outcome.item.name}.{fmt}").write_text(outcome.text, encoding="utf-8")
        if bar is not None:
            bar.step(failed, audio)
    return BatchResult(done, failed, audio, time.monotonic() - started)


def _size(item: Item) -> int:
    """Bytes of audio, the measure of the work (a missing file counts as none)."""
    return sum(p.stat().st_size if p.is_file() else 0 for _, p in item.legs)


def _outcomes(
    items: Sequence[Item],
    setup: tuple[dict[str, EngineSpec], RecognizerOptions, WhisperOptions],
    language: str | None,
    fmt: Format,
    workers: int,
) -> Iterator[Outcome]:
    # spawn, not fork: a worker starts clean (no copy of the parent's threads or sockets).
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(items))),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=setup,
    ) as pool:
        # Longest first: the last call to finish is then a short one, not a long one started
        # late while the other workers sit idle.
        futures = [
            pool.submit(transcribe_item, item, language, fmt)
            for item in sorted(items, key=_size, reverse=True)
        ]
        for future in as_completed(futures):
            yield future.result()
