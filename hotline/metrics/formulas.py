"""Call-centre metrics over any period, with the names and definitions of docs/operations.md.

| offered | calls that entered a queue |
| answered | offered calls connected to an agent |
| abandoned | callers who hung up while waiting; short abandons (< T s) reported apart |
| ASA | total queue wait of answered calls / answered |
| AHT | (talk + hold + wrap-up) / answered; talk runs from connect to the end of the bridge, so
  it includes any hold (the caller stays bridged, hearing music): talk + wrap-up is the sum |
| service level | answered within T s / (offered - short abandons) |
| abandonment rate | abandoned / offered |
| occupancy | (talk + wrap-up) / (logged-in time - paused time), per agent |
| talk hours | sum of talk time |

Pure functions over the sums the store hands in (per UTC hour, queue, agent, language and
kind; per UTC hour and agent for agents' time), so the same code serves the API, the reports
and the tests. Hours and days are in the hotline's local time zone, whose offset is a whole
number of hours (the settings check it), so every UTC hour lies in one local hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

GROUPS = ("total", "agent", "queue", "language", "kind", "region", "pbx", "hour", "day")
HOUR = 3600


class CallSums(NamedTuple):
    """Sums over ended, queued calls with the same key: a UTC hour (``bucket``, hours since
    the epoch), queue, agent, language and kind, or only some of them (the others None)."""

    bucket: int | None
    queue: str | None
    agent: str | None
    language: str | None
    kind: str | None
    region: str | None
    pbx: str | None
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    answered_in_sl: int
    wait_answered: float
    talk: float
    wrapup: float


# The key a group's figures are summed by (None: no key, one total).
DIMENSION: dict[str, str | None] = {
    "total": None,
    "agent": "agent",
    "queue": "queue",
    "language": "language",
    "kind": "kind",
    "region": "region",
    "pbx": "pbx",
    "hour": "bucket",
    "day": "bucket",
}


@dataclass
class Metrics:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    answered_in_sl: int = 0
    wait_answered: float = 0.0
    talk: float = 0.0
    wrapup: float = 0.0

    def add(self, r: CallSums) -> None:
        self.offered += r.offered
        self.answered += r.answered
        self.abandoned += r.abandoned
        self.short_abandons += r.short_abandons
        self.answered_in_sl += r.answered_in_sl
        self.wait_answered += r.wait_answered
        self.talk += r.talk
        self.wrapup += r.wrapup

    def as_dict(self) -> dict[str, float | int | None]:
        base = self.offered - self.short_abandons
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandons": self.short_abandons,
            "asa": _div(self.wait_answered, self.answered),
            "aht": _div(self.talk + self.wrapup, self.answered),
            "service_level": _div(self.answered_in_sl, base),
            "abandonment_rate": _div(self.abandoned, self.offered),
            "talk_hours": round(self.talk / 3600, 4),
        }


def _div(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def key_of(group: str, tz: tzinfo) -> Callable[[CallSums], str]:
    if group == "total":
        return lambda r: "total"
    if group in ("hour", "day"):
        fmt = "%Y-%m-%d %H:00" if group == "hour" else "%Y-%m-%d"
        cache: dict[int | None, str] = {}

        def local(r: CallSums) -> str:
            key = cache.get(r.bucket)
            if key is None:
                assert r.bucket is not None
                key = datetime.fromtimestamp(r.bucket * HOUR, UTC).astimezone(tz).strftime(fmt)
                cache[r.bucket] = key
            return key

        return local
    index = CallSums._fields.index(group)
    return lambda r: str(r[index] or "-")


def compute(
    rows: Mapping[str, Iterable[CallSums]], tz: tzinfo
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """group → key → metrics, from each group's sums (keyed at least by its dimension)."""
    out = {}
    for group, group_rows in rows.items():
        key = key_of(group, tz)
        acc: dict[str, Metrics] = defaultdict(Metrics)
        for r in group_rows:
            acc[key(r)].add(r)
        out[group] = {k: m.as_dict() for k, m in sorted(acc.items())}
    return out


def occupancy(
    time: Mapping[str, Sequence[float]], talk: Mapping[str, float]
) -> dict[str, dict[str, float | None]]:
    """Per agent id, from its seconds (ready, paused, wrap-up) and talk:
    (talk + wrap-up) / (logged-in - paused)."""
    out: dict[str, dict[str, float | None]] = {}
    for agent in sorted(time):
        ready, paused, wrap = time[agent]
        spoken = talk.get(agent, 0.0)
        available = ready + wrap
        out[agent] = {
            "logged_in_s": round(ready + paused + wrap, 1),
            "paused_s": round(paused, 1),
            "talk_s": round(spoken, 1),
            "wrap_up_s": round(wrap, 1),
            "occupancy": round((spoken + wrap) / available, 4) if available > 0 else None,
        }
    return out
