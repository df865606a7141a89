"""Benchmark: transcription throughput per core, ours against ``vosk-transcriber``.

Run from the repository root::

    .venv/bin/python -m bench.asr_bench [--minutes 30] [--cache DIR]

A set of call-like 8 kHz recordings is synthesised once (espeak-ng + sox, cached): each call is
a caller leg and an agent leg on one clock, the sentences of a citizen-service conversation
taking turns, each leg carrying a low comfort-noise floor while its speaker listens, as the
PBX records them. At least ``--minutes`` of leg audio in all.

Then, on the same files and the same cores (``taskset``), each run in a fresh process whose
children's peak RSS is read from ``getrusage``:

* ours, ``asr.batch.run_batch`` with 1 worker process on 1 core and 2 on 2 cores;
* ours with the silence gate off (every sample decoded), 2 workers on 2 cores;
* ``vosk-transcriber`` (the vosk wheel's own CLI: ffmpeg to 16 kHz, a thread pool over one
  model) on 1 core and on 2 cores.

Printed: audio seconds per wall second per core (inverse real-time factor), peak RSS per worker
process, the word error rate against the spoken text, and ours / vosk-transcriber as a ratio;
finally how many cores 1,000 hours of talk a day would need.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from asr.audio import read_wav
from asr.batch import Item
from asr.wer import ErrorCounts, word_errors

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "var/models/vosk-model-en-us-0.3.45"
RATE = 8000
CALLER = [
    "The street light on Heping Road has been broken for a week",
    "There is a large pothole in front of the school gate on Jiefang Street",
    "My neighbour plays loud music every night after eleven o'clock",
    "The water supply in our building has been cut off since Monday morning",
    "I would like to complain about a taxi driver who refused to use the meter",
    "The bus stop sign near the hospital was knocked down by a truck",
    "Garbage has not been collected in our community for three days",
    "Please send someone to check the gas smell in the basement",
    "The park toilets are dirty and the doors are broken",
    "A tree fell across the road after the storm last night",
    "The traffic lights at the crossing are not working this afternoon",
    "Construction noise starts at five in the morning and wakes everyone up",
    "My heating has not worked for two weeks and it is very cold",
    "Someone parked a car on the pavement and blocked the entrance",
    "Yes that is right thank you very much",
]
AGENT = [
    "Thank you for calling the hotline how can I help you today",
    "I have recorded your complaint and will send it to the district office",
    "Could you tell me your name and the address of the building please",
    "The department will reply to you within five working days",
    "Is there anything else I can help you with",
    "Which road is that and since when has it been like this",
    "I understand, we will ask the street office to check it tomorrow",
]
CALL_TURNS = 10  # sentences per call, alternating agent / caller


@dataclass(frozen=True)
class Figures:
    label: str
    cores: int
    audio: float
    wall: float
    peak_rss_mib: float
    wer: str

    @property
    def per_core(self) -> float:
        return self.audio / self.wall / self.cores


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        raise SystemExit(f"asr_bench: {name} is not installed")
    return path


def _pcm(path: Path) -> bytes:
    info = read_wav(path)
    with path.open("rb") as f:
        f.seek(info.data_offset)
        return f.read(info.data_bytes)


def synthesise(cache: Path, minutes: float) -> tuple[Path, dict[str, str]]:
    """The call set (cached), and each leg file's spoken text."""
    from telephony.audio import synthesize

    calls = cache / "calls"
    texts_file = cache / "texts.json"
    if texts_file.exists():
        texts: dict[str, str] = json.loads(texts_file.read_text())
        total = sum(read_wav(calls / n).duration for n in texts)
        if total >= minutes * 60:
            return calls, texts
    shutil.rmtree(calls, ignore_errors=True)
    calls.mkdir(parents=True)
    sentences = cache / "sentences"
    noise = cache / "noise.wav"
    if not noise.exists():  # a comfort-noise floor (peak ~100 of 32767), 60 s to slice from
        subprocess.run(
            [
                _tool("sox"),
                "-n",
                "-r",
                str(RATE),
                "-b",
                "16",
                "-c",
                "1",
                str(noise),
                "synth",
                "60",
                "pinknoise",
                "vol",
                "0.002",
            ],
            check=True,
        )
    floor = _pcm(noise)
    speech = {
        s: _pcm(synthesize(s, sentences / f"{hashlib.sha1(s.encode()).hexdigest()[:12]}.wav"))
        for s in CALLER + AGENT
    }
    rng = random.Random(7)
    texts = {}
    total, n = 0.0, 0
    while total < minutes * 60:
        legs: dict[str, bytearray] = {"caller": bytearray(), "agent": bytearray()}
        said: dict[str, list[str]] = {"caller": [], "agent": []}
        for turn in range(CALL_TURNS):
            who = "agent" if turn % 2 == 0 else "caller"
            other = "caller" if who == "agent" else "agent"
            line = rng.choice(AGENT if who == "agent" else CALLER)
            gap = int(RATE * rng.uniform(0.3, 1.2)) * 2
            talk = speech[line] + bytes(gap)
            # The listener's leg: comfort noise for as long as the speaker talks.
            start = rng.randrange(0, len(floor) - len(talk)) // 2 * 2
            legs[who] += talk
            legs[other] += floor[start : start + len(talk)]
            said[who].append(line)
        for who, pcm in legs.items():
            name = f"call{n:03d}-{who}.wav"
            with wave.open(str(calls / name), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(bytes(pcm))
            texts[name] = " ".join(said[who])
            total += len(pcm) / 2 / RATE
        n += 1
    texts_file.write_text(json.dumps(texts, indent=1))
    return calls, texts


# -- one measured run, in a fresh process --------------------------------------------------------
def inner(kind: str, calls: Path, out: Path, workers: int, gate: bool) -> None:
    """Runs in the measured child process; prints its figures as JSON."""
    t0 = time.perf_counter()
    if kind == "ours":
        from asr.batch import collect, run_batch
        from hotline.app.settings import parse_settings

        shipped = parse_settings({}).asr.options  # the decoder settings the service uses
        options = shipped if gate else dataclasses.replace(shipped, silence_peak=0)
        # Each leg alone (as vosk-transcriber gets them), so both write one text per file.
        items = [i for c in collect([calls]) for i in _split(c)]
        run_batch(
            items,
            models={"en": MODEL},
            language="en",
            fmt="json",
            out_dir=out,
            workers=workers,
            options=options,
            progress=None,
        )
    else:
        subprocess.run(
            [
                _tool("vosk-transcriber"),
                "-m",
                str(MODEL),
                "-i",
                str(calls),
                "-o",
                str(out),
                "-t",
                "txt",
                "--log-level",
                "WARNING",
            ],
            check=True,
        )
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB
    print(json.dumps({"wall": wall, "peak_rss_mib": rss}))


def _split(item: Item) -> list[Item]:
    return [Item(path.name.removesuffix(".wav"), ((sp, path),)) for sp, path in item.legs]


def measure(
    label: str,
    kind: str,
    calls: Path,
    texts: dict[str, str],
    cores: int,
    workers: int,
    gate: bool = True,
) -> Figures:
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        out = Path(tmp)
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:cores])
        cmd = [
            "taskset",
            "-c",
            cpus,
            sys.executable,
            "-m",
            "bench.asr_bench",
            "--inner",
            kind,
            "--calls",
            str(calls),
            "--out",
            str(out),
            "--workers",
            str(workers),
        ]
        if not gate:
            cmd.append("--no-gate")
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"asr_bench: {label} failed:\n{proc.stderr[-2000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        total = ErrorCounts("word", 0, 0, 0, 0)
        for name, text in texts.items():
            stem = name.removesuffix(".wav")
            if kind == "ours":
                data = json.loads((out / f"{stem}.json").read_text())
                hyp = " ".join(t["text"] for t in data["turns"])
            else:
                hyp = (out / f"{stem}.txt").read_text()
            total += word_errors(text, hyp)
    audio = sum(read_wav(calls / n).duration for n in texts)
    wer = f"{100 * total.rate:.1f} %"
    return Figures(label, cores, audio, got["wall"], got["peak_rss_mib"], wer)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="leg audio to synthesise")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "hotline-asr-bench")
    p.add_argument("--inner", choices=["ours", "vosk"], help=argparse.SUPPRESS)
    p.add_argument("--calls", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--no-gate", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inner:
        inner(args.inner, args.calls, args.out, args.workers, not args.no_gate)
        return 0
    calls, texts = synthesise(args.cache, args.minutes)
    audio = sum(read_wav(calls / n).duration for n in texts)
    cores = len(os.sched_getaffinity(0))
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    print(f"date      {date.today()}")
    print(
        f"machine   {model}; {cores} core(s) usable; {ram:.1f} GiB; Python "
        f"{platform.python_version()}; model {MODEL.name}"
    )
    print(
        f"audio     {len(texts)} legs of {len(texts) // 2} calls, {audio / 60:.1f} min at 8 kHz "
        f"(cached in {args.cache})"
    )
    runs = [
        measure("ours, 1 worker", "ours", calls, texts, 1, 1),
        measure("vosk-transcriber", "vosk", calls, texts, 1, 1),
    ]
    if cores >= 2:
        runs += [
            measure("ours, 2 workers", "ours", calls, texts, 2, 2),
            measure("vosk-transcriber", "vosk", calls, texts, 2, 2),
            measure("ours, 2 workers, no gate", "ours", calls, texts, 2, 2, gate=False),
        ]
    print(f"\n{'run':28} {'cores':>5} {'wall s':>8} {'x RT/core':>10} {'peak RSS':>10} {'WER':>8}")
    for r in runs:
        print(
            f"{r.label:28} {r.cores:>5} {r.wall:8.1f} {r.per_core:10.2f} "
            f"{r.peak_rss_mib:7.0f} MiB {r.wer:>8}"
        )
    base = {r.cores: r for r in runs if r.label == "vosk-transcriber"}
    print()
    for r in runs:
        if r.label.startswith("ours") and r.cores in base:
            print(
                f"{r.label} / vosk-transcriber on {r.cores} core(s): "
                f"{r.per_core / base[r.cores].per_core:.2f}x"
            )
    best = max(
        (r for r in runs if r.label.startswith("ours") and "no gate" not in r.label),
        key=lambda r: r.per_core,
    )
    need = 1000 * 3600 / 86400  # audio seconds per second, all day long
    print(
        f"\n1,000 hours of talk a day = {need:.1f} s of audio per second; at "
        f"{best.per_core:.2f}x real time per core ({best.label}) that is "
        f"{need / best.per_core:.1f} cores busy around the clock (target 20x: "
        f"{need / 20:.1f} cores)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
