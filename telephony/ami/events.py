"""AMI messages as plain, typed values, free of I/O and of panoramisk's classes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast


@dataclass(frozen=True)
class AmiEvent:
    """One AMI event: its name, its headers (last value wins) and when it happened.

    ``at`` is the PBX's own ``Timestamp`` header when the PBX sends one (``timestampevents``),
    otherwise the time the service received the event.
    """

    name: str
    headers: Mapping[str, str]
    at: float
    received_at: float = field(default=0.0, compare=False)

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, object], received_at: float | None = None
    ) -> AmiEvent:
        """Build from raw headers (values may be lists for repeated keys)."""
        return cls.from_pairs(headers.items(), received_at)

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[str, object]], received_at: float | None = None
    ) -> AmiEvent:
        """Build from ``(key, value)`` pairs; of repeated keys the last pair wins.

        A value may be a list (panoramisk's form of a header repeated in one event): its last
        item wins. Anything else that is not a ``str`` is converted with ``str()``.
        """
        # This runs for every event: dict() copies at C speed, and values are nearly always
        # str already, so only the rare event with another value pays for converting them.
        raw: dict[str, object] = dict(pairs)
        for value in raw.values():
            if value.__class__ is not str:
                flat = {key: _text(v) for key, v in raw.items()}
                break
        else:
            flat = cast(dict[str, str], raw)
        now = time.time() if received_at is None else received_at
        try:
            at = float(flat.get("Timestamp", ""))
        except ValueError:
            at = now
        return cls(flat.get("Event", ""), flat, at, now)


def _text(value: object) -> str:
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return str(value)


def parse_event_block(block: str, received_at: float | None = None) -> AmiEvent | None:
    """Parse one ``Key: Value`` block as Asterisk sends it (used for recorded streams)."""
    headers: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            headers[key.strip()] = value.strip()
    if "Event" not in headers:
        return None
    return AmiEvent.from_headers(headers, received_at)
