"""Speech and tone files for prompts and simulated callers: espeak-ng and sox, 8 kHz mono WAV."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from telephony.errors import TelephonyError


class AudioToolMissing(TelephonyError):
    """espeak-ng or sox is not installed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AudioToolMissing(f"{name} is not installed: run scripts/setup.sh")
    return path


def tone(out: Path, seconds: float = 0.4, hz: int = 1000) -> Path:
    """A sine tone into ``out``, 8 kHz mono 16-bit WAV (e.g. the beep before a recording)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            _tool("sox"),
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(out),
            "synth",
            str(seconds),
            "sine",
            str(hz),
            "vol",
            "0.3",
        ],
        check=True,
        capture_output=True,
    )
    return out


def synthesize(text: str, out: Path, voice: str = "en-us", speed: int = 150) -> Path:
    """Speak ``text`` into ``out`` as 8 kHz mono 16-bit WAV (the format Asterisk plays as is)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(
            [_tool("espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            # -R: repeatable dither, so the same text always gives the same samples.
            [_tool("sox"), "-R", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)],
            check=True,
            capture_output=True,
        )
    return out


def telephone_copy(src: Path, out: Path, lead: float = 0.0, tail: float = 0.0) -> Path:
    """``src`` (a recording, e.g. real speech at 16 kHz) as the 8 kHz mono 16-bit WAV a phone
    plays into a call, with ``lead`` and ``tail`` seconds of silence around it (a caller who
    pauses before and after speaking). Repeatable: the same file gives the same samples."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            _tool("sox"),
            "-R",
            str(src),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(out),
            "pad",
            str(lead),
            str(tail),
        ],
        check=True,
        capture_output=True,
    )
    return out
