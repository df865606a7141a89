"""Benchmark: transcription accuracy on real speech, ours against the plain engines.

Run from the repository root::

    .venv/bin/python -m bench.asr_accuracy [--verbose] [--json out.json] [--core N] [--plain-zh]

The files are the real recordings of ``tests/data/speech`` (``manifest.tsv``: each clip's
published transcript), English and Mandarin, at 16 kHz and as 8 kHz telephone copies, plus a
"pauses" set made at run time (in a temporary folder): the English clips joined three or four
at a time with 1.5-3 s of low-level noise between them (``testkit/speech.py``, seeded: the
same bytes every run), each with the joined references, so that what a long pause does to a leg
(the silence gate skipping it, the utterance going on across it) is measured too.

In one run, on the same files, the whole process pinned to one core (its children too: sox,
ffmpeg, ``vosk-transcriber``) and every engine on one thread:

* ours: the engines a transcription worker builds from the shipped ``config/hotline.yaml``
  (``hotline.app.workers.worker_config`` → ``asr.engine.Engines``, as ``JobRunner`` does),
  one engine reused for every file: Vosk (``asr.recognize.Recognizer``) for English, Whisper
  base (``asr.whisper.WhisperEngine``: prompt, hot words, VAD, loop guard) for Mandarin;
* plain, the simplest way: English ``vosk-transcriber -m <model> -i <folder> -t txt`` (the
  vosk wheel's CLI: ffmpeg to 16 kHz, a new recogniser per whole file); Mandarin
  ``faster_whisper.WhisperModel(folder, device="cpu", compute_type="int8",
  cpu_threads=1).transcribe(file)`` with default settings and its segments' text joined,
  the language detected by the model (with ``--plain-zh`` also told ``language="zh"``).

Scored with ``asr/wer.py``: English WER after folding case and punctuation and spelling digits
out as words (the references are published as words); Mandarin CER after dropping punctuation
and spaces and folding full-width forms, plain Whisper's text both as written and folded to
Simplified characters with OpenCC ``t2s`` (it often answers in Traditional ones; ours already
writes Simplified). The accuracy target compares ours with plain scored the fairer way for
plain (folded to Simplified, language detected as the simplest way has it).

Speed is audio seconds per CPU second on the one core (the process's threads and its children
together), model loads left out and printed apart. ``vosk-transcriber`` loads its model in
every run: the median of three runs on a half-second silent file is taken off each set's time.
Ours is measured as a worker that has been running: a new worker's Vosk recogniser composes
its decoding graph over its first legs, so every English clip is transcribed once before the
sets (that warm-up's speed is printed too); ``vosk-transcriber`` starts a new recogniser for
every file, as it always does.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from asr.chinese import Converter, t2s_converter
from asr.engine import Engines, EngineSpec
from asr.recognize import RecognizerOptions
from asr.wer import ErrorCounts, Unit, char_errors, word_errors
from hotline.app.settings import load_settings
from hotline.app.workers import worker_config
from testkit.speech import PAUSES, join_with_pauses, pause_groups, read_pcm, write_wav

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "tests" / "data" / "speech"
CONFIG = ROOT / "config" / "hotline.yaml"
EN_SPEED_TARGET = 20.0  # x real time per core (issue 19)
ZH_SPEED_AIM = 5.0  # x real time per core for Whisper base (an aim, reported)
RATES = ("16k", "8k")
T = TypeVar("T")


@dataclass(frozen=True)
class Clip:
    name: str
    language: str
    reference: str
    path: dict[str, Path]  # "16k" / "8k"


@dataclass(frozen=True)
class Usage:
    """Wall and CPU seconds (this process's threads and its finished children)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(max(0.0, self.wall - other.wall), max(0.0, self.cpu - other.cpu))


@dataclass
class FileResult:
    name: str
    seconds: float
    reference: str
    ours: str
    ours_usage: Usage
    plain: dict[str, str] = field(default_factory=dict)  # variant → text
    detected: str = ""  # plain Whisper's detected language


@dataclass
class SetResult:
    language: str
    label: str  # "16k", "8k", "pauses 16k", "pauses 8k"
    unit: str  # "WER" / "CER"
    files: list[FileResult]
    ours: ErrorCounts
    ours_usage: Usage
    plain: dict[str, ErrorCounts]  # variant → counts
    plain_usage: dict[str, Usage]  # variant (engine run) → usage, model load left out

    @property
    def audio(self) -> float:
        return sum(f.seconds for f in self.files)


def _now() -> Usage:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Usage(time.perf_counter(), time.process_time() + kids.ru_utime + kids.ru_stime)


@contextmanager
def _measured(into: list[Usage]) -> Iterator[None]:
    start = _now()
    yield
    into.append(_now() - start)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, Usage]:
    """``fn(*args, **kwargs)`` and what it took."""
    got: list[Usage] = []
    with _measured(got):
        value = fn(*args, **kwargs)
    return value, got[0]


def clips(language: str) -> list[Clip]:
    with (SPEECH / "manifest.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Clip(
            Path(r["file"]).name.removesuffix(".wav"),
            r["language"],
            r["reference"],
            {"16k": SPEECH / r["file"], "8k": SPEECH / r["file_8k"]},
        )
        for r in rows
        if r["language"] == language
    ]


def pause_clips(english: Sequence[Clip], folder: Path) -> list[Clip]:
    """The English clips joined 3-4 at a time with pauses of low noise, at both rates."""
    out = []
    n = 0  # pauses taken from PAUSES in turn over the whole set
    for g, group in enumerate(pause_groups(len(english))):
        members = [english[i] for i in group]
        pauses = [PAUSES[(n + i) % len(PAUSES)] for i in range(len(members) - 1)]
        n += len(pauses)
        name = f"pauses-{g}"
        paths = {}
        for rate in RATES:
            pcms = [read_pcm(c.path[rate]) for c in members]
            hz = pcms[0][0]
            if any(r != hz for r, _ in pcms):
                raise SystemExit(f"asr_accuracy: {rate} clips of {name} differ in sample rate")
            path = folder / rate / f"{name}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, hz, join_with_pauses([p for _, p in pcms], pauses, hz, seed=g))
            paths[rate] = path
        out.append(Clip(name, "en", " ".join(c.reference for c in members), paths))
    return out


def seconds_of(path: Path) -> float:
    rate, pcm = read_pcm(path)
    return len(pcm) / 2 / rate


# -- the plain engines -------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"asr_accuracy: {name} is not installed")
    return found


def vosk_cli(model: Path, files: dict[str, Path], work: Path) -> tuple[dict[str, str], Usage]:
    """``vosk-transcriber`` on a folder of the files (each named ``<name>.wav``, as the CLI
    names its outputs by stem), and what the run took, model load included."""
    inp, out = work / "in", work / "out"
    inp.mkdir(parents=True)
    out.mkdir()
    for name, path in files.items():
        (inp / f"{name}.wav").symlink_to(path.resolve())
    cmd = [_tool("vosk-transcriber"), "-m", str(model), "-i", str(inp), "-o", str(out)]
    cmd += ["-t", "txt", "--log-level", "WARNING"]
    proc, usage = timed(subprocess.run, cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"asr_accuracy: vosk-transcriber failed:\n{proc.stderr[-2000:]}")
    texts = {}
    for name in files:
        got = out / f"{name}.txt"
        if not got.exists():
            raise SystemExit(f"asr_accuracy: vosk-transcriber wrote nothing for {name}")
        texts[name] = " ".join(got.read_text(encoding="utf-8").split())
    return texts, usage


def vosk_cli_load(model: Path, work: Path) -> Usage:
    """What ``vosk-transcriber`` takes to start and load the model: the median of three runs on
    half a second of silence."""
    work.mkdir(parents=True)
    silence = work / "silence.wav"
    write_wav(silence, 16000, bytes(16000))
    runs = [vosk_cli(model, {"silence": silence}, work / f"load{i}")[1] for i in range(3)]
    return Usage(statistics.median(u.wall for u in runs), statistics.median(u.cpu for u in runs))


# -- the benchmark -----------------------------------------------------------------------------


@dataclass
class Bench:
    engines: Engines
    vosk_model: Path
    work: Path
    t2s: Converter
    loads: dict[str, Usage] = field(default_factory=dict)
    plain_whisper: Any = None  # faster_whisper.WhisperModel

    def english(self, label: str, items: Sequence[Clip], rate: str, cli_load: Usage) -> SetResult:
        files = []
        for clip in items:
            path = clip.path[rate]
            leg, usage = timed(self.engines.transcribe, path, "caller", "en")
            files.append(FileResult(clip.name, seconds_of(path), clip.reference, leg.text, usage))
        work = self.work / f"vosk-{label.replace(' ', '-')}"
        texts, usage = vosk_cli(self.vosk_model, {c.name: c.path[rate] for c in items}, work)
        for f in files:
            f.plain["vosk-transcriber"] = texts[f.name]
        return SetResult(
            "en",
            label,
            "WER",
            files,
            _total("word", (word_errors(f.reference, f.ours, numbers=True) for f in files)),
            sum((f.ours_usage for f in files), Usage()),
            {
                "vosk-transcriber": _total(
                    "word",
                    (
                        word_errors(f.reference, f.plain["vosk-transcriber"], numbers=True)
                        for f in files
                    ),
                )
            },
            {"vosk-transcriber": usage - cli_load},
        )

    def mandarin(self, items: Sequence[Clip], rate: str, languages: Sequence[str]) -> SetResult:
        files = []
        for clip in items:
            path = clip.path[rate]
            leg, usage = timed(self.engines.transcribe, path, "caller", "zh")
            files.append(FileResult(clip.name, seconds_of(path), clip.reference, leg.text, usage))
        plain_usage = {}
        for variant in languages:
            language = None if variant == "auto" else variant
            spent = Usage()
            for f, clip in zip(files, items, strict=True):
                (text, detected), usage = timed(self._plain_whisper, clip.path[rate], language)
                f.plain[variant] = text
                if language is None:
                    f.detected = detected
                spent += usage
            plain_usage[variant] = spent
        plain = {}
        for variant in languages:
            plain[variant] = _total(
                "character", (char_errors(f.reference, f.plain[variant]) for f in files)
            )
            plain[f"{variant} t2s"] = _total(
                "character",
                (char_errors(f.reference, f.plain[variant], converter=self.t2s) for f in files),
            )
        return SetResult(
            "zh",
            rate,
            "CER",
            files,
            _total("character", (char_errors(f.reference, f.ours) for f in files)),
            sum((f.ours_usage for f in files), Usage()),
            plain,
            plain_usage,
        )

    def _plain_whisper(self, path: Path, language: str | None) -> tuple[str, str]:
        segments, info = self.plain_whisper.transcribe(str(path), language=language)
        return "".join(s.text for s in segments).strip(), str(info.language)


def _total(unit: Unit, counts: Iterator[ErrorCounts]) -> ErrorCounts:
    total = ErrorCounts(unit, 0, 0, 0, 0)
    for c in counts:
        total += c
    return total


def build_engines() -> tuple[Engines, dict[str, EngineSpec]]:
    """The engines a transcription worker builds from the shipped configuration (as
    ``JobRunner`` does from ``worker_config``), model folders taken from the repository."""
    cfg = worker_config(load_settings(CONFIG, env={}))
    specs = {
        lang: dataclasses.replace(s, model=s.model if s.model.is_absolute() else ROOT / s.model)
        for lang, s in cfg.specs.items()
    }
    options = RecognizerOptions(**cfg.options) if cfg.options else None
    return Engines(specs, options, cfg.whisper), specs


# -- printing ----------------------------------------------------------------------------------


def _pct(c: ErrorCounts) -> str:
    return f"{100 * c.rate:.1f} %"


def _ratio(ours: ErrorCounts, plain: ErrorCounts) -> str:
    if plain.rate == 0:
        return "1.00" if ours.rate == 0 else "inf"
    return f"{ours.rate / plain.rate:.2f}"


def _speed(audio: float, usage: Usage) -> float:
    return audio / usage.cpu if usage.cpu > 0 else float("inf")


MAIN_PLAIN = {"en": "vosk-transcriber", "zh": "auto t2s"}


def table(results: Sequence[SetResult]) -> list[str]:
    head = (
        f"{'set':14} {'files':>5} {'audio s':>8} {'metric':>6} {'ours':>8} {'plain':>8} "
        f"{'ratio':>6} {'x RT ours':>10} {'x RT plain':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        variant = MAIN_PLAIN[r.language]
        run = "vosk-transcriber" if r.language == "en" else "auto"
        lines.append(
            f"{r.language + ' ' + r.label:14} {len(r.files):>5} {r.audio:8.1f} {r.unit:>6} "
            f"{_pct(r.ours):>8} {_pct(r.plain[variant]):>8} "
            f"{_ratio(r.ours, r.plain[variant]):>6} {_speed(r.audio, r.ours_usage):9.1f}x "
            f"{_speed(r.audio, r.plain_usage[run]):10.1f}x"
        )
    return lines


def mandarin_table(results: Sequence[SetResult]) -> list[str]:
    head = f"{'set':8} {'plain run':22} {'CER as written':>15} {'CER t2s-folded':>15} {'x RT':>7}"
    lines = [head, "-" * len(head)]
    for r in results:
        if r.language != "zh":
            continue
        lines.append(
            f"{'zh ' + r.label:8} {'ours':22} {_pct(r.ours):>15} {'(already)':>15} "
            f"{_speed(r.audio, r.ours_usage):6.1f}x"
        )
        for variant in r.plain_usage:
            name = "plain, language auto" if variant == "auto" else f"plain, language={variant}"
            lines.append(
                f"{'':8} {name:22} {_pct(r.plain[variant]):>15} "
                f"{_pct(r.plain[variant + ' t2s']):>15} "
                f"{_speed(r.audio, r.plain_usage[variant]):6.1f}x"
            )
    return lines


@dataclass(frozen=True)
class Check:
    what: str
    met: bool
    detail: str
    kind: str = "target"  # "target" (issue 19's), "aim" (reported) or "extra" (not asked)


def checks(results: Sequence[SetResult]) -> list[Check]:
    out = []
    for r in results:
        variant = MAIN_PLAIN[r.language]
        ours, plain = r.ours.rate, r.plain[variant].rate
        extra = r.label.startswith("pauses")
        what = f"{r.language} {r.label}: {r.unit} ours <= plain ({variant})"
        if ours <= plain:
            detail = f"ours {100 * ours:.1f} % <= plain {100 * plain:.1f} %"
        else:
            detail = (
                f"missed by {100 * (ours - plain):.1f} points "
                f"(ours {100 * ours:.1f} % > plain {100 * plain:.1f} %)"
            )
        out.append(Check(what, ours <= plain, detail, "extra" if extra else "target"))
    for r in results:
        speed = _speed(r.audio, r.ours_usage)
        goal = EN_SPEED_TARGET if r.language == "en" else ZH_SPEED_AIM
        kind = "target" if r.language == "en" else "aim"
        if r.label.startswith("pauses"):
            kind = "extra"
        met = speed >= goal
        detail = f"{speed:.1f}x" + ("" if met else f", missed by {goal - speed:.1f}x")
        what = f"{r.language} {r.label}: ours >= {goal:g}x real time per core"
        out.append(Check(what, met, detail, kind))
    return out


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "date": str(date.today()),
        "cpu": model,
        "cores": str(os.cpu_count()),
        "pinned_to": ",".join(str(c) for c in sorted(os.sched_getaffinity(0))),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions(specs: dict[str, EngineSpec]) -> dict[str, str]:
    out = {}
    for dist in ("vosk", "faster-whisper", "ctranslate2", "OpenCC", "jiwer"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    for lang, spec in sorted(specs.items()):
        out[f"model {lang}"] = f"{spec.engine} {spec.model.name}"
    return out


def score(language: str, reference: str, hypothesis: str) -> ErrorCounts:
    """One file's errors as the tables count them (plain Whisper's as written)."""
    if language == "en":
        return word_errors(reference, hypothesis, numbers=True)
    return char_errors(reference, hypothesis)


def verbose_lines(r: SetResult) -> list[str]:
    lines = [f"-- {r.language} {r.label}"]
    for f in r.files:
        speed = _speed(f.seconds, f.ours_usage)
        lines.append(f"{f.name} ({f.seconds:.1f} s; ours {speed:.1f}x)")
        lines.append(f"  reference  : {f.reference}")
        lines.append(f"  ours       : {f.ours}    [{score(r.language, f.reference, f.ours)}]")
        for variant, text in f.plain.items():
            said = f"; detected {f.detected}" if variant == "auto" and f.detected else ""
            got = score(r.language, f.reference, text)
            lines.append(f"  plain {variant[:5]:5}: {text}    [{got}{said}]")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--verbose", action="store_true", help="print every file's hypotheses")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--core", type=int, help="the core to pin to (default: the last usable one)")
    p.add_argument(
        "--plain-zh",
        action="store_true",
        help="plain Whisper also told the language (language='zh'), beside detecting it",
    )
    args = p.parse_args(argv)

    usable = sorted(os.sched_getaffinity(0))
    core = usable[-1] if args.core is None else args.core
    # Before any thread exists, so every thread and child process inherits it.
    os.sched_setaffinity(0, {core})
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"

    engines, specs = build_engines()
    if specs.get("en", EngineSpec("vosk", Path())).engine != "vosk":
        raise SystemExit("asr_accuracy: the shipped configuration's English engine is not Vosk")
    if specs.get("zh", EngineSpec("vosk", Path())).engine != "whisper":
        raise SystemExit("asr_accuracy: the shipped configuration's Mandarin engine is not Whisper")
    from faster_whisper import WhisperModel

    english, mandarin = clips("en"), clips("zh")
    results: list[SetResult] = []
    with tempfile.TemporaryDirectory(prefix="asr-accuracy-") as tmp:
        work = Path(tmp)
        bench = Bench(engines, specs["en"].model, work, t2s_converter())
        _, bench.loads["ours vosk"] = timed(engines.load, "en")
        _, bench.loads["ours whisper"] = timed(engines.load, "zh")
        bench.plain_whisper, bench.loads["plain whisper"] = timed(
            WhisperModel, str(specs["zh"].model), device="cpu", compute_type="int8", cpu_threads=1
        )
        # A new worker's recogniser composes its decoding graph over its first legs (lazily,
        # asr/recognize.py): measured apart, so the sets show a worker that has been running.
        warm = [
            timed(engines.transcribe, c.path[rate], "caller", "en")[1]
            for rate in RATES
            for c in english
        ]
        warm_audio = sum(seconds_of(c.path[rate]) for rate in RATES for c in english)
        warm_up = (warm_audio, sum(warm, Usage()))
        cli_load = vosk_cli_load(specs["en"].model, work / "load")
        bench.loads["vosk-transcriber (start + load)"] = cli_load
        paused = pause_clips(english, work / "pauses")
        for rate in RATES:
            results.append(bench.english(rate, english, rate, cli_load))
        for rate in RATES:
            results.append(bench.english(f"pauses {rate}", paused, rate, cli_load))
        for rate in RATES:
            results.append(
                bench.mandarin(mandarin, rate, ("auto", "zh") if args.plain_zh else ("auto",))
            )

    info, vers = machine(), versions(specs)
    out = [
        "ASR accuracy on real speech (tests/data/speech)",
        f"date      {info['date']}",
        f"machine   {info['cpu']}; {info['cores']} core(s), pinned to core {info['pinned_to']}; "
        f"{info['platform']}; Python {info['python']}",
        "versions  " + "; ".join(f"{k} {v}" for k, v in vers.items()),
        "loads     "
        + "; ".join(f"{k} {u.wall:.2f} s" for k, u in bench.loads.items())
        + " (left out of the speeds)",
        f"warm-up   ours (Vosk), every English clip once at each rate before the sets, as a "
        f"new worker's first legs: {warm_up[0]:.1f} s of audio at "
        f"{_speed(warm_up[0], warm_up[1]):.1f}x (left out of the speeds)",
        "",
        "x RT = audio seconds per CPU second on one core (threads and child processes "
        "included, model load left out).",
        "plain: en = vosk-transcriber on each whole file; zh = faster-whisper transcribe() "
        "with default settings, language detected, scored after folding to Simplified (t2s).",
        "ratio = ours / plain error rate (<= 1.00: ours no less accurate).",
        "",
        *table(results),
        "",
        "Mandarin, every plain run and both scorings:",
        *mandarin_table(results),
        "",
    ]
    found = checks(results)
    for c in found:
        tag = {"target": "target", "aim": "aim", "extra": "extra (not a target):"}[c.kind]
        out.append(f"{tag + (' met' if c.met else ' missed'):32} {c.what}: {c.detail}")
    targets = [c for c in found if c.kind == "target"]
    missed = [c for c in targets if not c.met]
    out.append("")
    out.append(
        f"TARGET MET ({len(targets)} of {len(targets)} checks)"
        if not missed
        else f"TARGET MISSED ({len(missed)} of {len(targets)} checks: "
        + "; ".join(c.what for c in missed)
        + ")"
    )
    print("\n".join(out))
    if args.verbose:
        print()
        for r in results:
            print("\n".join(verbose_lines(r)))
    if args.json:
        data = {
            "machine": info,
            "versions": vers,
            "loads": {k: dataclasses.asdict(u) for k, u in bench.loads.items()},
            "warm_up": {"audio_seconds": warm_up[0], **dataclasses.asdict(warm_up[1])},
            "sets": [
                {
                    "language": r.language,
                    "set": r.label,
                    "metric": r.unit,
                    "files": len(r.files),
                    "audio_seconds": r.audio,
                    "ours": dataclasses.asdict(r.ours) | {"rate": r.ours.rate},
                    "ours_usage": dataclasses.asdict(r.ours_usage),
                    "plain": {
                        k: dataclasses.asdict(v) | {"rate": v.rate} for k, v in r.plain.items()
                    },
                    "plain_usage": {k: dataclasses.asdict(v) for k, v in r.plain_usage.items()},
                    "per_file": [dataclasses.asdict(f) for f in r.files],
                }
                for r in results
            ],
            "checks": [dataclasses.asdict(c) for c in found],
        }
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
