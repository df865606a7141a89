"""AMI messages as plain, typed values, free of I/O and of panoramisk's classes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field


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
        flat: dict[str, str] = {}
        for key, value in headers.items():
            if isinstance(value, list):
                flat[key] = str(value[-1]) if value else ""
            else:
                flat[key] = str(value)
        now = time.time() if received_at is None else received_at
        try:
            at = float(flat.get("Timestamp", ""))
        except ValueError:
            at = now
        return cls(name=flat.get("Event", ""), headers=flat, at=at, received_at=now)


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
