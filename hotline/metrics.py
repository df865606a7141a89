"""Call-centre metrics over any period, with the names and definitions of architecture.md.

| offered | calls that entered a queue |
| answered | offered calls connected to an agent |
| abandoned | callers who hung up while waiting; short abandons (< T s) reported apart |
| ASA | total queue wait of answered calls / answered |
| AHT | (talk + hold + wrap-up) / answered (hold is not tracked yet: 0) |
| service level | answered within T s / (offered - short abandons) |
| abandonment rate | abandoned / offered |
| occupancy | (talk + wrap-up) / (logged-in time - paused time), per agent |
| talk hours | sum of talk time |

Pure functions over rows the store hands in, so the same code serves the API, the reports and
the tests. Hours and days are in the hotline's local time zone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

GROUPS = ("total", "agent", "queue", "language", "kind", "hour", "day")


@dataclass(frozen=True)
class CallFacts:
    """What the metrics need of one call record."""

    started_at: datetime
    queue: str | None
    agent: str | None
    language: str | None
    kind: str | None
    disposition: str | None
    queued: bool
    queue_wait: float | None
    talk_time: float | None
    wrapup: float = 0.0  # the agent's wrap-up after this call


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

    def add(self, c: CallFacts, short: float, sl: float) -> None:
        if not c.queued:
            return
        self.offered += 1
        if c.disposition == "answered":
            self.answered += 1
            wait = c.queue_wait or 0.0
            self.wait_answered += wait
            self.answered_in_sl += wait <= sl
            self.talk += c.talk_time or 0.0
            self.wrapup += c.wrapup
        elif c.disposition == "abandoned":
            self.abandoned += 1
            self.short_abandons += (c.queue_wait or 0.0) < short

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


@dataclass(frozen=True)
class AgentInterval:
    """A stretch of an agent's time: logged in, paused (reason) or in wrap-up."""

    agent_id: str
    kind: str  # logged_in | paused | wrap_up
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def intervals(
    events: Iterable[tuple[str, str, str | None, datetime]], until: datetime
) -> list[AgentInterval]:
    """Agent state history (agent, event, reason, at), in time order → intervals.

    login/logout bound "logged_in"; pause/unpause (or logout) bound "paused", or "wrap_up" when
    the reason is wrap-up. Open intervals end at ``until``."""
    out: list[AgentInterval] = []
    login: dict[str, datetime] = {}
    pause: dict[str, tuple[datetime, str]] = {}
    for agent, event, reason, at in events:

        def close_pause(agent: str = agent, at: datetime = at) -> None:
            if agent in pause:
                start, kind = pause.pop(agent)
                out.append(AgentInterval(agent, kind, start, at))

        if event == "login":
            close_pause()
            login.setdefault(agent, at)
        elif event == "logout":
            close_pause()
            if agent in login:
                out.append(AgentInterval(agent, "logged_in", login.pop(agent), at))
        elif event == "pause":
            close_pause()
            pause[agent] = (at, "wrap_up" if reason == "wrap-up" else "paused")
        elif event == "unpause":
            close_pause()
    for agent, start in login.items():
        out.append(AgentInterval(agent, "logged_in", start, until))
    for agent, (start, kind) in pause.items():
        out.append(AgentInterval(agent, kind, start, until))
    return out


def occupancy(
    calls: Sequence[CallFacts], spans: Sequence[AgentInterval], extension_of: dict[str, str]
) -> dict[str, dict[str, float | None]]:
    """Per agent id: (talk + wrap-up) / (logged-in - paused); calls matched by extension."""
    out: dict[str, dict[str, float | None]] = {}
    for agent in sorted({s.agent_id for s in spans}):
        mine = [s for s in spans if s.agent_id == agent]
        logged = sum(s.seconds for s in mine if s.kind == "logged_in")
        paused = sum(s.seconds for s in mine if s.kind == "paused")
        wrap = sum(s.seconds for s in mine if s.kind == "wrap_up")
        ext = extension_of.get(agent)
        talk = sum(c.talk_time or 0.0 for c in calls if ext and c.agent == ext)
        available = logged - paused
        out[agent] = {
            "logged_in_s": round(logged, 1),
            "paused_s": round(paused, 1),
            "talk_s": round(talk, 1),
            "wrap_up_s": round(wrap, 1),
            "occupancy": round((talk + wrap) / available, 4) if available > 0 else None,
        }
    return out


def key_of(group: str, tz: tzinfo) -> Callable[[CallFacts], str]:
    if group == "total":
        return lambda c: "total"
    if group == "hour":
        return lambda c: c.started_at.astimezone(tz).strftime("%Y-%m-%d %H:00")
    if group == "day":
        return lambda c: c.started_at.astimezone(tz).strftime("%Y-%m-%d")
    attr = {"agent": "agent", "queue": "queue", "language": "language", "kind": "kind"}[group]
    return lambda c: getattr(c, attr) or "-"


def compute(
    calls: Iterable[CallFacts],
    group_by: Sequence[str],
    tz: tzinfo,
    short_abandon: float = 5.0,
    sl_seconds: float = 20.0,
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """group → key → metrics, in one pass over the calls."""
    keys = {g: key_of(g, tz) for g in group_by}
    acc: dict[str, dict[str, Metrics]] = {g: {} for g in group_by}
    for c in calls:
        for g, key in keys.items():
            acc[g].setdefault(key(c), Metrics()).add(c, short_abandon, sl_seconds)
    return {g: {k: m.as_dict() for k, m in sorted(v.items())} for g, v in acc.items()}


def attribute_wrapups(
    calls: Sequence[CallFacts], spans: Sequence[AgentInterval], extension_of: dict[str, str]
) -> list[CallFacts]:
    """Each wrap-up interval belongs to the agent's latest call that started before it."""
    by_ext: dict[str, list[int]] = {}
    for i, c in enumerate(calls):
        if c.agent and c.disposition == "answered":
            by_ext.setdefault(c.agent, []).append(i)
    starts: dict[str, list[datetime]] = {}
    for agent_ext, idx in by_ext.items():
        idx.sort(key=lambda i: calls[i].started_at)
        starts[agent_ext] = [calls[i].started_at for i in idx]
    extra = [0.0] * len(calls)
    for s in spans:
        ext = extension_of.get(s.agent_id)
        if s.kind != "wrap_up" or ext is None or ext not in starts:
            continue
        # Binary search: a busy day has tens of thousands of wrap-ups.
        pos = bisect_right(starts[ext], s.start)
        if pos:
            extra[by_ext[ext][pos - 1]] += s.seconds
    return [
        CallFacts(**{**c.__dict__, "wrapup": c.wrapup + extra[i]}) if extra[i] else c
        for i, c in enumerate(calls)
    ]
