"""Reading and validating call recordings (blocking file I/O; worker processes only).

The header is parsed by hand rather than with the ``wave`` module so that every way a
recording can be unusable gets its own reason in words (``wave`` says "unknown format: 3" or
nothing at all for a truncated file), fit to be stored as a job's failure reason.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asr.errors import AudioError

# Telephone legs are 8 kHz; 16 kHz is the model's own rate (e.g. a wideband re-recording).
ACCEPTED_RATES = (8000, 16000)
_PCM, _EXTENSIBLE = 0x0001, 0xFFFE
_FORMAT_NAMES = {0x0003: "32-bit float", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM"}


@dataclass(frozen=True)
class WavInfo:
    """A validated 16-bit mono PCM WAV: where its samples are and how many."""

    path: Path
    rate: int
    data_offset: int  # byte offset of the first sample
    data_bytes: int

    @property
    def samples(self) -> int:
        return self.data_bytes // 2

    @property
    def duration(self) -> float:
        return self.samples / self.rate

    def chunks(self, seconds: float) -> Iterator[bytes]:
        """The samples as raw little-endian 16-bit PCM, ``seconds`` at a time."""
        size = max(2, int(self.rate * seconds) * 2)
        left = self.data_bytes
        with self.path.open("rb") as f:
            f.seek(self.data_offset)
            while left > 0:
                block = f.read(min(size, left))
                if not block:  # shrank after validation: say so rather than stop quietly
                    raise AudioError(str(self.path), "file shrank while being read")
                left -= len(block)
                yield block


def read_wav(path: Path | str, rates: tuple[int, ...] = ACCEPTED_RATES) -> WavInfo:
    """Validate ``path`` as a 16-bit mono PCM WAV at one of ``rates``; ``AudioError`` if not."""
    p = Path(path)
    where = str(p)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise AudioError(where, "not a file")
        if size == 0:
            raise AudioError(where, "empty file (0 bytes)")
        with p.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise AudioError(where, "not a WAV file (no RIFF/WAVE header)")
            fmt: tuple[int, int, int, int] | None = None
            while True:
                header = f.read(8)
                if len(header) < 8:
                    missing = "fmt" if fmt is None else "data"
                    raise AudioError(where, f"truncated: no {missing} chunk")
                chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk_id == b"fmt ":
                    body = f.read(chunk_size)
                    if len(body) < 16 or len(body) < chunk_size:
                        raise AudioError(where, "truncated: fmt chunk cut short")
                    fmt = _format(where, body)
                    f.seek(chunk_size % 2, 1)  # chunks are padded to even sizes
                elif chunk_id == b"data":
                    if fmt is None:
                        raise AudioError(where, "not a valid WAV file (data before fmt)")
                    return _check(where, p, fmt, rates, f.tell(), chunk_size, size)
                else:  # LIST, fact, ...: skipped
                    f.seek(chunk_size + chunk_size % 2, 1)
    except FileNotFoundError:
        raise AudioError(where, "file not found") from None
    except IsADirectoryError:
        raise AudioError(where, "not a file") from None
    except OSError as exc:
        raise AudioError(where, f"cannot read: {exc.strerror or exc}") from None


def _format(where: str, body: bytes) -> tuple[int, int, int, int]:
    code, channels, rate = struct.unpack("<HHI", body[:8])
    bits = struct.unpack("<H", body[14:16])[0]
    if code == _EXTENSIBLE and len(body) >= 26:
        code = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
    return code, channels, rate, bits


def _check(
    where: str,
    p: Path,
    fmt: tuple[int, int, int, int],
    rates: tuple[int, ...],
    offset: int,
    declared: int,
    size: int,
) -> WavInfo:
    code, channels, rate, bits = fmt
    if code != _PCM:
        name = _FORMAT_NAMES.get(code, f"format code {code}")
        raise AudioError(where, f"{name} audio; 16-bit linear PCM is needed")
    if channels != 1:
        what = "stereo" if channels == 2 else f"{channels} channels"
        raise AudioError(where, f"{what}; mono is needed (one leg per file)")
    if bits != 16:
        raise AudioError(where, f"{bits}-bit samples; 16-bit PCM is needed")
    if rate not in rates:
        wanted = " or ".join(str(r) for r in rates)
        raise AudioError(where, f"sample rate {rate} Hz; {wanted} Hz is needed")
    present = size - offset
    if declared == 0 and present > 0:
        # A writer that died before closing the file never filled in the sizes.
        raise AudioError(where, f"header not finalised (data size 0, {present} bytes follow)")
    if present < declared:
        raise AudioError(
            where, f"truncated: header says {declared} bytes of audio, file holds {present}"
        )
    if declared < 2:
        raise AudioError(where, "no audio (0 samples)")
    return WavInfo(p, rate, offset, declared - declared % 2)
