"""Benchmark: N concurrent SIP callers walk the IVR menu; FastAGI round trips and CPU per call.

Run from the repository root::

    .venv/bin/python -m bench.ivr_bench [--callers 20] [--calls 60] [--baseline-calls 10]

Everything is real: a private Asterisk, the service in this process, pjsua2 callers in worker
processes (the wheel allows 4 call legs per process). Three timed phases, in one run:

a. ``--baseline-calls`` menu calls, one at a time: the FastAGI round-trip baseline;
b. ``--baseline-calls`` calls to a number without a menu, up to N at a time: the CPU baseline;
c. ``--calls`` menu calls, N at a time: round trips and CPU per call under load.

A menu call presses 9 (English) at "welcome" and 1 at "kind", waits until it is queued to
"english", then hangs up. Exit status 1 when any call missed its queue or IVR path.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bench.private_pbx import private_pbx
from hotline.app.pbx import embedded_pbx
from hotline.app.service import Service
from hotline.app.settings import Settings, parse_settings, resolve_secrets
from ivr.app import IvrApp
from telephony.sip.errors import SipError
from telephony.sip.pool import LEGS_PER_WORKER, PhonePool, Track
from telephony.tracker import CallRecord, CallUpdate, UpdateKind
from testkit.support import free_port

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL = 0.025  # seconds between looks at the menu walks (the brief allows 20-50 ms)
ANSWER_TIMEOUT = 15.0
STEP_TIMEOUT = 30.0  # reaching a menu node, or the queue, under load
END_TIMEOUT = 15.0
SET_VARIABLE = "SET VARIABLE"


@dataclass(frozen=True)
class Route:
    """A number to dial, the keys to press on the way, and the call record expected."""

    label: str
    number: str
    keys: tuple[tuple[str, int, str], ...]  # (node, len(path) there, key)
    queue: str
    path: tuple[str, ...]
    ivr: str

    def problem(self, rec: CallRecord) -> str | None:
        got = {
            "queue": rec.queue,
            "ivr_path": list(rec.ivr_path),
            "ivr": rec.ivr,
            "disposition": rec.disposition,
        }
        want = {
            "queue": self.queue,
            "ivr_path": list(self.path),
            "ivr": self.ivr,
            # The caller hangs up while queued (the only agent never registers).
            "disposition": "abandoned",
        }
        bad = {k: v for k, v in got.items() if v != want[k]}
        if not bad:
            return None
        return "; ".join(f"{k} {got[k]!r}, want {want[k]!r}" for k in bad)


MENU = Route(
    "menu",
    "12345",
    (("welcome", 0, "9"), ("kind", 1, "1")),
    "english",
    ("welcome:9", "kind:1"),
    "done",
)
PLAIN = Route("no menu", "12399", (), "operator", (), "none")


class CallProblem(Exception):
    """A call did not get where it should, and why."""


@dataclass(frozen=True)
class Outcome:
    number: str
    problem: str | None
    to_queue: float | None = None  # seconds from dialling to the queue join being recorded


@dataclass(frozen=True)
class Phase:
    name: str
    calls: int
    concurrency: int
    outcomes: list[Outcome]
    wall: float
    cpu: float  # process_time delta of this process
    poll_cpu: float  # of which the bench's menu poller
    asterisk_cpu: float | None
    round_trips: dict[str, list[float]]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem is not None]

    def per_call(self, seconds: float | None) -> float | None:
        return None if seconds is None or not self.calls else seconds / self.calls

    @property
    def all_rt(self) -> list[float]:
        return sorted(s for samples in self.round_trips.values() for s in samples)

    @property
    def set_rt(self) -> list[float]:
        return sorted(self.round_trips.get(SET_VARIABLE, []))

    @property
    def to_queue(self) -> list[float]:
        return sorted(o.to_queue for o in self.outcomes if o.to_queue is not None)


class WalkWatch:
    """One poller for every caller's menu walk.

    The walk state has no notification, so it must be polled; one pass over the active walks
    per tick is O(callers), where one ``IvrApp.find`` loop per caller would be O(callers²).
    It runs in the service's process, so its CPU is measured to be reported apart.
    """

    def __init__(self, app: IvrApp) -> None:
        self._app = app
        self._wanted: dict[str, tuple[str, int, asyncio.Future[None]]] = {}
        self.cpu = 0.0

    def at(self, number: str, node: str, depth: int) -> asyncio.Future[None]:
        """Done once ``number``'s walk is at ``node`` with ``depth`` steps behind, listening."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wanted[number] = (node, depth, fut)
        return fut

    def forget(self, number: str) -> None:
        self._wanted.pop(number, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            if not self._wanted:
                continue
            started = time.thread_time()
            for state in list(self._app.active.values()):
                want = self._wanted.get(state.caller_number)
                if want is None:
                    continue
                node, depth, fut = want
                if state.node == node and state.listening and len(state.path) == depth:
                    del self._wanted[state.caller_number]
                    if not fut.done():
                        fut.set_result(None)
            self.cpu += time.thread_time() - started


class RecordWatch:
    """Queue joins and call ends as the recorder stores them (event-driven, no polling)."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[asyncio.Future[CallRecord], asyncio.Future[CallRecord]]] = {}

    def expect(self, number: str) -> tuple[asyncio.Future[CallRecord], asyncio.Future[CallRecord]]:
        loop = asyncio.get_running_loop()
        futs: tuple[asyncio.Future[CallRecord], asyncio.Future[CallRecord]] = (
            loop.create_future(),
            loop.create_future(),
        )
        self._waiting[number] = futs
        return futs

    def forget(self, number: str) -> None:
        self._waiting.pop(number, None)

    def on_update(self, update: CallUpdate) -> None:
        # Called inside the recorder's task: it must never raise.
        futs = self._waiting.get(update.record.caller_number)
        if futs is None:
            return
        queued, ended = futs
        if update.kind is UpdateKind.QUEUED and not queued.done():
            queued.set_result(update.record)
        elif update.kind is UpdateKind.ENDED and not ended.done():
            ended.set_result(update.record)


async def settle(fut: asyncio.Future[T], track: Track, timeout: float, what: str) -> T:
    """``fut``'s result, unless the call ends first or ``timeout`` passes."""
    either: set[asyncio.Future[Any]] = {fut, track.ended}
    done, _ = await asyncio.wait(either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if fut in done:
        return fut.result()
    if track.ended in done:
        raise CallProblem(f"the call ended before {what}")
    raise CallProblem(f"no {what} within {timeout:g} s")


async def within(aw: Awaitable[T], timeout: float, what: str) -> T:
    try:
        return await asyncio.wait_for(aw, timeout)
    except TimeoutError:
        raise CallProblem(f"no {what} within {timeout:g} s") from None


class Bench:
    def __init__(
        self,
        service: Service,
        pool: PhonePool,
        walks: WalkWatch,
        records: RecordWatch,
        asterisk_pid: int | None,
    ) -> None:
        self._service = service
        self._pool = pool
        self._walks = walks
        self._records = records
        self._asterisk_pid = asterisk_pid
        self._numbers = itertools.count(13900000001)
        # PhonePool.call is not safe to run concurrently while it starts a worker (a second
        # caller can pick the worker before its process exists); placing calls one at a time
        # costs microseconds, as workers are started during the warm-up.
        self._placing = asyncio.Lock()
        emb = service.settings.pbx.embedded
        self._sip = f"{emb.bind}:{emb.sip_port}"

    async def call(self, route: Route) -> Outcome:
        number = str(next(self._numbers))
        queued, ended = self._records.expect(number)
        started = time.perf_counter()
        track: Track | None = None
        try:
            async with self._placing:
                track = await self._pool.call(number, f"sip:{route.number}@{self._sip}")
            if track is None:
                raise CallProblem("phone pool at capacity (no free call leg)")
            await settle(track.answered, track, ANSWER_TIMEOUT, "answer")
            for node, depth, key in route.keys:
                where = self._walks.at(number, node, depth)
                await settle(where, track, STEP_TIMEOUT, f"menu node {node!r} (step {depth})")
                self._pool.send_dtmf(track, key)
            await settle(queued, track, STEP_TIMEOUT, "queue join")
            to_queue = time.perf_counter() - started
            self._pool.hangup(track)
            await within(asyncio.shield(track.ended), END_TIMEOUT, "end after hang-up")
            rec = await within(asyncio.shield(ended), END_TIMEOUT, "ended call record")
        except (CallProblem, SipError) as exc:
            if track is not None:
                self._pool.hangup(track)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(track.ended), END_TIMEOUT)
            return Outcome(number, f"{number} -> {route.number} ({route.label}): {exc}")
        finally:
            self._walks.forget(number)
            self._records.forget(number)
        problem = route.problem(rec)
        if problem is not None:
            problem = f"{number} -> {route.number} ({route.label}): {problem}"
        return Outcome(number, problem, to_queue)

    async def calls(self, route: Route, count: int, concurrency: int) -> list[Outcome]:
        slots = asyncio.Semaphore(concurrency)

        async def one() -> Outcome:
            async with slots:
                return await self.call(route)

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def phase(self, name: str, route: Route, count: int, concurrency: int) -> Phase:
        stats = self._service.ivr.server.stats
        marks = dict(stats.timed)
        poll0, ast0 = self._walks.cpu, proc_cpu(self._asterisk_pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcomes = await self.calls(route, count, concurrency)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        ast1 = proc_cpu(self._asterisk_pid)
        # Every call's AGI session has ended before it is queued, so these are this phase's.
        samples = stats.since(marks)
        return Phase(
            name,
            count,
            concurrency,
            outcomes,
            wall,
            cpu,
            self._walks.cpu - poll0,
            None if ast0 is None or ast1 is None else ast1 - ast0,
            {v: s for v, s in samples.items() if s},
        )


def proc_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system, all threads) used so far by process ``pid``."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_settings(workdir: Path) -> Settings:
    """As tests/integration/conftest.py builds them: free ports, runtime files under ``workdir``."""
    data = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    ivr = {**data["ivr"], "prompts_dir": str(workdir / "prompts")}
    return parse_settings(
        {
            "service_number": MENU.number,
            "pbx": private_pbx(
                workdir,
                # Agents that never register: callers stay in the queue until they hang up.
                agents=[
                    {"extension": "2003", "name": "Operator Seat"},
                    {"extension": "2005", "name": "English Seat"},
                ],
                queues=[
                    {"name": "operator", "members": ["2003"], "language": "zh"},
                    {"name": "english", "members": ["2005"], "language": "en"},
                ],
                inbound=[
                    {"number": MENU.number, "queue": "operator", "menu": "main"},
                    {"number": PLAIN.number, "queue": "operator"},
                ],
            ),
            "ivr": ivr,
            "database": {"url": f"sqlite:///{workdir / 'hotline.db'}"},
            "listen": {"api_port": free_port(), "agi_port": free_port()},
        },
        "bench settings",
    )


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cpuinfo_processors: int
    cpu_count: int | None
    ram_gib: float | None
    python: str
    asterisk: str


def machine(asterisk_binary: Path) -> Machine:
    model, processors = "unknown", 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "processor":
                processors += 1
            elif key.strip() == "model name" and model == "unknown":
                model = value.strip()
    ram = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024**2  # kB → GiB
    try:
        out = subprocess.run(
            [str(asterisk_binary), "-V"], capture_output=True, text=True, timeout=10, check=True
        )
        asterisk = out.stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        asterisk = f"unknown ({exc})"
    return Machine(model, processors, os.cpu_count(), ram, platform.python_version(), asterisk)


@dataclass(frozen=True)
class Run:
    machine: Machine
    callers: int
    workers: int
    startup: float
    warmup: list[Outcome]
    warmup_wall: float
    phases: list[Phase]
    wall: float
    agi: dict[str, int]


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run(args: argparse.Namespace, settings: Settings, info: Machine) -> Run:
    begun = time.perf_counter()
    secrets = resolve_secrets(settings, env={})
    callers: int = args.callers
    # One spare worker: a worker's call legs are counted free on "ended", a moment before
    # pjsua has released them.
    workers = math.ceil(callers / LEGS_PER_WORKER) + 1
    # Built before the PBX starts (database migrated, prompts made), as `hotline run` does.
    service = await Service.build(settings, secrets)
    async with contextlib.AsyncExitStack() as stack:
        pbx = await stack.enter_async_context(embedded_pbx(settings, secrets))
        stack.push_async_callback(_cancel, asyncio.create_task(service.run(), name="service"))
        await asyncio.wait_for(service.ami.connected.wait(), 15)
        await asyncio.wait_for(service.ivr.server.listening.wait(), 15)
        pool = PhonePool(max_workers=workers)
        stack.push_async_callback(pool.close)
        records = RecordWatch()
        service.calls.recorder.subscribe(records.on_update)
        stack.callback(service.calls.recorder.unsubscribe, records.on_update)
        walks = WalkWatch(service.ivr.app)
        stack.push_async_callback(_cancel, asyncio.create_task(walks.run(), name="walks"))
        bench = Bench(service, pool, walks, records, pbx.pid)
        startup = time.perf_counter() - begun

        # Warm-up, not timed: N calls at once start every SIP worker; one menu call warms the
        # IVR path (prompt files, AGI connection set-up) in Asterisk and in the service.
        warm0 = time.perf_counter()
        warmup = await bench.calls(PLAIN, callers, callers)
        warmup += await bench.calls(MENU, 1, 1)
        warmup_wall = time.perf_counter() - warm0

        phases = [
            await bench.phase("a  menu, one caller", MENU, args.baseline_calls, 1),
            await bench.phase(
                f"b  no menu ({PLAIN.number})",
                PLAIN,
                args.baseline_calls,
                min(callers, args.baseline_calls),
            ),
            await bench.phase("c  menu, N callers", MENU, args.calls, callers),
        ]
        stats = service.ivr.server.stats
        agi = {
            "sessions": stats.sessions,
            "completed": stats.completed,
            "hangups": stats.hangups,
            "failed": stats.failed,
            "bad_requests": stats.bad_requests,
            "rejected": stats.rejected,
        }
    return Run(
        info,
        callers,
        workers,
        startup,
        warmup,
        warmup_wall,
        phases,
        time.perf_counter() - begun,
        agi,
    )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted samples (None when there are none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value * scale, spec)


def ratio(load: float | None, base: float | None) -> str:
    return "-" if load is None or not base else f"{load / base:.2f}x"


def report(r: Run) -> str:
    m = r.machine
    a, b, c = r.phases
    ram = f"{m.ram_gib:.1f} GiB" if m.ram_gib is not None else "unknown"
    timed = sum(p.wall for p in r.phases)
    lines = [
        "hotline IVR benchmark (bench/ivr_bench.py)",
        f"machine   {m.cpu_model}; {m.cpuinfo_processors} processor(s) in /proc/cpuinfo, "
        f"os.cpu_count() {m.cpu_count}; RAM {ram}",
        f"software  Python {m.python}; {m.asterisk}",
        f"load      N={r.callers} concurrent callers in {r.workers} SIP worker process(es); "
        f"calls: a {a.calls}, b {b.calls}, c {c.calls} (+ {len(r.warmup)} warm-up, untimed)",
        f"wall      {r.wall:.1f} s in all: start-up {r.startup:.1f} s, "
        f"warm-up {r.warmup_wall:.1f} s, phases {timed:.1f} s",
        "",
    ]
    head = (
        f"{'phase':<26}{'calls':>6}{'fail':>5}{'conc':>5}{'wall s':>8}{'svc CPU s':>10}"
        f"{'svc s/call':>11}{'ast s/call':>11}{'queued p50 s':>13}"
        f"{'AGI RT n':>9}{'p50 ms':>8}{'p99 ms':>8}"
    )
    lines += [head, "-" * len(head)]
    for p in r.phases:
        rt = p.all_rt
        lines.append(
            f"{p.name:<26}{p.calls:>6}{len(p.failures):>5}{p.concurrency:>5}{p.wall:>8.2f}"
            f"{p.cpu:>10.3f}{fmt(p.per_call(p.cpu), '.4f'):>11}"
            f"{fmt(p.per_call(p.asterisk_cpu), '.4f'):>11}"
            f"{fmt(percentile(p.to_queue, 50), '.2f'):>13}"
            f"{len(rt):>9}{fmt(percentile(rt, 50), '.3f', 1e3):>8}"
            f"{fmt(percentile(rt, 99), '.3f', 1e3):>8}"
        )
    rows: list[tuple[str, float | None, float | None]] = []
    for label, base, load in (
        ("all non-waiting verbs", a.all_rt, c.all_rt),
        (SET_VARIABLE, a.set_rt, c.set_rt),
    ):
        for q in (50, 99):
            rows.append((f"AGI RT p{q} ms, {label}", percentile(base, q), percentile(load, q)))
    lines += [
        "",
        f"{'':<38}{'baseline':>12}{'under load':>12}{'load/base':>11}",
        f"{'':<38}{'(a: 1 caller)':>12}{'(c: N)':>12}",
    ]
    for label, base_v, load_v in rows:
        lines.append(
            f"{label:<38}{fmt(base_v, '.3f', 1e3):>12}{fmt(load_v, '.3f', 1e3):>12}"
            f"{ratio(load_v, base_v):>11}"
        )
    # Where SET VARIABLE is the only verb timed, its rows equal the all-verbs rows.
    counts: dict[str, int] = {}
    for p in (a, c):
        for verb, samples in p.round_trips.items():
            counts[verb] = counts.get(verb, 0) + len(samples)
    verbs = ", ".join(f"{v} ({n})" for v, n in sorted(counts.items())) or "none"
    base_cpu, load_cpu = b.per_call(b.cpu), c.per_call(c.cpu)
    base_ast, load_ast = b.per_call(b.asterisk_cpu), c.per_call(c.asterisk_cpu)
    lines += [
        f"{'':<38}{'(b: no IVR)':>12}{'(c: IVR)':>12}",
        f"{'service CPU s/call':<38}{fmt(base_cpu, '.4f'):>12}{fmt(load_cpu, '.4f'):>12}"
        f"{ratio(load_cpu, base_cpu):>11}",
        f"{'Asterisk CPU s/call (for reference)':<38}{fmt(base_ast, '.4f'):>12}"
        f"{fmt(load_ast, '.4f'):>12}{ratio(load_ast, base_ast):>11}",
        "",
        "AgiStats (whole run, warm-up included): "
        + "  ".join(f"{k} {v}" for k, v in r.agi.items()),
        "",
        "notes: svc CPU = time.process_time() delta of this process over the phase, divided by",
        "  its calls: the service (all its threads) plus the bench driver; Asterisk and the SIP",
        "  callers are other processes. Of it, the bench's menu poller took "
        f"{fmt(c.per_call(c.poll_cpu), '.5f')} s/call in c.",
        "  ast = the private Asterisk's user+system CPU from /proc. AGI RT = FastAGI commands",
        "  that do not wait on the caller (per AgiStats), nearest-rank percentiles; verbs timed",
        f"  in a and c: {verbs}. queued = dialling to the queue join being stored.",
    ]
    failures = [o for o in r.warmup if o.problem] + [f for p in r.phases for f in p.failures]
    total = len(r.warmup) + sum(p.calls for p in r.phases)
    lines.append("")
    if failures:
        lines.append(
            f"FAILED: {len(failures)} of {total} calls did not reach the expected queue "
            "with the expected IVR path:"
        )
        lines += [f"  {o.problem}" for o in failures[:30]]
        if len(failures) > 30:
            lines.append(f"  ... and {len(failures) - 30} more")
    else:
        lines.append(f"result: all {total} calls reached the expected queue and IVR path")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ivr_bench", description=__doc__)
    parser.add_argument("--callers", type=int, default=20, help="concurrent callers (N)")
    parser.add_argument("--calls", type=int, default=60, help="menu calls under load")
    parser.add_argument(
        "--baseline-calls", type=int, default=10, help="calls in each baseline phase"
    )
    args = parser.parse_args(argv)
    for name in ("callers", "calls", "baseline_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Short path: Asterisk's control socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="ivrbench-") as tmp:
        settings = bench_settings(Path(tmp))
        info = machine(settings.pbx.embedded.asterisk_binary)
        result = asyncio.run(run(args, settings, info))
    print(report(result), flush=True)
    failed = len([o for o in result.warmup if o.problem]) + sum(
        len(p.failures) for p in result.phases
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
