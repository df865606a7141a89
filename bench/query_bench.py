"""Benchmark: latency of the metrics and live-view queries over a month of a big city's calls.

Run from the repository root::

    .venv/bin/python -m bench.query_bench [--rows 1000000] [--skip-postgres]

The store (SQLite in a temporary file, and a private PostgreSQL) is migrated and filled with
synthetic but realistic records with SQLAlchemy Core bulk inserts: 30 days of 12345 traffic
ending today (Asia/Shanghai), ~33,000 calls a day (fewer at weekends) along a daily curve with
morning and afternoon peaks; five queues, 60 agents in four shifts (8 of them English-speaking),
Mandarin and English callers, the shipped menu's request kinds, every disposition in realistic
shares, waits that grow with the load of the hour, and talk times. The agents' state history is
what the service writes: log-in and log-out, breaks and meals (pause/unpause), a 10 s wrap-up
pause after every answered call, and the odd "no answer" auto-pause.

Then each query runs once untimed (warm caches, as on a serving API) and ``--repeat`` times
timed, as the API runs it:

* ``MetricsService(settings.metrics_config(), MetricsStore(engine)).compute(since, until,
  groups)`` for today by ["total", "queue", "agent", "hour"], the last 7 days by ["day",
  "queue"] and today's 10:00-11:00 by ["total"];
* the live view's ``CallStore.summary(midnight, 5.0, 20.0)`` (today is a whole day: the view
  as it is at the end of the day, its worst case).

The warm-up runs the same calls step by step and times each step. So that a default run stays
under ten minutes on two cores, a query stops repeating once its timed runs have taken
``--budget`` seconds (after at least ``--min-runs``), and a query whose warm-up alone takes
longer than ``--slow`` seconds is not repeated at all; the table says when either happened.
For the queries that miss the target the steps and the query plans are printed.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, text

from bench.pipeline_bench import machine_lines
from hotline.agents.time import rebuild
from hotline.app.settings import Settings, parse_settings
from hotline.calls.store import CallStore
from hotline.db.engine import make_engine, migrate
from hotline.db.models import Base, UtcDateTime
from hotline.db.rollups import bucket_of
from hotline.metrics.formulas import compute, occupancy
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from testkit.postgres_server import private_postgres

log = logging.getLogger("bench.query")

TARGET_MS = 100.0  # the target: p99 under 100 ms
DAYS = 30
SEED = 12345
WRAPUP = 10.0  # seconds, config/hotline.yaml's queues
# Share of the day's calls per local hour (12345 lines: morning and afternoon peaks).
HOURLY = (
    0.4,
    0.25,
    0.2,
    0.15,
    0.15,
    0.25,
    0.6,
    1.6,
    4.5,
    7.5,
    8.0,
    7.0,
    4.8,
    5.5,
    7.2,
    7.6,
    7.0,
    5.5,
    4.0,
    3.6,
    3.3,
    2.6,
    1.6,
    0.9,
)
WEEKDAY = (1.0, 1.0, 0.98, 0.97, 0.95, 0.8, 0.75)  # Monday first
# (kind, menu key, share of Mandarin callers' choices)
KINDS = (
    ("consultation", "1", 0.44),
    ("help_request", "2", 0.15),
    ("complaint", "3", 0.20),
    ("suggestion", "4", 0.05),
    ("ticket_status", "5", 0.10),
    ("operator", "0", 0.06),
)
KIND_CUM = tuple(itertools.accumulate(k[2] for k in KINDS))
QUEUE_OF_KIND: Mapping[str, str] = MappingProxyType(
    {
        "consultation": "operator",
        "help_request": "help",
        "complaint": "complaint",
        "suggestion": "operator",
        "ticket_status": "operator",
        "operator": "operator",
    }
)
# Shifts in hours from local midnight (the night shift ends the next morning) and head count.
SHIFTS = ((8.0, 16.5, 22), (9.0, 17.5, 12), (13.5, 22.0, 22), (21.5, 32.5, 4))  # early .. night
BREAKS = ((2.0, 15, "break"), (4.0, 40, "meal"), (6.5, 15, "break"))  # hours in, minutes, reason
ENGLISH_AGENTS = 8
SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo"
GIVEN = "Fang Na Wei Yang Jing Lei Min Jie Tao Hui Ying Qiang Xia Ping Gang"


# -- synthetic data -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    extension: str
    english: bool
    shift: tuple[float, float]  # hours from the local midnight of the day it starts
    off_days: tuple[int, int]  # weekdays (0 = Monday) off


def make_agents(rng: random.Random) -> list[Agent]:
    shifts = [(s, e) for s, e, n in SHIFTS for _ in range(n)]
    surnames, given = SURNAMES.split(), GIVEN.split()
    agents = []
    # English speakers spread over the day shifts (every 7th of the first 56 agents).
    english = set(range(0, 7 * ENGLISH_AGENTS, 7))
    for i, (start, end) in enumerate(shifts):
        off = (i % 7, (i + 1) % 7)
        name = f"{rng.choice(surnames)} {rng.choice(given)}"
        agents.append(
            Agent(f"agent{i + 1:03d}", name, str(1001 + i), i in english, (start, end), off)
        )
    return agents


@dataclass
class DayCounts:
    calls: int = 0
    queued: int = 0
    answered: int = 0
    queued_by_hour: dict[int, int] = field(default_factory=dict)


@dataclass
class Generator:
    """Produces one local day at a time: call rows and agent events, in time order."""

    tz: Any
    agents: list[Agent]
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    free_at: dict[str, float] = field(default_factory=dict)  # agent id → POSIX time

    def on_shift(self, day: date, hour: float) -> list[Agent]:
        """Agents working at ``hour`` (from ``day``'s local midnight; night shifts included)."""
        out = []
        for a in self.agents:
            start, end = a.shift
            if day.weekday() not in a.off_days and start <= hour < end:
                out.append(a)
            yesterday = day - timedelta(days=1)
            if yesterday.weekday() not in a.off_days and start <= hour + 24 < end:
                out.append(a)
        return out

    def day(
        self, day: date, count: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], DayCounts]:
        rng = self.rng
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()
        hours = rng.choices(range(24), weights=HOURLY, k=count)
        starts = sorted(midnight + h * 3600 + rng.random() * 3600 for h in hours)
        peak = max(HOURLY)
        staff = {h: self.on_shift(day, h + 0.5) for h in range(24)}
        counts = DayCounts(calls=count)
        calls: list[dict[str, Any]] = []
        events = self.shift_events(day)
        for started in starts:
            hour = int((started - midnight) // 3600)
            load = HOURLY[hour] / peak
            row, agent_events = self.call(day, started, load, staff[hour], counts, hour)
            calls.append(row)
            events += agent_events
        events.sort(key=lambda e: e["at"])
        return calls, events, counts

    def call(
        self,
        day: date,
        started: float,
        load: float,
        staff: list[Agent],
        counts: DayCounts,
        hour: int,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        call_id = f"{int(started)}.{next(self.seq)}"
        english = rng.random() < 0.03
        language = "en" if english else "zh"
        variables = {
            "HOTLINE_DIALLED": "12345",
            "HOTLINE_DEFAULT_QUEUE": "operator",
            "HOTLINE_LANGUAGE": language,
            "HOTLINE_MENU": "main",
        }
        path = ["welcome:9" if english else "welcome:timeout"]
        kind, key, _ = rng.choices(KINDS, cum_weights=KIND_CUM)[0]
        row: dict[str, Any] = {
            "call_id": call_id,
            "caller_number": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
            "caller_name": "",
            "dialled_number": "12345",
            "started_at": started,
            "answered_at": None,
            "queue": None,
            "queue_joined_at": None,
            "agent": None,
            "agent_name": None,
            "queue_wait": None,
            "ring_time": None,
            "talk_time": None,
            "ended_by": None,
            "disposition": None,
            "hangup_cause": "Normal Clearing",
            "recordings": {},
            "ivr": None,
            "language": language,
            "request_kind": None,
            "resynced": rng.random() < 0.001,
            "wrapup_time": None,
        }
        events: list[dict[str, Any]] = []
        ivr_time = rng.uniform(12.0, 40.0)
        outcome = rng.random()
        if outcome < 0.003:  # never reached the service
            row.update(disposition="failed", hangup_cause="Unallocated (unassigned) number")
            path, ended = [], started + rng.uniform(0.5, 3.0)
            variables = {}
        elif outcome < 0.053:  # hung up in the menu
            path.append(rng.choice(["kind:timeout", "kind:invalid-7", f"kind:{key}"]))
            row.update(disposition="ivr_hangup", ended_by="caller")
            ended = started + ivr_time * rng.random()
        elif outcome < 0.063:  # emergency: sent to 110/119/120
            path.append("kind:emergency")
            row.update(disposition="transferred", ended_by="transfer", request_kind="emergency")
            row["ivr"] = "done"
            variables["HOTLINE_TRANSFERRED"] = f"{started + ivr_time:.6f}"
            ended = started + ivr_time + 0.2
        elif kind == "ticket_status" and rng.random() < 0.7:  # heard the status, done
            path += ["kind:5", "after_lookup:timeout"]
            row.update(disposition="self_service", request_kind=kind, ivr="done")
            variables["HOTLINE_ACTION"] = "hangup"
            ended = started + ivr_time + rng.uniform(10.0, 25.0)
        else:
            path.append(f"kind:{key}")
            row.update(request_kind=kind, ivr="done" if rng.random() < 0.995 else "skipped")
            ended = self.queued(row, variables, started + ivr_time, load, staff, events)
            counts.queued += 1
            counts.queued_by_hour[hour] = counts.queued_by_hour.get(hour, 0) + 1
            counts.answered += row["disposition"] == "answered"
        if variables:
            variables.update(HOTLINE_IVR_PATH="/".join(path), HOTLINE_IVR=row["ivr"] or "")
            if row["request_kind"]:
                variables["HOTLINE_KIND"] = row["request_kind"]
        row["ivr_path"] = path
        row["variables"] = variables
        row["ended_at"] = ended
        row["updated_at"] = ended
        return _as_datetimes(row), events

    def queued(
        self,
        row: dict[str, Any],
        variables: dict[str, str],
        joined: float,
        load: float,
        staff: list[Agent],
        events: list[dict[str, Any]],
    ) -> float:
        """A caller in a queue: answered, abandoned or timed out. Returns the end time."""
        rng = self.rng
        english = row["language"] == "en"
        queue = "english" if english else QUEUE_OF_KIND[row["request_kind"]]
        if not english and rng.random() < 0.04:
            queue = "elderly"  # callers 60+ recognised by number: their own desk
        row.update(queue=queue, queue_joined_at=joined)
        variables.update(HOTLINE_QUEUE=queue, HOTLINE_QUEUED=f"{joined:.6f}")
        outcome = rng.random()
        if outcome < 0.015:  # maximum wait reached
            row.update(disposition="no_agent", queue_wait=600.0)
            return joined + 600.0
        if outcome < 0.125:  # abandoned; a third within 5 s (short abandons)
            wait = rng.uniform(0.5, 5.0) if rng.random() < 0.33 else rng.expovariate(1 / 40)
            row.update(disposition="abandoned", queue_wait=round(wait, 3), ended_by="caller")
            return joined + wait
        # Answered: waits lengthen with the load of the hour.
        wait = rng.lognormvariate(math.log(3.0 + 22.0 * load**2), 0.8)
        ring = rng.uniform(1.0, 6.0)
        answered = joined + wait
        pool = [a for a in staff if a.english] if english else staff
        pool = pool or [a for a in self.agents if a.english or not english]
        # The agent free longest takes the call (when all are busy, calls overlap).
        agent = min(pool, key=lambda a: self.free_at.get(a.agent_id, 0.0))
        talk = rng.lognormvariate(math.log(110.0), 0.6)
        ended = answered + talk
        self.free_at[agent.agent_id] = ended + WRAPUP
        rec = f"var/recordings/{datetime.fromtimestamp(joined, UTC):%Y%m%d}/{row['call_id']}"
        row.update(
            disposition="answered",
            answered_at=answered,
            agent=agent.extension,
            agent_name=agent.name,
            queue_wait=round(wait, 3),
            ring_time=round(ring, 3),
            talk_time=round(talk, 3),
            ended_by="caller" if rng.random() < 0.7 else "agent",
            recordings={leg: f"{rec}-{leg}.wav" for leg in ("mix", "caller", "agent")},
            wrapup_time=WRAPUP,  # as the agent desk writes it when the wrap-up ends
        )
        variables.update(HOTLINE_CONNECTED=f"{answered:.6f}", HOTLINE_REC=rec)
        events.append(_event(agent, "pause", "wrap-up", ended))
        events.append(_event(agent, "unpause", None, ended + WRAPUP))
        if rng.random() < 0.005:  # someone else let it ring out first: auto-paused
            other = rng.choice(pool)
            events.append(_event(other, "pause", "no answer", answered - ring))
            events.append(_event(other, "unpause", None, answered - ring + 60.0))
        return ended

    def shift_events(self, day: date) -> list[dict[str, Any]]:
        """Log-in, breaks, meal and log-out of the agents whose shift starts on ``day``."""
        rng = self.rng
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()
        out = []
        for a in self.agents:
            if day.weekday() in a.off_days:
                continue
            start = midnight + a.shift[0] * 3600 + rng.uniform(-600, 300)
            end = midnight + a.shift[1] * 3600 + rng.uniform(0, 900)
            out.append(_event(a, "login", None, start))
            for offset, minutes, reason in BREAKS:
                at = start + offset * 3600 + rng.uniform(-900, 900)
                out.append(_event(a, "pause", reason, at))
                out.append(_event(a, "unpause", None, at + minutes * 60 * rng.uniform(0.8, 1.3)))
            out.append(_event(a, "logout", None, end, extension=False))
        return out


def _event(
    agent: Agent, event: str, reason: str | None, at: float, *, extension: bool = True
) -> dict[str, Any]:
    # As AgentStore.set_session writes it: the extension while logged in, none at log-out.
    return {
        "agent_id": agent.agent_id,
        "event": event,
        "reason": reason,
        "extension": agent.extension if extension else None,
        "at": datetime.fromtimestamp(at, UTC),
    }


def _as_datetimes(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("started_at", "answered_at", "ended_at", "queue_joined_at", "updated_at"):
        if row[key] is not None:
            row[key] = datetime.fromtimestamp(row[key], UTC)
    return row


def day_counts(total: int, days: list[date], rng: random.Random) -> list[int]:
    """``total`` calls over ``days`` by weekday (±5 % day to day), summing exactly."""
    weights = [WEEKDAY[d.weekday()] * rng.uniform(0.95, 1.05) for d in days]
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(days)), key=lambda i: raw[i] - counts[i], reverse=True):
        if sum(counts) == total:
            break
        counts[i] += 1
    return counts


# -- loading --------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    url: str
    engine: Engine
    insert_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def insert_rows(target: Target, table: Table, rows: list[dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    with target.engine.begin() as conn:
        conn.execute(insert(table), rows)
    target.insert_seconds += time.perf_counter() - t0


def load(
    targets: list[Target], total: int, settings: Settings, today: date
) -> tuple[dict[date, DayCounts], float]:
    """Fill every target with the same data; returns the generator's counts per day."""
    t0 = time.perf_counter()
    rng = random.Random(SEED)
    agents = make_agents(rng)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    gen = Generator(settings.tz, agents)
    now = datetime.now(UTC)
    agent_rows = [
        {
            "agent_id": a.agent_id,
            "name": a.name,
            "extension": a.extension,
            "roles": ["agent"],
            "skills": {"zh": 4, **({"en": 4} if a.english else {})},
            "password_hash": "",
            "logged_in_extension": None,
            "paused": False,
            "pause_reason": None,
            "state_since": None,
            "created_at": now,
            "updated_at": now,
        }
        for a in agents
    ]
    tables = Base.metadata.tables
    for t in targets:
        insert_rows(t, tables["agents"], agent_rows)
    counts: dict[date, DayCounts] = {}
    for day, n in zip(days, day_counts(total, days, rng), strict=True):
        calls, events, counts[day] = gen.day(day, n)
        for t in targets:
            insert_rows(t, tables["calls"], calls)
            insert_rows(t, tables["agent_events"], events)
    for t in targets:
        with t.engine.begin() as conn:
            if t.engine.dialect.name == "postgresql":
                # Autovacuum would analyse the fresh tables within a minute; do it now.
                conn.exec_driver_sql("ANALYZE")
            for name in ("calls", "agent_events", "agents"):
                t.rows[name] = int(conn.scalar(select(func.count()).select_from(tables[name])) or 0)
    return counts, time.perf_counter() - t0


def clock(settings: Settings, today: date) -> datetime:
    """The queries' "now": today's last call has ended (the data runs to midnight)."""
    return datetime.combine(today + timedelta(days=1), dtime(), settings.tz)


def prepare(
    engine: Engine, settings: Settings, first: datetime, now: datetime
) -> tuple[int, float, float]:
    """What the service keeps as it runs, made for bulk-loaded data: agents' time segments
    and hour sums (replayed from agent_events), then the per-hour call sums of every hour
    that is over (what the first queries would build). Returns (segments, seconds, seconds)."""
    t0 = time.perf_counter()
    segments = rebuild(engine, attribute_wrapups=False)
    t1 = time.perf_counter()
    s = settings
    MetricsStore(engine).read(
        first, now, ["total"], s.short_abandon_seconds, s.service_level_seconds, now
    )
    return segments, t1 - t0, time.perf_counter() - t1


# -- timing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Staged:
    """A query run step by step: its result, its own time, and report lines per step."""

    result: Any
    seconds: float  # the query's steps only, not the comparisons made alongside
    lines: list[str]


@dataclass(frozen=True)
class Query:
    name: str
    run: Callable[[Engine], Any]  # exactly as the API runs it
    staged: Callable[[Engine], Staged]  # the same work, step by step (the untimed warm-up)
    check: Callable[[Any], str | None]  # a problem with the (staged) result, or None


@dataclass(frozen=True)
class Timed:
    query: str
    database: str
    samples: list[float]  # seconds
    first: float  # the staged warm-up run, seconds
    steps: list[str]
    problem: str | None
    single: bool  # too slow to repeat: the warm-up run is the only sample

    def note(self, limits: Limits) -> str:
        if self.single:
            return f" (warm-up > {limits.slow:.0f} s: that one run only)"
        if len(self.samples) < limits.repeat:
            return f" ({limits.budget:.0f} s budget: p99 = slowest of {len(self.samples)})"
        return ""

    def pct(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds (with 50 runs, p99 is the slowest run)."""
        ordered = sorted(self.samples)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def time_query(query: Query, target: Target, limits: Limits) -> Timed:
    staged = query.staged(target.engine)  # warms the caches; checks the answer
    first, steps = staged.seconds, staged.lines
    problem = query.check(staged.result)
    if first > limits.slow:
        # 50 runs of a query that takes a minute do not fit a benchmark run: its one
        # step-by-step run (the same calls as MetricsService.compute, in order) is its figure.
        return Timed(query.name, target.name, [first], first, steps, problem, True)
    samples: list[float] = []
    while len(samples) < limits.repeat and (
        sum(samples) < limits.budget or len(samples) < limits.min_runs
    ):
        t0 = time.perf_counter()
        query.run(target.engine)
        samples.append(time.perf_counter() - t0)
    return Timed(query.name, target.name, samples, first, steps, problem, False)


@dataclass(frozen=True)
class Limits:
    """How often each query runs: --repeat times, unless that takes too long."""

    repeat: int
    budget: float  # seconds of timed runs per query and database, once min_runs are done
    min_runs: int
    slow: float  # a warm-up longer than this (s) is the only run


def queries(settings: Settings, today: date, counts: dict[date, DayCounts]) -> list[Query]:
    tz = settings.tz
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz)
    tomorrow = midnight + timedelta(days=1)
    week = midnight - timedelta(days=6)
    hour = midnight + timedelta(hours=10)
    day = counts[today]
    now = clock(settings, today)
    week_queued = sum(c.queued for d, c in counts.items() if d >= week.date())

    def metrics(
        since: datetime, until: datetime, groups: list[str]
    ) -> tuple[Callable[[Engine], Any], Callable[[Engine], Staged]]:
        def run(engine: Engine) -> Any:
            service = MetricsService(settings.metrics_config(), MetricsStore(engine))
            return service.compute(since, until, groups, now)

        def staged(engine: Engine) -> Staged:
            return metrics_steps(settings, engine, since, until, groups, now)

        return run, staged

    def offered(want: int) -> Callable[[Any], str | None]:
        def check(result: Any) -> str | None:
            first = next(iter(result["groups"].values()))
            got = sum(m["offered"] for m in first.values())
            return None if got == want else f"offered {got}, generated {want}"

        return check

    def summary(engine: Engine) -> Any:
        return CallStore(engine).summary(midnight, 5.0, 20.0)

    def summary_check(result: Any) -> str | None:
        ok = result.calls == day.calls and result.offered == day.queued
        return None if ok else f"calls {result.calls}/{day.calls}, offered {result.offered}"

    return [
        Query(
            "metrics 1 day  [total,queue,agent,hour]",
            *metrics(midnight, tomorrow, ["total", "queue", "agent", "hour"]),
            offered(day.queued),
        ),
        Query(
            "metrics 7 days [day,queue]",
            *metrics(week, tomorrow, ["day", "queue"]),
            offered(week_queued),
        ),
        Query(
            "metrics 1 hour [total]",
            *metrics(hour, hour + timedelta(hours=1), ["total"]),
            offered(day.queued_by_hour.get(10, 0)),
        ),
        Query(
            "live today  CallStore.summary",
            summary,
            lambda engine: summary_steps(engine, midnight),
            summary_check,
        ),
    ]


# -- where the time goes --------------------------------------------------------------------------
def metrics_steps(
    settings: Settings,
    engine: Engine,
    since: datetime,
    until: datetime,
    groups: list[str],
    now: datetime,
) -> Staged:
    """MetricsService.compute's steps in its order, timed one by one."""
    s = settings
    store = MetricsStore(engine)
    t = [time.perf_counter()]
    data = store.read(since, until, groups, s.short_abandon_seconds, s.service_level_seconds, now)
    t.append(time.perf_counter())
    grouped = compute(data.groups, s.tz)
    t.append(time.perf_counter())
    occ = occupancy(data.agent_time, data.agent_talk)
    t.append(time.perf_counter())
    rows = sum(len(v) for v in data.groups.values())
    names = [
        f"MetricsStore.read: {rows:,} sums over {len(groups)} group(s), "
        f"{len(data.agent_time):,} agents' time",
        "compute (grouping)",
        f"occupancy: {len(occ):,} agents",
    ]
    lines = [
        f"      {1000 * (b - a):9.1f} ms  {n}" for n, a, b in zip(names, t, t[1:], strict=False)
    ]
    return Staged({"groups": grouped}, t[-1] - t[0], lines)


def summary_steps(engine: Engine, midnight: datetime) -> Staged:
    """The live query as the store runs it (one SQL aggregate)."""
    t0 = time.perf_counter()
    result = CallStore(engine).summary(midnight, 5.0, 20.0)
    t1 = time.perf_counter()
    lines = [f"      {1000 * (t1 - t0):9.1f} ms  CallStore.summary over {result.calls:,} calls"]
    return Staged(result, t1 - t0, lines)


def plans(engine: Engine, since: datetime, until: datetime) -> list[str]:
    """Query plans of the metrics' reads: built hour sums, a partial hour from the calls,
    agents' hour sums."""
    pg = engine.dialect.name == "postgresql"
    explain = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
    lo, hi = bucket_of(since), bucket_of(until) - 1
    reads = {
        "call_hours": "SELECT m.bucket, h.* FROM call_hour_marks m LEFT OUTER JOIN call_hours h "
        f"ON h.bucket = m.bucket WHERE m.bucket >= {lo} AND m.bucket <= {hi}",
        "calls (a partial hour)": "SELECT queue, agent, language, request_kind, count(*) "
        "FROM calls WHERE started_at >= :since AND started_at < :until AND ended_at IS NOT "
        "NULL AND queue_joined_at IS NOT NULL GROUP BY queue, agent, language, request_kind",
        "agent_hours": f"SELECT * FROM agent_hours WHERE bucket >= {lo} AND bucket <= {hi}",
    }
    out = []
    with engine.connect() as conn:
        for name, sql in reads.items():
            params = {"since": since, "until": since + timedelta(minutes=30)}
            params = {k: v for k, v in params.items() if f":{k}" in sql}
            stmt = text(explain + sql).bindparams(
                *(bindparam(k, type_=UtcDateTime()) for k in params)
            )
            rows = conn.execute(stmt, params)
            lines = [str(r[0] if pg else r[-1]) for r in rows]
            out.append(f"      {name}: " + " | ".join(line.strip() for line in lines))
    return out


# -- main -----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.query_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="call records (30 days)")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only (quick runs)")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per query")
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed runs per query and database (after --min-runs)",
    )
    parser.add_argument("--min-runs", type=int, default=5, help="timed runs at least")
    parser.add_argument(
        "--slow",
        type=float,
        default=30.0,
        help="a query whose warm-up takes longer (s) is not repeated",
    )
    args = parser.parse_args(argv)
    limits = Limits(args.repeat, args.budget, args.min_runs, args.slow)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wall = time.perf_counter()
    settings = parse_settings({})
    today = datetime.now(settings.tz).date()
    out = machine_lines(postgres=not args.skip_postgres)
    problems: list[str] = []

    with tempfile.TemporaryDirectory(prefix="query-bench-") as tmp, contextlib.ExitStack() as stack:
        urls = {"SQLite": f"sqlite:///{tmp}/hotline.db"}
        if not args.skip_postgres:
            urls["PostgreSQL"] = stack.enter_context(private_postgres()).url
        targets = []
        for name, url in urls.items():
            migrate(url)
            engine = make_engine(url)
            stack.callback(engine.dispose)
            targets.append(Target(name, url, engine))
        counts, load_seconds = load(targets, args.rows, settings, today)
        out.append(
            f"data      {DAYS} days to {today} ({settings.timezone}), {args.rows:,} calls "
            f"(today {counts[today].calls:,}, of which {counts[today].queued:,} queued, "
            f"{counts[today].answered:,} answered); generated and loaded in {load_seconds:.1f} s"
        )
        for t in targets:
            out.append(
                f"  {t.name:<10} rows: calls {t.rows['calls']:,}, agent_events "
                f"{t.rows['agent_events']:,}, agents {t.rows['agents']:,}; Core bulk inserts "
                f"{t.insert_seconds:.1f} s ({t.rows['calls'] / t.insert_seconds:,.0f} calls/s "
                "with their agent events)"
            )
            if t.rows["calls"] != args.rows:
                problems.append(f"{t.name}: {t.rows['calls']} call rows, wanted {args.rows}")
        first = datetime.combine(today - timedelta(days=DAYS - 1), dtime(), settings.tz)
        for t in targets:
            segments, replay, build = prepare(t.engine, settings, first, clock(settings, today))
            out.append(
                f"  {t.name:<10} prepared: agent time replayed from the state history into "
                f"{segments:,} hour segments in {replay:.1f} s (the migration's path; the service "
                f"writes them as states change); per-hour call sums built for {DAYS} days in "
                f"{build:.1f} s (live, each hour is built by the first query after it ends)"
            )

        results: list[Timed] = []
        for q in queries(settings, today, counts):
            for t in targets:
                r = time_query(q, t, limits)
                results.append(r)
                if r.problem:
                    problems.append(f"{q.name} on {t.name}: {r.problem}")

        out.append("")
        out.append(
            f"results   latency per query as the API runs it: one untimed warm-up (step by "
            f"step), then {args.repeat} timed runs (p99 = nearest rank: of 50 runs, the "
            f"slowest); target p99 < {TARGET_MS:.0f} ms"
        )
        out.append(
            f"  {'query':<40} {'database':<11} {'runs':>4} {'p50 ms':>9} {'p99 ms':>9}  target"
        )
        for r in results:
            p99 = r.pct(99)
            verdict = "met" if p99 < TARGET_MS else "NOT met"
            note = r.note(limits)
            out.append(
                f"  {r.query:<40} {r.database:<11} {len(r.samples):>4} {r.pct(50):9.1f} "
                f"{p99:9.1f}  {verdict}{note}"
            )
        missed = [r for r in results if r.pct(99) >= TARGET_MS]
        if missed:
            out.append("")
            out.append("where the time goes (the warm-up run, step by step)")
            for r in missed:
                out.append(f"  {r.database}: {r.query} ({1000 * r.first:,.0f} ms)")
                out += r.steps
            for t in targets:
                out.append(f"  {t.name}: query plans of the metrics' reads (one day)")
                midnight = datetime(today.year, today.month, today.day, tzinfo=settings.tz)
                out += plans(t.engine, midnight, midnight + timedelta(days=1))

    out.append("")
    out.append(f"wall      {time.perf_counter() - wall:.1f} s for the whole run")
    if problems:
        out.append(f"FAILED: {len(problems)} check(s) failed")
        out += [f"  ! {p}" for p in problems]
    print("\n".join(out), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
