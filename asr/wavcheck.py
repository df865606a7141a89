"""Is a recording finished? Asterisk's MixMonitor writes a WAV's RIFF size when it closes the
file; until then the header and the file's length disagree. Reads 12 bytes, never the audio."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

State = Literal["closed", "missing", "empty", "open"]


def recording_state(path: Path) -> State:
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty"
        with path.open("rb") as f:
            head = f.read(12)
    except FileNotFoundError:
        return "missing"
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        # Not a WAV at all: "closed" as far as waiting goes; the reader says what is wrong.
        return "closed" if len(head) == 12 else "open"
    (riff_size,) = struct.unpack("<I", head[4:8])
    return "closed" if riff_size + 8 == size else "open"
