"""Benchmark: screen-pop latency at 50 agent pages under a stream of concurrent calls.

Run from the repository root::

    .venv/bin/python -m bench.pop_bench [--agents 50] [--calls 300] [--concurrency 20]
        [--rate 10] [--baseline-calls 20] [--talk 2.5]

Everything is real: a private Asterisk, the service built in this process, one skill queue
whose dynamic members are the agents logged in through ``AgentDesk.login``, SIP calls from
sipp, the agents' phones answering, and one WebSocket page per agent (``websockets`` clients
in a child process, as browsers would be, each signed in with its own agent's token).

- The agents' phones: one sipp UAS (``bench/sipp/agent_uas.xml``) answers for every agent.
  Each extension is registered with digest auth by ``bench/sipp/register.xml`` sent from the
  UAS's port (the PBX rewrites contacts to the source address), so every agent's INVITE
  reaches that UAS, which logs which extension took which caller: the ground truth the pops
  are checked against.
- The callers: sipp UACs (``bench/sipp/caller.xml``) dialling the queue's number, one unique
  caller number per call; the PBX answers, queues, an agent is connected, the caller hangs up
  after ``--talk`` s.

Timed phases, in one run (after a short untimed warm-up): a. ``--baseline-calls`` calls one
at a time (the baseline); b. ``--calls`` calls, up to ``--concurrency`` at once at up to
``--rate`` new calls a second. Per pop: AMI ``AgentConnect`` reaching the service
(``received_at``) → the pop arriving at the page, split into the service's build
(``sent_at`` - ``received_at``) and delivery (page - ``sent_at``). Every answered call must
give exactly one pop, at the page of the agent whose phone answered and nowhere else; exit
status 1 otherwise.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.ivr_bench import Machine, fmt, machine, percentile, proc_cpu, ratio
from bench.private_pbx import private_pbx
from hotline.app.pbx import embedded_pbx
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings, parse_settings, resolve_secrets
from hotline.core.auth import Principal
from telephony.processes import wait_or_kill
from testkit.support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
SIPP_DIR = Path(__file__).resolve().parent / "sipp"
SIPP = "sipp"
NUMBER = "12345"  # the hotline number; no menu: straight to the queue
QUEUE = "pop"
SKILL = "pop"
FIRST_EXTENSION = 2101
# Caller-number prefixes per phase (11-digit mobile numbers, unique per call).
WARMUP, BASELINE, LOAD = "1380", "1390", "1391"
TARGET_P99 = 0.050  # seconds (issue 6)
POP_WAIT = 10.0  # after a phase's last call, for pops still on their way
SIPP_TIMEOUT = 300.0  # a phase that takes longer has gone wrong


@dataclass(frozen=True)
class Received:
    """One message as an agent's page received it."""

    client: str  # the agent whose page (token) received it
    kind: str  # "pop", "draft", "done"
    agent_id: str  # the agent the pop names
    call_id: str
    number: str
    received_at: float  # the AgentConnect reached the service (epoch s)
    sent_at: float  # the service handed the pop to the page's queue
    got: float  # the page had it (epoch s, same clock: same machine)

    @property
    def total(self) -> float:
        return self.got - self.received_at

    @property
    def build(self) -> float:
        return self.sent_at - self.received_at

    @property
    def delivery(self) -> float:
        return self.got - self.sent_at


@dataclass
class Tally:
    """How the pops of one phase's calls compare with the phones' ground truth."""

    placed: int = 0
    answered: int = 0  # calls an agent's phone answered (the UAS log)
    unconnected: list[str] = field(default_factory=list)  # placed, never answered
    lost: list[str] = field(default_factory=list)  # answered, no pop at the right page
    duplicates: int = 0  # more than one pop of a call at the right page
    wrong: list[str] = field(default_factory=list)  # a pop at another agent's page
    samples: list[Received] = field(default_factory=list)  # the one right pop of each call

    @property
    def problems(self) -> int:
        return len(self.unconnected) + len(self.lost) + self.duplicates + len(self.wrong)


@dataclass(frozen=True)
class Phase:
    name: str
    calls: int
    concurrency: int
    rate: float
    wall: float
    sipp_rc: int | None
    cpu: float  # this process (service + bench driver) over the phase
    asterisk_cpu: float | None
    tally: Tally

    def series(self, what: str) -> list[float]:
        return sorted(getattr(s, what) for s in self.tally.samples)


# -- settings ------------------------------------------------------------------------------------
def extensions(agents: int) -> list[str]:
    return [str(FIRST_EXTENSION + i) for i in range(agents)]


def agent_id(ext: str) -> str:
    return f"pop{ext}"


def bench_settings(workdir: Path, agents: int) -> Settings:
    """Free loopback ports, runtime files under ``workdir``, the shipped ticket taxonomy,
    caller rules and knowledge base (the pop looks up history and suggests articles)."""
    shipped = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    return parse_settings(
        {
            "service_number": NUMBER,
            "pbx": private_pbx(
                workdir,
                agents=[{"extension": e, "name": f"Seat {e}"} for e in extensions(agents)],
                # Members join by skill at log-in; no wrap-up, so agents take the next call at
                # once and the queue never runs dry under load.
                queues=[{"name": QUEUE, "skill": SKILL, "language": "zh", "wrapup": 0}],
                inbound=[{"number": NUMBER, "queue": QUEUE}],
            ),
            # No menu (the IVR is another benchmark's subject): no prompts to synthesise.
            "ivr": {"languages": shipped["ivr"]["languages"], "prompts_dir": str(workdir / "p")},
            "tickets": shipped["tickets"],
            "callers": shipped["callers"],
            "kb": {"seed_file": str(ROOT / "config" / "kb.yaml")},
            "database": {"url": f"sqlite:///{workdir / 'hotline.db'}"},
            "listen": {"api_port": free_port(), "agi_port": free_port()},
        },
        "bench settings",
    )


# -- sipp ----------------------------------------------------------------------------------------
class Sipp:
    """One sipp process; its screen and errors go to files in ``workdir``."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.name = name
        self._args = args
        self._workdir = workdir
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def errors(self) -> Path:
        return self._workdir / f"{self.name}.errors.log"

    @property
    def log(self) -> Path:
        return self._workdir / f"{self.name}.log"

    async def start(self) -> None:
        with open(self._workdir / f"{self.name}.out", "wb") as out:  # noqa: ASYNC230 - local
            self._proc = await asyncio.create_subprocess_exec(
                SIPP,
                *self._args,
                "-nostdin",
                "-trace_err",
                "-error_file",
                str(self.errors),
                "-trace_logs",
                "-log_file",
                str(self.log),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            return await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise

    async def stop(self) -> None:
        """SIGUSR1 asks sipp to quit once its calls are over; then terminate, then kill."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGUSR1)
        await wait_or_kill(proc, 5, f"sipp {self.name}")

    def tail(self) -> str:
        """The last lines of its errors, for a report when it failed."""
        try:
            lines = self.errors.read_text(errors="replace").splitlines()
        except OSError:
            return "(no error file)"
        return "\n".join(lines[-8:]) or "(no errors logged)"


def write_inf(path: Path, rows: Sequence[Sequence[str]]) -> None:
    """A sipp injection file, private (it may hold SIP passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("SEQUENTIAL\n")
        f.writelines(";".join(r) + "\n" for r in rows)


def answered_calls(log: Path) -> dict[str, list[str]]:
    """Caller number → the extensions whose phone answered it, from the UAS's log."""
    out: dict[str, list[str]] = {}
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "answered":
                out.setdefault(parts[2], []).append(parts[1])
    return out


# -- the agents' pages (child process) -----------------------------------------------------------
class Pages:
    """The child process holding one WebSocket page per agent; what the pages receive."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.received: list[Received] = []
        self.closed: list[str] = []  # pages whose socket closed under them
        self.errors: list[str] = []

    async def start(self, url: str, tokens: dict[str, str]) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.pop_bench",
            "--pages-process",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdin is not None
        # Tokens go over a pipe, never on a command line.
        self._proc.stdin.write(json.dumps({"url": url, "tokens": tokens}).encode() + b"\n")
        await self._proc.stdin.drain()
        self._reader = asyncio.create_task(self._read(), name="pages-reader")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for line in self._proc.stdout:
            msg = json.loads(line)
            ev = msg.pop("ev")
            if ev == "msg":
                self.received.append(Received(**msg))
            elif ev == "ready":
                self.ready.set()
            elif ev == "closed":
                self.closed.append(str(msg["client"]))
            elif ev == "error":
                self.errors.append(str(msg["message"]))

    async def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # end of input: the pages close their sockets and exit
        await wait_or_kill(proc, 5, "agent pages")
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, ValueError):
                await asyncio.wait_for(self._reader, 2)


def _emit(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


async def _page(agent: str, ws: ClientConnection) -> None:
    try:
        async for raw in ws:
            got = time.time()  # first: what follows is the page's own work
            msg = json.loads(raw)
            caller = msg.get("caller") or {}
            _emit(
                ev="msg",
                client=agent,
                kind=str(msg.get("type")),
                agent_id=str(msg.get("agent_id", "")),
                call_id=str(msg.get("call_id", "")),
                number=str(caller.get("number", "")),
                received_at=float(msg.get("received_at") or 0.0),
                sent_at=float(msg.get("sent_at") or 0.0),
                got=got,
            )
    except ConnectionClosed:
        pass
    _emit(ev="closed", client=agent)


async def pages_main() -> None:
    """The child: sign each page in with its agent's token, relay what each receives."""
    config = json.loads(sys.stdin.readline())
    url: str = config["url"]
    tokens: dict[str, str] = config["tokens"]
    sockets: dict[str, ClientConnection] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        for agent, token in tokens.items():
            ws = await connect(url, open_timeout=10, max_size=2**22)
            sockets[agent] = ws
            await ws.send(json.dumps({"token": token}))
            tasks.append(asyncio.create_task(_page(agent, ws)))
        _emit(ev="ready")
        await asyncio.to_thread(sys.stdin.read)  # until the bench closes our input
    except Exception as exc:
        _emit(ev="error", message=repr(exc))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets.values()), return_exceptions=True)


# -- the bench -----------------------------------------------------------------------------------
class Bench:
    def __init__(self, service: Service, workdir: Path, uas: Sipp, pages: Pages) -> None:
        self._service = service
        self._workdir = workdir
        self._uas = uas
        self._pages = pages
        self._asterisk_pid: int | None = None
        emb = service.settings.pbx.embedded
        self._pbx = f"{emb.bind}:{emb.sip_port}"
        self.placed: dict[str, str] = {}  # caller number → phase

    def set_asterisk(self, pid: int | None) -> None:
        self._asterisk_pid = pid

    async def phase(
        self, name: str, prefix: str, calls: int, concurrency: int, rate: float, talk: float
    ) -> Phase:
        numbers = [f"{prefix}{i:07d}" for i in range(1, calls + 1)]
        self.placed.update((n, name) for n in numbers)
        inf = self._workdir / f"callers-{prefix}.csv"
        write_inf(inf, [[n] for n in numbers])
        tag = f"callers-{prefix}"
        sipp = Sipp(
            tag,
            [
                f"{self._pbx}",
                "-sf",
                str(SIPP_DIR / "caller.xml"),
                "-inf",
                str(inf),
                "-s",
                NUMBER,
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port(socket.SOCK_DGRAM)),
                "-mp",
                str(free_port(socket.SOCK_DGRAM)),
                "-m",
                str(calls),
                "-l",
                str(concurrency),
                "-r",
                f"{rate:g}",
                "-d",
                str(round(talk * 1000)),
                "-timeout",
                f"{round(SIPP_TIMEOUT)}s",
            ],
            self._workdir,
        )
        ast0, cpu0, wall0 = proc_cpu(self._asterisk_pid), time.process_time(), time.monotonic()
        await sipp.start()
        try:
            rc: int | None = await sipp.wait(SIPP_TIMEOUT + 10)
        except TimeoutError:
            rc = None
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        ast1 = proc_cpu(self._asterisk_pid)
        if rc != 0:
            logging.warning("sipp %s exited with %s:\n%s", tag, rc, sipp.tail())
        wanted = set(numbers)

        def pops_in() -> bool:
            answered = answered_calls(self._uas.log)
            got = {r.number for r in self._pages.received if r.kind == "pop"}
            return all(n in got for n in wanted if n in answered)

        # The last call's pop left within milliseconds of its connect; this only waits for
        # the UAS log and the pages' pipe to catch up (or for pops that never come).
        with contextlib.suppress(AssertionError):
            await wait_for(pops_in, POP_WAIT, "pops")
        tally = self.tally(numbers)
        return Phase(
            name,
            calls,
            concurrency,
            rate,
            wall,
            rc,
            cpu,
            None if ast0 is None or ast1 is None else ast1 - ast0,
            tally,
        )

    def tally(self, numbers: Sequence[str]) -> Tally:
        answered = answered_calls(self._uas.log)
        pops: dict[str, list[Received]] = {}
        for r in self._pages.received:
            if r.kind == "pop":
                pops.setdefault(r.number, []).append(r)
        t = Tally(placed=len(numbers))
        for number in numbers:
            exts = answered.get(number, [])
            got = pops.get(number, [])
            if not exts:
                t.unconnected.append(number)
                t.wrong += [f"{number}: pop at {r.client} for a call no phone took" for r in got]
                continue
            t.answered += 1
            # A call answered twice (never expected) is checked against its last agent.
            want = agent_id(exts[-1])
            right = [r for r in got if r.client == want and r.agent_id == want]
            t.wrong += [
                f"{number}: answered by {want}, pop naming {r.agent_id} at {r.client}'s page"
                for r in got
                if r not in right
            ]
            if not right:
                t.lost.append(f"{number}: answered by {want}, no pop at its page")
                continue
            t.duplicates += len(right) - 1
            t.samples.append(right[0])
        return t

    def strays(self) -> list[str]:
        """Pops of calls the bench never placed (none are expected)."""
        return [
            f"{r.number}: pop at {r.client}'s page"
            for r in self._pages.received
            if r.kind == "pop" and r.number not in self.placed
        ]


@dataclass(frozen=True)
class Run:
    machine: Machine
    agents: int
    talk: float
    startup: float
    warmup: Phase
    phases: list[Phase]
    strays: list[str]
    closed: list[str]
    page_errors: list[str]
    popped: int
    pop_failures: int
    kinds: Counter[str]
    wall: float


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def register(settings: Settings, secrets: Secrets, workdir: Path, port: int) -> None:
    """Every agent's extension, registered from ``port`` (the UAS's, started afterwards)."""
    exts = [a.extension for a in settings.pbx.agents]
    inf = workdir / "agents.csv"
    # sipp 3.6 expands a whole authentication keyword from a field, not fields inside one.
    rows = [
        [e, f"[authentication username={e} password={secrets.agent_passwords[e]}]"] for e in exts
    ]
    write_inf(inf, rows)
    emb = settings.pbx.embedded
    sipp = Sipp(
        "register",
        [
            f"{emb.bind}:{emb.sip_port}",
            "-sf",
            str(SIPP_DIR / "register.xml"),
            "-inf",
            str(inf),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(len(exts)),
            "-r",
            "50",
            "-l",
            str(len(exts)),
            "-timeout",
            "30s",
        ],
        workdir,
    )
    await sipp.start()
    rc = await sipp.wait(40)
    if rc != 0:
        raise RuntimeError(f"registering the agents' extensions failed (sipp {rc}):\n{sipp.tail()}")


async def run(args: argparse.Namespace, settings: Settings, workdir: Path, info: Machine) -> Run:
    begun = time.monotonic()
    secrets = resolve_secrets(settings, env={})
    service = await Service.build(settings, secrets)
    uas_port = free_port(socket.SOCK_DGRAM)
    uas = Sipp(
        "agents-uas",
        [
            "-sf",
            str(SIPP_DIR / "agent_uas.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(uas_port),
            "-mp",
            str(free_port(socket.SOCK_DGRAM)),
        ],
        workdir,
    )
    pages = Pages()
    async with contextlib.AsyncExitStack() as stack:
        pbx = await stack.enter_async_context(embedded_pbx(settings, secrets))
        stack.push_async_callback(_cancel, asyncio.create_task(service.run(), name="service"))
        await asyncio.wait_for(service.ami.connected.wait(), 15)
        await asyncio.wait_for(service.desk.reconciled.wait(), 15)
        await wait_for(lambda: service.web.started, 15, "the web server")

        exts = [a.extension for a in settings.pbx.agents]
        for ext in exts:
            await asyncio.to_thread(
                functools.partial(
                    service.agents.upsert,
                    agent_id(ext),
                    name=f"Agent {ext}",
                    extension=ext,
                    roles=["agent"],
                    skills={SKILL: 3},
                )
            )
            await service.desk.login(agent_id(ext), ext)
        await register(settings, secrets, workdir, uas_port)
        stack.push_async_callback(uas.stop)
        await uas.start()

        stack.push_async_callback(pages.stop)
        listen = settings.listen
        tokens = {
            agent_id(e): service.signer.issue(Principal(agent_id(e), ("agent",))) for e in exts
        }
        await pages.start(f"ws://{listen.api_host}:{listen.api_port}/api/agent/ws", tokens)
        await asyncio.wait_for(pages.ready.wait(), 30)
        if pages.errors:
            raise RuntimeError(f"agent pages failed: {pages.errors[0]}")

        # The pages are "ready" once their tokens are sent; each is signed in when the
        # service has subscribed it (ScreenPop keeps no public count of pages).
        def all_subscribed() -> bool:
            subscribed = service.screenpop._pages  # read only
            return all(subscribed.get(agent_id(e)) for e in exts)

        await wait_for(all_subscribed, 15, "every agent page to be signed in")
        bench = Bench(service, workdir, uas, pages)
        bench.set_asterisk(pbx.pid)
        startup = time.monotonic() - begun

        # Warm-up, not timed: the first calls pay for connections, caches and threads.
        warmup = await bench.phase(
            "warm-up", WARMUP, args.warmup_calls, min(5, args.warmup_calls), 10, args.talk
        )
        phases = [
            await bench.phase(
                "a  one call at a time", BASELINE, args.baseline_calls, 1, 10, args.talk
            ),
            await bench.phase(
                f"b  {args.concurrency} at once",
                LOAD,
                args.calls,
                args.concurrency,
                args.rate,
                args.talk,
            ),
        ]
        kinds = Counter(r.kind for r in pages.received)
        popped, failures = service.screenpop.popped, service.screenpop.failures
        strays = bench.strays()
    return Run(
        info,
        len(settings.pbx.agents),
        args.talk,
        startup,
        warmup,
        phases,
        strays,
        list(pages.closed),
        list(pages.errors),
        popped,
        failures,
        kinds,
        time.monotonic() - begun,
    )


# -- report --------------------------------------------------------------------------------------
def ms(values: Sequence[float], q: float) -> str:
    return fmt(percentile(values, q), ".1f", 1e3)


def report(r: Run) -> str:
    m = r.machine
    a, b = r.phases
    ram = f"{m.ram_gib:.1f} GiB" if m.ram_gib is not None else "unknown"
    lines = [
        "hotline screen-pop benchmark (bench/pop_bench.py)",
        f"machine   {m.cpu_model}; {m.cpuinfo_processors} processor(s) in /proc/cpuinfo, "
        f"os.cpu_count() {m.cpu_count}; RAM {ram}",
        f"software  Python {m.python}; {m.asterisk}",
        f"set-up    {r.agents} agents logged in to queue {QUEUE!r} (one sipp UAS answers for "
        f"all), {r.agents} WebSocket pages in a child process; callers: sipp, "
        f"{r.talk:g} s per call after the PBX answers",
        f"wall      {r.wall:.1f} s in all: start-up {r.startup:.1f} s, warm-up "
        f"{r.warmup.wall:.1f} s ({r.warmup.calls} calls), phases "
        f"{sum(p.wall for p in r.phases):.1f} s",
        "",
    ]
    head = (
        f"{'phase':<22}{'calls':>6}{'conc':>5}{'wall s':>8}{'svc CPU':>8}{'ast CPU':>8}"
        f"{'pops':>6}{'total p50':>10}{'p99':>7}{'max':>7}{'build p50':>10}{'p99':>7}"
        f"{'deliv p50':>10}{'p99':>7}"
    )
    lines += [head + "   (ms)", "-" * len(head)]
    for p in [r.warmup, *r.phases]:
        tot, bld, dlv = p.series("total"), p.series("build"), p.series("delivery")
        ast = "-" if p.asterisk_cpu is None else f"{p.asterisk_cpu / p.wall:.0%}"
        lines.append(
            f"{p.name:<22}{p.calls:>6}{p.concurrency:>5}{p.wall:>8.1f}{p.cpu / p.wall:>8.0%}"
            f"{ast:>8}{len(p.tally.samples):>6}{ms(tot, 50):>10}{ms(tot, 99):>7}{ms(tot, 100):>7}"
            f"{ms(bld, 50):>10}{ms(bld, 99):>7}{ms(dlv, 50):>10}{ms(dlv, 99):>7}"
        )
    lines += ["", f"{'AgentConnect → page, ms':<34}{'a (1 call)':>12}{'b (load)':>12}{'b/a':>8}"]
    for label, what in (("total", "total"), ("  build", "build"), ("  delivery", "delivery")):
        for q, qn in ((50, "p50"), (99, "p99"), (100, "max")):
            base, load = percentile(a.series(what), q), percentile(b.series(what), q)
            lines.append(
                f"{label + ' ' + qn:<34}{fmt(base, '.1f', 1e3):>12}{fmt(load, '.1f', 1e3):>12}"
                f"{ratio(load, base):>8}"
            )
    p99 = percentile(b.series("total"), 99)
    verdict = "-" if p99 is None else ("met" if p99 < TARGET_P99 else "MISSED")
    lines += [
        "",
        f"target    p99 under {TARGET_P99 * 1e3:.0f} ms under load: {verdict}",
        "",
        "checks (every call placed must be answered by one agent's phone and give exactly one",
        "pop, at that agent's page only):",
        f"{'phase':<22}{'placed':>7}{'answered':>9}{'popped ok':>10}{'lost':>6}{'wrong':>6}"
        f"{'dupl':>6}{'unconn':>7}{'sipp rc':>8}",
    ]
    for p in [r.warmup, *r.phases]:
        t = p.tally
        rc = "-" if p.sipp_rc is None else str(p.sipp_rc)
        lines.append(
            f"{p.name:<22}{t.placed:>7}{t.answered:>9}{len(t.samples):>10}{len(t.lost):>6}"
            f"{len(t.wrong):>6}{t.duplicates:>6}{len(t.unconnected):>7}{rc:>8}"
        )
    lines += [
        f"pops built by the service {r.popped}, its failures {r.pop_failures}; messages at the "
        f"pages: {dict(r.kinds)}; pops of calls never placed: {len(r.strays)}; "
        f"pages closed under them: {len(r.closed)}",
        "",
        "notes: total = page receive time - received_at (the AgentConnect reached the service);",
        "  build = sent_at - received_at (agent look-up, caller history, suggestions, in the",
        "  service); delivery = page - sent_at (queue, JSON, WebSocket, the page's process).",
        "  Nearest-rank percentiles; svc CPU = this process (service + driver) over the wall",
        "  time, ast CPU = the private Asterisk; 100% = one core.",
    ]
    problems = [*r.strays, *(f"page {c} closed" for c in r.closed), *r.page_errors]
    for p in [r.warmup, *r.phases]:
        t = p.tally
        problems += t.wrong + t.lost + [f"{n}: never answered by an agent" for n in t.unconnected]
        if t.duplicates:
            problems.append(f"{p.name}: {t.duplicates} duplicate pop(s)")
        if p.sipp_rc != 0:
            problems.append(f"{p.name}: sipp callers exited with {p.sipp_rc}")
    lines.append("")
    if problems:
        lines.append(f"FAILED: {len(problems)} problem(s):")
        lines += [f"  {x}" for x in problems[:30]]
        if len(problems) > 30:
            lines.append(f"  ... and {len(problems) - 30} more")
    else:
        total = sum(p.tally.placed for p in [r.warmup, *r.phases])
        lines.append(
            f"result: all {total} calls gave exactly one pop, each at its own agent's page only"
        )
    return "\n".join(lines)


def failed(r: Run) -> bool:
    return bool(
        r.strays
        or r.closed
        or r.page_errors
        or any(p.tally.problems or p.sipp_rc != 0 for p in [r.warmup, *r.phases])
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pop_bench", description=__doc__)
    parser.add_argument("--agents", type=int, default=50, help="agents and their pages")
    parser.add_argument("--calls", type=int, default=300, help="calls under load (phase b)")
    parser.add_argument("--concurrency", type=int, default=20, help="calls at once in phase b")
    parser.add_argument("--rate", type=float, default=10.0, help="new calls a second, phase b")
    parser.add_argument("--baseline-calls", type=int, default=20, help="calls one at a time")
    parser.add_argument("--warmup-calls", type=int, default=5, help="untimed calls first")
    parser.add_argument("--talk", type=float, default=2.5, help="seconds a caller stays")
    parser.add_argument("--pages-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pages_process:
        asyncio.run(pages_main())
        return 0
    for name in ("agents", "calls", "concurrency", "baseline_calls", "warmup_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.agents > 899:
        parser.error("--agents must be at most 899")
    if args.concurrency > args.agents:
        parser.error("--concurrency must not exceed --agents (calls would wait in the queue)")
    if args.rate <= 0 or not math.isfinite(args.rate) or args.talk <= 0:
        parser.error("--rate and --talk must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Short path: Asterisk's control socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="popbench-") as tmp:
        settings = bench_settings(Path(tmp), args.agents)
        info = machine(settings.pbx.embedded.asterisk_binary)
        result = asyncio.run(run(args, settings, Path(tmp), info))
    print(report(result), flush=True)
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
