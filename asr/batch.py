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

from asr.errors import AsrError
from asr.recognize import Recognizer, RecognizerOptions
from asr.transcript import Format, build, render
from asr.types import Speaker


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


# Each worker process keeps its one Recognizer here, set by the pool's initializer: the model
# is loaded once per process (not per file), and a process-pool task cannot carry it.
_recognizer: Recognizer | None = None


def _init_worker(models: Mapping[str, Path], options: RecognizerOptions) -> None:
    global _recognizer
    _recognizer = Recognizer(models, options)


def transcribe_item(item: Item, language: str, fmt: Format) -> Outcome:
    """In a worker process: every leg of ``item``, merged and rendered."""
    assert _recognizer is not None, "worker not initialised"
    seconds = 0.0
    try:
        legs = [_recognizer.transcribe(path, speaker, language) for speaker, path in item.legs]
        seconds = sum(leg.duration for leg in legs)
        transcript = build(legs, language, files=[str(p) for _, p in item.legs])
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
    models: Mapping[str, Path],
    language: str,
    fmt: Format,
    out_dir: Path,
    workers: int,
    options: RecognizerOptions | None = None,
    progress: TextIO | None = sys.stderr,
    errors: TextIO = sys.stderr,
) -> BatchResult:
    """Transcribe ``items`` with ``workers`` processes, writing ``out_dir/<name>.<fmt>``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = Progress(len(items), progress) if progress is not None else None
    done = failed = 0
    audio = 0.0
    started = time.monotonic()
    for outcome in _outcomes(items, models, language, fmt, workers, options or RecognizerOptions()):
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
    models: Mapping[str, Path],
    language: str,
    fmt: Format,
    workers: int,
    options: RecognizerOptions,
) -> Iterator[Outcome]:
    # spawn, not fork: a worker starts clean (no copy of the parent's threads or sockets).
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(items))),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(dict(models), options),
    ) as pool:
        # Longest first: the last call to finish is then a short one, not a long one started
        # late while the other workers sit idle.
        futures = [
            pool.submit(transcribe_item, item, language, fmt)
            for item in sorted(items, key=_size, reverse=True)
        ]
        for future in as_completed(futures):
            yield future.result()
