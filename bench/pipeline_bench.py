"""Benchmark: throughput of the call pipeline, against panoramisk's own parse-only ceiling.

Run from the repository root::

    .venv/bin/python -m bench.pipeline_bench [--events 1000000] [--skip-postgres]

The stream is built from the real AMI streams recorded from the test Asterisk
(``tests/data/*.ami``): copy after copy of each scenario, every copy renumbered (fresh
``Uniqueid``/``Linkedid``/``DestUniqueid``/``DestLinkedid``, channel names, bridge ids and caller
numbers, also where they appear inside values such as ``BRIDGEPEER`` or recording paths) and
shifted in time (``Timestamp`` and the dialplan's time stamps). Copies start at random (Poisson)
instants, so several calls are in progress at once and their events interleave by time. The
whole stream is serialised to raw AMI bytes once, in memory.

Measured in one run, on the same bytes, fed in 256 KiB reads (each followed by one turn of the
event loop, as a socket read would be):

* **ceiling**: panoramisk alone: ``AMIProtocol.data_received`` → ``Message.from_line`` →
  ``Manager.dispatch`` to a callback that only counts (wired as the service wired it while it
  parsed AMI with panoramisk; kept as the fixed baseline of every figure). Measured before and
  after the end-to-end runs; the faster is the ceiling.
* **parser**: the service's own parsing alone, measured the same way: ``AmiLink.data_received``
  (``telephony.ami.connection``) → ``AmiProtocol`` (``telephony.ami.protocol``) → the link's
  dispatch to a callback that only counts.
* **end to end**, once into SQLite (WAL, a temporary file) and once into a private PostgreSQL:
  the same ``AmiLink`` parsing and dispatch (as ``AmiConnection`` receives) →
  ``CallFeed.on_event`` (``CallTracker.feed`` → ``CallWriter.submit``) with the recorder
  running as an asyncio task writing batches through ``CallStore.save_many``, from the first
  byte until ``drain()`` says the last record is stored. Afterwards every call of the stream
  must be an ended record in the database, and sampled records must equal their scenario's
  ``tests/data/<scenario>.expected.json`` record shifted in time.

Finally a shorter SQLite run under cProfile (both the event-loop thread and the writer thread)
shows where the time goes. Exit status 1 when a check fails.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import heapq
import itertools
import json
import logging
import os
import platform
import pstats
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from sqlalchemy import Engine, func, select

from hotline.calls.feed import CallFeed
from hotline.calls.store import CallStore
from hotline.calls.writer import CallWriter
from hotline.db.engine import make_engine, migrate
from hotline.db.models import CallRow
from telephony.ami.connection import AmiLink
from telephony.ami.events import AmiEvent
from telephony.tracker import CallRecord, CallTracker
from testkit.postgres_server import postgres_version, private_postgres

log = logging.getLogger("bench.pipeline")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EOL = "\r\n"
# Bytes per data_received: asyncio's socket transport reads up to 256 KiB at a time, which is
# what it gets when the PBX sends faster than the service parses (the case measured here).
READ_SIZE = 256 * 1024
MEAN_GAP = 0.25  # seconds of PBX time between call starts (Poisson): ~15 calls at once
SEED = 12345
TARGET_RATIO = 0.5  # the target: end to end >= 50 % of the parse-only ceiling
FLOAT_TOLERANCE = 1e-6  # as tests/unit/test_recorded_streams.py

ID_KEYS = frozenset({"Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid"})
CHANNEL_KEYS = frozenset({"Channel", "DestChannel"})
NUMBER_KEYS = frozenset(
    {"CallerIDNum", "ConnectedLineNum", "DestCallerIDNum", "DestConnectedLineNum"}
)
CHANNEL_RE = re.compile(r"(?P<prefix>.+-)[0-9a-f]{8}")  # PJSIP/trunk-0000000a
MOBILE_RE = re.compile(r"1[3-9]\d{9}")  # a caller's mobile number
TIME_RE = re.compile(r"(?P<s>\d{10})\.(?P<us>\d{6})")  # PBX time stamps, to the microsecond
# Fields compared against the live record (times after the shift, durations as they are).
CHECKED_FIELDS = (
    "disposition",
    "queue",
    "agent",
    "agent_name",
    "talk_time",
    "queue_wait",
    "ring_time",
    "ended_by",
    "ivr",
    "ivr_path",
    "language",
    "request_kind",
    "started_at",
    "answered_at",
    "ended_at",
    "queue_joined_at",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIME_FIELDS = frozenset({"started_at", "answered_at", "ended_at", "queue_joined_at"})


# -- the stream -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """A value to renumber in every copy: an id, a channel, a bridge, a number or a time."""

    kind: str  # uid | channel | bridge | number | time
    original: str
    prefix: str = ""  # channels: the name without its 8-hex-digit counter
    micros: int = 0  # times: POSIX microseconds


@dataclass(frozen=True)
class Scenario:
    """One recorded stream as templates: ``str.format`` fills in a copy's values."""

    name: str
    templates: tuple[tuple[int, str], ...]  # (slot index of the event's Timestamp, text)
    slots: tuple[Slot, ...]
    call_ids: tuple[str, ...]  # the original calls
    start_us: int
    expected: Mapping[str, Mapping[str, Any]]  # original call_id → live record (may be {})


def load_scenario(path: Path) -> Scenario:
    text = path.read_bytes().decode("utf-8")
    blocks = [b for b in text.split(EOL + EOL) if b.strip()]
    events = [[line.partition(": ") for line in b.split(EOL)] for b in blocks]
    slots: dict[str, Slot] = {}

    def add(slot: Slot) -> None:
        slots.setdefault(slot.original, slot)

    # What to renumber is learnt from the headers that name it.
    for event in events:
        for key, _, value in event:
            if key in ID_KEYS and value:
                add(Slot("uid", value))
            elif key in CHANNEL_KEYS and (m := CHANNEL_RE.fullmatch(value.split(";")[0])):
                add(Slot("channel", m.group(0), prefix=m.group("prefix")))
            elif key == "BridgeUniqueid" and value:
                add(Slot("bridge", value))
            elif key in NUMBER_KEYS and MOBILE_RE.fullmatch(value):
                add(Slot("number", value))
    for event in events:
        for _, _, value in event:
            if m := TIME_RE.fullmatch(value):
                add(Slot("time", value, micros=int(m.group("s")) * 1_000_000 + int(m.group("us"))))
    ordered = tuple(slots.values())
    index = {s.original: i for i, s in enumerate(ordered)}
    # Longest first, bounded, so 1795237757.1 never matches inside 1795237757.10.
    tokens = sorted((s.original for s in ordered if s.kind != "time"), key=len, reverse=True)
    token_re = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, tokens)) + r")(?!\w)")

    def template(value: str) -> str:
        if value in index and ordered[index[value]].kind == "time":
            return f"{{{index[value]}}}"
        escaped = value.replace("{", "{{").replace("}", "}}")
        return token_re.sub(lambda m: f"{{{index[m.group(0)]}}}", escaped)

    templates = []
    for event in events:
        at = next(index[v] for k, _, v in event if k == "Timestamp")
        lines = [f"{k}{sep}{template(v)}" if sep else k for k, sep, v in event]
        templates.append((at, EOL.join(lines) + EOL + EOL))
    call_ids = tuple(dict.fromkeys(v for e in events for k, _, v in e if k == "Linkedid"))
    expected_file = path.with_name(path.stem + ".expected.json")
    expected: dict[str, Mapping[str, Any]] = {}
    if expected_file.exists():
        for rec in json.loads(expected_file.read_text(encoding="utf-8"))["records"]:
            expected[rec["call_id"]] = rec
    start = min(s.micros for s in ordered if s.kind == "time")
    return Scenario(path.stem, tuple(templates), ordered, call_ids, start, expected)


@dataclass(frozen=True)
class Copy:
    """One renumbered copy of a scenario in the stream (kept for the checks)."""

    scenario: Scenario
    shift_us: int
    call_ids: Mapping[str, str]  # original → this copy's


@dataclass
class Stream:
    data: bytes
    events: int
    calls: int
    copies: list[Copy]
    first_at: float
    last_at: float
    build_seconds: float
    event_offsets: list[int] = field(default_factory=list)  # byte offset of every 10,000th event


def _fmt_time(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def build_stream(scenarios: Sequence[Scenario], min_events: int, mean_gap: float) -> Stream:
    """Whole copies, cycling through the scenarios, until at least ``min_events`` events."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    uid_seq = itertools.count(1)
    channel_seq = itertools.count(1)
    at_us = int(time.time()) * 1_000_000
    copies: list[Copy] = []
    sources: list[Iterator[tuple[int, int, str]]] = []
    events = 0
    for n, scenario in enumerate(itertools.cycle(scenarios)):
        if events >= min_events:
            break
        at_us += int(rng.expovariate(1.0 / mean_gap) * 1_000_000)
        shift = at_us - scenario.start_us
        values: list[str] = []
        for slot in scenario.slots:
            if slot.kind == "uid":  # Asterisk's form: <epoch>.<sequence>
                values.append(f"{at_us // 1_000_000}.{next(uid_seq)}")
            elif slot.kind == "channel":
                values.append(f"{slot.prefix}{next(channel_seq):08x}")
            elif slot.kind == "bridge":
                values.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            elif slot.kind == "number":
                values.append(f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}")
            else:
                values.append(_fmt_time(slot.micros + shift))
        renamed = {slot.original: values[i] for i, slot in enumerate(scenario.slots)}
        copies.append(Copy(scenario, shift, {lid: renamed[lid] for lid in scenario.call_ids}))
        sources.append(_events_of(n, scenario, shift, values))
        events += len(scenario.templates)
    # Interleave by PBX time; heapq.merge keeps each copy's own order even on equal times.
    parts: list[str] = []
    offsets: list[int] = []
    size = 0
    for i, (_, _, text) in enumerate(heapq.merge(*sources)):
        if i % 10_000 == 0:
            offsets.append(size)
        parts.append(text)
        size += len(text)  # the stream is ASCII: characters are bytes
    data = "".join(parts).encode("utf-8")
    if len(data) != size:
        raise RuntimeError("the AMI stream is not ASCII; event offsets would be wrong")
    first = min(c.shift_us + c.scenario.start_us for c in copies) / 1e6
    last = max(c.shift_us + max(s.micros for s in c.scenario.slots) for c in copies) / 1e6
    return Stream(
        data=data,
        events=events,
        calls=sum(len(c.scenario.call_ids) for c in copies),
        copies=copies,
        first_at=first,
        last_at=last,
        build_seconds=time.perf_counter() - started,
        event_offsets=offsets,
    )


def _events_of(
    n: int, scenario: Scenario, shift: int, values: list[str]
) -> Iterator[tuple[int, int, str]]:
    for at_slot, text in scenario.templates:
        yield scenario.slots[at_slot].micros + shift, n, text.format(*values)


# -- feeding the parsers --------------------------------------------------------------------------
class _NullTransport:
    """What AMIProtocol needs of a transport when nothing is ever sent back."""

    def write(self, data: bytes) -> None:
        raise RuntimeError("the benchmark sends no actions")

    def close(self) -> None:
        return None


def panoramisk_protocol(callback: Callable[[Any, Any], None]) -> AMIProtocol:
    """An AMIProtocol wired to a panoramisk Manager as the service's ``_Transport.open`` wired
    it (before ``telephony.ami.protocol``): the baseline, unchanged."""
    manager = Manager(encoding="utf8")
    manager.register_event("*", callback)
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    protocol.queue = deque()
    protocol.factory = manager
    protocol.log = manager.log
    protocol.config = manager.config
    protocol.encoding = manager.encoding = manager.config["encoding"]
    manager.responses = protocol.responses = {}
    manager.protocol = protocol
    return protocol


async def feed(
    protocol: asyncio.Protocol, data: bytes, after_read: Callable[[], None] | None = None
) -> None:
    view = memoryview(data)
    for start in range(0, len(data), READ_SIZE):
        protocol.data_received(bytes(view[start : start + READ_SIZE]))
        if after_read is not None:
            after_read()
        # A socket read returns to the event loop; so does this (the recorder runs here).
        await asyncio.sleep(0)


@dataclass(frozen=True)
class Timing:
    events: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def measure_ceiling(data: bytes) -> Timing:
    count = 0

    def counted(_manager: object, _message: object) -> None:
        nonlocal count
        count += 1

    protocol = panoramisk_protocol(counted)
    cpu, t0 = time.process_time(), time.perf_counter()
    await feed(protocol, data)
    return Timing(count, time.perf_counter() - t0, time.process_time() - cpu)


async def measure_parser(data: bytes) -> Timing:
    """The service's own parse + dispatch alone (``AmiLink``), as ``measure_ceiling``."""
    count = 0

    def counted(_event: AmiEvent) -> None:
        nonlocal count
        count += 1

    link = AmiLink(counted)
    cpu, t0 = time.process_time(), time.perf_counter()
    await feed(link, data)
    return Timing(count, time.perf_counter() - t0, time.process_time() - cpu)


class TimedStore(CallStore):
    """The real store, plus how long the writer spends in it (one writer thread at a time)."""

    def __init__(self, engine: Engine, profile: cProfile.Profile | None = None) -> None:
        super().__init__(engine)
        self.busy = 0.0  # wall time in save_many, waiting for the GIL included
        self.cpu = 0.0  # CPU time of the writer thread in save_many
        self.batches = 0
        self.records = 0
        self.largest = 0
        self._profile = profile

    def save_many(self, records: list[CallRecord]) -> None:
        t0, cpu = time.perf_counter(), time.thread_time()
        if self._profile is not None:
            with self._profile:
                super().save_many(records)
        else:
            super().save_many(records)
        self.busy += time.perf_counter() - t0
        self.cpu += time.thread_time() - cpu
        self.batches += 1
        self.records += len(records)
        self.largest = max(self.largest, len(records))


@dataclass(frozen=True)
class EndToEnd:
    database: str
    timing: Timing
    fed_seconds: float  # until the last byte was parsed
    writer_busy: float
    writer_cpu: float
    batches: int
    updates: int
    largest_batch: int
    max_backlog: int  # updates waiting for the writer, largest seen between reads
    ended_rows: int
    rows: int
    problems: list[str]


async def run_end_to_end(
    stream: Stream,
    url: str,
    label: str,
    *,
    data: bytes | None = None,
    main_profile: cProfile.Profile | None = None,
    writer_profile: cProfile.Profile | None = None,
) -> EndToEnd:
    """The pipeline as the service wires it (``Service.build``), minus the PBX socket."""
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    try:
        store = TimedStore(engine, writer_profile)
        recorder = CallWriter(store)
        records = CallFeed(CallTracker(), recorder)
        count = 0

        def on_event(event: AmiEvent) -> None:
            # AmiLink logs a handler's exception and goes on, as for the service.
            nonlocal count
            count += 1
            records.on_event(event)

        backlog = 0

        def sample_backlog() -> None:
            nonlocal backlog
            backlog = max(backlog, recorder.pending)

        protocol = AmiLink(on_event)
        writer = asyncio.create_task(recorder.run(), name="recorder")
        try:
            if main_profile is not None:
                main_profile.enable()
            cpu, t0 = time.process_time(), time.perf_counter()
            await feed(protocol, stream.data if data is None else data, sample_backlog)
            fed = time.perf_counter() - t0
            await recorder.drain()
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - cpu
            if main_profile is not None:
                main_profile.disable()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        ended, rows = await asyncio.to_thread(_count_rows, engine)
        problems: list[str] = []
        if data is None:  # the whole stream: check it all arrived
            problems = await asyncio.to_thread(check_records, engine, stream, count, ended, rows)
        return EndToEnd(
            label,
            Timing(count, seconds, cpu),
            fed,
            store.busy,
            store.cpu,
            store.batches,
            store.records,
            store.largest,
            backlog,
            ended,
            rows,
            problems,
        )
    finally:
        engine.dispose()


def _count_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        ended = conn.scalar(
            select(func.count()).select_from(CallRow).where(CallRow.ended_at.is_not(None))
        )
        rows = conn.scalar(select(func.count()).select_from(CallRow))
    return int(ended or 0), int(rows or 0)


def check_records(engine: Engine, stream: Stream, events: int, ended: int, rows: int) -> list[str]:
    """No event lost: all calls ended and stored; sampled records equal the live ones."""
    problems = []
    if events != stream.events:
        problems.append(f"{events} events dispatched, {stream.events} in the stream")
    if ended != stream.calls or rows != stream.calls:
        problems.append(f"{stream.calls} calls in the stream, {rows} rows, {ended} ended")
    # The first, middle and last copy of each scenario with a live record.
    by_scenario: dict[str, list[Copy]] = {}
    for c in stream.copies:
        if c.scenario.expected:
            by_scenario.setdefault(c.scenario.name, []).append(c)
    sample = [c for cs in by_scenario.values() for c in _first_middle_last(cs)]
    wanted = {new: (c, old) for c in sample for old, new in c.call_ids.items()}
    with engine.connect() as conn:
        found = {
            r.call_id: r for r in conn.execute(select(CallRow).where(CallRow.call_id.in_(wanted)))
        }
    for new, (c, old) in wanted.items():
        row = found.get(new)
        if row is None:
            problems.append(f"{c.scenario.name} {new}: not stored")
            continue
        live = c.scenario.expected[old]
        for name in CHECKED_FIELDS:
            want, have = live[name], getattr(row, name)
            if name in TIME_FIELDS and want is not None and have is not None:
                # In whole microseconds: PBX times carry six decimals, the store keeps them.
                want = round(want * 1_000_000) + c.shift_us
                have = (have - EPOCH) // timedelta(microseconds=1)
                same = abs(want - have) <= 1
            elif isinstance(want, int | float) and isinstance(have, int | float):
                same = abs(want - have) <= FLOAT_TOLERANCE
            else:
                same = want == have
            if not same:
                problems.append(f"{c.scenario.name} {new} {name}: live {want!r}, stored {have!r}")
    if not sample:
        problems.append("no scenario with an expected record was found")
    return problems


def _first_middle_last(copies: list[Copy]) -> list[Copy]:
    picked = {0: copies[0], len(copies) // 2: copies[len(copies) // 2], -1: copies[-1]}
    return list({id(c): c for c in picked.values()}.values())


# -- where the time goes --------------------------------------------------------------------------
def top_functions(profile: cProfile.Profile, limit: int) -> list[str]:
    stats = pstats.Stats(profile)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in table.values())
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]
    out = [f"    {'own s':>7} {'%':>5} {'incl. s':>8} {'calls':>9}  function"]
    for (file, line, name), (_, calls, own, incl, _) in rows:
        out.append(
            f"    {own:7.2f} {100 * own / total:5.1f} {incl:8.2f} {calls:9d}  "
            f"{_short(file)}:{line}({name})"
        )
    return out


def inclusive(profile: cProfile.Profile, names: Sequence[tuple[str, str]]) -> list[str]:
    """Inclusive time of chosen stages (file suffix, function), as a share of the thread."""
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(
        profile
    ).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in table.values())
    out = []
    for suffix, func_name in names:
        incl = sum(v[3] for k, v in table.items() if k[0].endswith(suffix) and k[2] == func_name)
        out.append(f"    {incl:7.2f} s {100 * incl / total:5.1f} %  {suffix}:{func_name}")
    return out


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


STAGES = (
    ("telephony/ami/connection.py", "data_received"),
    ("telephony/ami/protocol.py", "receive_data"),
    ("telephony/ami/protocol.py", "_parse"),
    ("telephony/ami/connection.py", "_deliver"),
    ("hotline/app/service.py", "on_event"),
    ("telephony/tracker.py", "feed"),
    ("telephony/tracker.py", "copy"),
    ("hotline/calls/writer.py", "submit"),
    ("hotline/calls/writer.py", "run"),
)
WRITER_STAGES = (
    ("hotline/calls/store.py", "save_many"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("sqlalchemy/orm/session.py", "flush"),
    ("hotline/calls/store.py", "_copy"),
    ("sqlalchemy/engine/base.py", "_execute_context"),
)


# -- the machine ----------------------------------------------------------------------------------
def machine_lines(postgres: bool) -> list[str]:
    """CPU, cores, RAM, Python, SQLite and (when used) PostgreSQL versions."""
    model, processors, ram = "unknown", 0, "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "processor":
                processors += 1
            elif key.strip() == "model name" and model == "unknown":
                model = value.strip()
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    software = f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}"
    if postgres:
        software += f"; {postgres_version()}"
    return [
        f"machine   {model}; {processors} processor(s) in /proc/cpuinfo, "
        f"os.cpu_count() {os.cpu_count()}; RAM {ram}",
        f"software  {software}",
        f"code      {code_version()}",
    ]


def code_version() -> str:
    """The commit measured, and which tracked files differ from it (others edit the tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in status]
    return f"commit {head or 'unknown'}" + (
        f" with uncommitted changes to {', '.join(changed)}" if changed else ""
    )


# -- the report -----------------------------------------------------------------------------------
def report_run(result: EndToEnd, ceiling: float) -> list[str]:
    t = result.timing
    ratio = t.rate / ceiling
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    mean_batch = result.updates / result.batches if result.batches else 0.0
    lines = [
        f"  {result.database:<10} {t.rate:10,.0f} events/s  {t.seconds:7.1f} s  "
        f"{100 * ratio:5.1f} % of the ceiling (target >= {100 * TARGET_RATIO:.0f} %: {verdict})",
        f"             last byte parsed after {result.fed_seconds:.1f} s, last record stored "
        f"{t.seconds - result.fed_seconds:.2f} s later; process CPU {t.cpu_seconds:.1f} s "
        f"({100 * t.cpu_seconds / t.seconds:.0f} % of one core)",
        f"             writer: {result.batches:,} batches, {result.updates:,} updates "
        f"(mean {mean_batch:.1f}, largest {result.largest_batch:,}); in save_many "
        f"{result.writer_busy:.1f} s ({result.writer_cpu:.1f} s CPU); up to "
        f"{result.max_backlog:,} updates waiting",
        f"             stored: {result.rows:,} rows, {result.ended_rows:,} ended; checks: "
        + ("ok" if not result.problems else f"{len(result.problems)} FAILED"),
    ]
    lines += [f"             ! {p}" for p in result.problems[:20]]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_bench", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="minimum stream length")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only (quick runs)")
    parser.add_argument(
        "--profile-events",
        type=int,
        default=200_000,
        help="events in the profiled SQLite run (0: no profile)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wall = time.perf_counter()
    out = machine_lines(postgres=not args.skip_postgres)

    scenarios = [load_scenario(p) for p in sorted(DATA.glob("*.ami"))]
    stream = build_stream(scenarios, args.events, MEAN_GAP)
    span = stream.last_at - stream.first_at
    out += [
        f"stream    {stream.events:,} events, {stream.calls:,} calls in {len(stream.copies):,} "
        f"renumbered copies of {len(scenarios)} recorded streams "
        f"({', '.join(s.name for s in scenarios)}); {len(stream.data) / 1e6:,.0f} MB of AMI; "
        f"{span / 3600:.2f} h of PBX time, a call every {MEAN_GAP} s on average; "
        f"built in {stream.build_seconds:.1f} s",
        f"feeding   {READ_SIZE // 1024} KiB per data_received, one event-loop turn after each",
    ]

    ceilings = [asyncio.run(measure_ceiling(stream.data))]
    parsers = [asyncio.run(measure_parser(stream.data))]
    runs: list[EndToEnd] = []
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        url = f"sqlite:///{tmp}/hotline.db"
        runs.append(asyncio.run(run_end_to_end(stream, url, "SQLite")))
    if not args.skip_postgres:
        with private_postgres() as pg:
            runs.append(asyncio.run(run_end_to_end(stream, pg.url, "PostgreSQL")))
    ceilings.append(asyncio.run(measure_ceiling(stream.data)))
    parsers.append(asyncio.run(measure_parser(stream.data)))

    problems = [p for r in runs for p in r.problems]
    problems += [
        f"{kind} run dispatched {c.events} events, the stream has {stream.events}"
        for kind, timings in (("ceiling", ceilings), ("parser", parsers))
        for c in timings
        if c.events != stream.events
    ]
    ceiling = max(c.rate for c in ceilings)
    parser_rate = max(c.rate for c in parsers)
    out.append("")
    out.append("results (events per second, first byte to last record stored)")
    out.append(
        f"  {'ceiling':<10} {ceiling:10,.0f} events/s  panoramisk parse + dispatch only "
        f"(runs: {', '.join(f'{c.rate:,.0f} in {c.seconds:.1f} s' for c in ceilings)})"
    )
    out.append(
        f"  {'parser':<10} {parser_rate:10,.0f} events/s  {100 * parser_rate / ceiling:5.1f} % "
        f"of the ceiling: AmiLink/AmiProtocol parse + dispatch only "
        f"(runs: {', '.join(f'{c.rate:,.0f} in {c.seconds:.1f} s' for c in parsers)})"
    )
    for r in runs:
        out += report_run(r, ceiling)

    if args.profile_events > 0:
        n = min(args.profile_events, stream.events)
        cut = stream.event_offsets[min(len(stream.event_offsets) - 1, n // 10_000)]
        cut = cut if cut > 0 else len(stream.data)
        # The writer's profile counts its CPU time: its wall time is mostly waiting for the GIL.
        main_profile, writer_profile = cProfile.Profile(), cProfile.Profile(time.thread_time)
        with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
            url = f"sqlite:///{tmp}/hotline.db"
            prof = asyncio.run(
                run_end_to_end(
                    stream,
                    url,
                    "SQLite",
                    data=stream.data[:cut],
                    main_profile=main_profile,
                    writer_profile=writer_profile,
                )
            )
        out.append("")
        out.append(
            f"where the time goes: SQLite, first {prof.timing.events:,} events under cProfile "
            f"({prof.timing.seconds:.1f} s with the profiler's overhead)"
        )
        out.append("  event-loop thread, inclusive time per stage:")
        out += inclusive(main_profile, STAGES)
        out.append("  event-loop thread, top functions by own time:")
        out += top_functions(main_profile, 15)
        out.append("  writer thread (CallStore.save_many in asyncio.to_thread), CPU time:")
        out += inclusive(writer_profile, WRITER_STAGES)
        out += top_functions(writer_profile, 8)

    out.append("")
    out.append(f"wall      {time.perf_counter() - wall:.1f} s for the whole run")
    if problems:
        out.append(f"FAILED: {len(problems)} check(s) failed")
    print("\n".join(out), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
