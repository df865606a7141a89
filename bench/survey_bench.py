"""Benchmark: satisfaction-survey callbacks, many at once, through the real PBX.

Run from the repository root::

    .venv/bin/python -m bench.survey_bench [--surveys 60] [--concurrent 20] [--baseline 10]
        [--warmup N] [--idle 20] [--dialer pool|inline] [--tick 0.05]

Everything is real: a private Asterisk configured from the settings (the survey user agent's
endpoint, one local phone per citizen number), the survey store in a temporary SQLite database,
``SurveyScheduler`` with a real clock ticking every ``--tick`` s, the survey user agent
(``SipDialer`` on a pjsua2 phone) placing every call through the PBX's outbound route and
playing the synthesised prompts, and the citizens' pjsua2 phones registered with the PBX.

- The citizens run in child processes (this pjsua2 build holds ``PJSUA_MAX_CALLS`` = 4 call
  legs per process: so many phones per process), their SIP passwords sent over a pipe. Each
  citizen answers every call, waits for audio, keys in its script and waits for the end: "1",
  "2" or "3" by its index, every fifth one keying an invalid "9" first (the question is asked
  again); after a "3" it says nothing while the survey records its comment (3 s).
- The surveys are call-triggered ones created straight in the store (no tickets), due now; the
  scheduler claims and dials them up to ``max_concurrent``. Its result applier is a no-op.
- The survey user agent: by default the service's own dialer, ``DialerPool``: the survey
  calls spread over ``dial_worker`` processes (the real ``SipDialer`` on a survey phone each,
  registered with the PBX; ``ceil(max_concurrent / 4)`` of them, started as calls need them).
  ``--dialer inline`` instead runs one ``SipDialer`` on one survey phone in this process,
  which holds 4 calls at most (pjsua2's limit): the calls beyond fail.

After an untimed warm-up (``--concurrent`` surveys at once by default: every dialling process
is started by then), two phases one after the other on the same
PBX: a. ``--baseline`` surveys one at a time (max_concurrent 1); b. ``--surveys`` surveys with
max_concurrent ``--concurrent``. Per phase: wall time, completed surveys per minute, CPU seconds
per survey (this process; the dialling processes; Asterisk; the citizens' processes), gross and
net of what each part uses idle (``--idle`` s measured with the scheduler ticking and nothing
due, half before a, half after b), the peak of the scheduler's calls in progress and of calls
the citizens held at once. Every survey must end ``completed`` with the result its citizen
keyed in, each citizen called once per phase: exit status 1 otherwise.

One module on purpose: a benchmark's scenario, its baseline and its report run as one
script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from bench.ivr_bench import proc_cpu
from bench.private_pbx import private_pbx
from hotline.app.settings import Settings, parse_settings, resolve_secrets
from hotline.core.calendar import WorkCalendar
from hotline.surveys.attempt import AttemptResult, Dialer
from hotline.surveys.config import WINDOW_DAYS
from hotline.surveys.dial_pool import DialerPool
from hotline.surveys.dialer import SipDialer
from hotline.surveys.policy import COMPLETED, FINAL, RESULTS, SCHEDULED, CallWindow
from hotline.surveys.scheduler import SurveyScheduler
from hotline.surveys.store import Candidate, Claim, Survey, SurveyStore
from telephony.processes import wait_or_kill
from telephony.sip import CallHandle, Phone, PhoneConfig, SipError, SipStack, allocate_ports
from testkit.support import free_port

if TYPE_CHECKING:
    from bench.ivr_bench import Machine

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh", "en")  # the survey's language, alternating by citizen
SIP_LOW, SIP_HIGH = 21000, 30000  # the phones' SIP and RTP ports (Asterisk's RTP: 30000+)
PHONE_RTP_PORTS = 40  # per phone: 4 calls' RTP and RTCP with room to spare
KEY_DELAY = 1.0  # s of the question the citizen hears before keying in
COMMENT_SECONDS = 3.0  # the settings' minimum: a "3" is followed by this much silence
CHILD_START = 90.0  # s for the child processes to start and register
DIAL_WORKER = b"hotline.surveys.dial_worker"  # the dialling processes' module


# -- the citizens' scripts -----------------------------------------------------------------------
def citizen_number(i: int) -> str:
    return f"1370000{i:04d}"


def script(i: int) -> str:
    """What citizen ``i`` keys in: its answer, after an invalid "9" for every fifth citizen."""
    key = "123"[i % 3]
    return "9" + key if i % 5 == 4 else key


def expected(i: int) -> str:
    return RESULTS[script(i)[-1]]


# -- settings ------------------------------------------------------------------------------------
def bench_settings(workdir: Path, citizens: int, concurrent: int) -> Settings:
    """Free loopback ports, runtime files under ``workdir``; surveys may ring at any hour."""
    shipped = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    always = {d: "00:00-24:00" for d in WINDOW_DAYS}
    return parse_settings(
        {
            "service_number": "12345",
            "pbx": private_pbx(
                workdir,
                phones=[
                    {"number": citizen_number(i), "name": f"Citizen {i}"} for i in range(citizens)
                ],
            ),
            # The survey speaks the shipped IVR's languages; its prompts are made in workdir.
            "ivr": {"languages": shipped["ivr"]["languages"], "prompts_dir": str(workdir / "p")},
            "asr": {"enabled": False},
            "surveys": {
                "window": always,
                "holiday_window": "00:00-24:00",
                "delay_minutes": 0,
                "max_concurrent": concurrent,
                "rate_per_minute": 6000,
                "digit_timeout": 3,
                "comment_seconds": COMMENT_SECONDS,
                "recordings_dir": str(workdir / "rec" / "surveys"),
            },
            "database": {"url": f"sqlite:///{workdir / 'hotline.db'}"},
            "listen": {"api_port": free_port(), "agi_port": free_port()},
        },
        "bench settings",
    )


# -- the citizens' processes: JSON lines over pipes ----------------------------------------------
def _emit(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _add_phone(stack: SipStack, user: str, **options: Any) -> Phone:
    """A phone on free ports (probed, not held: another process may take them first)."""
    for attempt in range(5):
        ports = allocate_ports(1, rtp_port_range=PHONE_RTP_PORTS, low=SIP_LOW, high=SIP_HIGH)[0]
        config = PhoneConfig(
            user,
            sip_port=ports.sip_port,
            rtp_port=ports.rtp_port,
            rtp_port_range=PHONE_RTP_PORTS,
            **options,
        )
        try:
            return await stack.add_phone(config)
        except SipError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


async def _answer(number: str, call: CallHandle, digits: str) -> None:
    """One citizen's call: answer, listen a moment, key in the script, wait for the end."""
    rec: dict[str, Any] = {"ev": "call", "number": number, "digits": digits}
    try:
        await call.answer()
        rec["media_at"] = await call.wait_media(10)
        await asyncio.sleep(KEY_DELAY)
        await call.send_dtmf(digits)
        rec["ended_at"] = (await call.wait_ended(180)).ended_at
    except (SipError, TimeoutError) as exc:
        rec["error"] = str(exc)
        await call.hangup()
    _emit(**rec)


async def citizens_main() -> None:
    """Child: register the citizens' phones, answer every call with the number's script."""
    reader = await _stdin()
    config = json.loads(await reader.readline())
    registrar = f"sip:{config['registrar']}"
    async with SipStack(log_level=0) as stack:
        phones: list[tuple[Phone, str]] = []
        tasks: set[asyncio.Task[None]] = set()

        async def serve(phone: Phone, digits: str) -> None:
            while True:
                call = await phone.incoming.get()
                _emit(ev="rang", number=phone.config.user)
                task = asyncio.create_task(_answer(phone.config.user, call, digits))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        try:
            for c in config["citizens"]:
                phone = await _add_phone(
                    stack, str(c["number"]), registrar=registrar, password=str(c["password"])
                )
                phones.append((phone, str(c["digits"])))
            await asyncio.gather(*(p.wait_registered(20) for p, _ in phones))
        except (SipError, TimeoutError) as exc:
            _emit(ev="error", message=str(exc))
            for p, _ in phones:
                await p.close()
            return
        servers = [asyncio.create_task(serve(p, d)) for p, d in phones]
        _emit(ev="ready")
        await reader.read()  # until the bench closes our input
        for task in [*servers, *tasks]:
            task.cancel()
        await asyncio.gather(*servers, *tasks, return_exceptions=True)
        for p, _ in phones:
            await p.close()


def _log_file(path: Path) -> IO[bytes]:
    return open(path, "wb")  # handed to the child, closed once it has started


class Child:
    """One child process of this module. Its configuration, passwords included, is the first
    line on its stdin (never its command line); it answers with JSON lines on stdout."""

    def __init__(
        self, name: str, mode: str, workdir: Path, on_event: Callable[[Child, dict[str, Any]], None]
    ) -> None:
        self.name = name
        self._mode = mode
        self._log = workdir / f"{name}.log"
        self._on_event = on_event
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.error = ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self, config: dict[str, Any]) -> None:
        err = await asyncio.to_thread(_log_file, self._log)
        try:
            # Own session: a Ctrl-C reaches only the bench, which stops its children in order.
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.survey_bench",
                f"--{self._mode}-process",
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                limit=2**20,
            )
        finally:
            err.close()
        self.send(config)
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-reader")

    def send(self, msg: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise RuntimeError(f"{self.name} is not running")
        proc.stdin.write(json.dumps(msg).encode() + b"\n")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            async for line in self._proc.stdout:
                event = json.loads(line)
                if event.get("ev") == "ready":
                    self.ready.set()
                elif event.get("ev") == "error" and "id" not in event:
                    self.error = str(event.get("message"))
                self._on_event(self, event)
        finally:
            self.exited.set()
            self._on_event(self, {"ev": "exit"})

    async def wait_ready(self, timeout: float) -> None:
        ready = asyncio.create_task(self.ready.wait())
        exited = asyncio.create_task(self.exited.wait())
        try:
            await asyncio.wait(
                {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            exited.cancel()
        if not self.ready.is_set():
            why = self.error or ("exited" if self.exited.is_set() else f"not ready in {timeout} s")
            raise RuntimeError(f"{self.name}: {why}; see {self._log}")

    async def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # end of input: the child hangs up, closes its phones, exits
        await wait_or_kill(proc, 15, self.name)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, ValueError):
                await asyncio.wait_for(self._reader, 2)


# -- the survey side's dialer --------------------------------------------------------------------
class Traced:
    """Keeps what each attempt came back with (the store keeps no detail of a failure)."""

    def __init__(self, inner: Dialer) -> None:
        self._inner = inner
        self.results: dict[int, list[AttemptResult]] = {}

    async def call(self, claim: Claim) -> AttemptResult:
        got = self.results.setdefault(claim.survey.id, [])
        try:
            result = await self._inner.call(claim)
        except Exception as exc:
            got.append(AttemptResult("failed", detail=f"dialer error: {exc!r}"))
            raise
        got.append(result)
        return result

    def last(self, survey_id: int) -> str:
        got = self.results.get(survey_id)
        if not got:
            return "never dialled"
        r = got[-1]
        text = f"{r.outcome} {r.sip_status or ''} {r.detail}".replace("  ", " ").strip()
        return text if len(text) <= 200 else text[:197] + "..."


# -- the citizens as the bench sees them ---------------------------------------------------------
@dataclass
class Citizens:
    children: list[Child] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)  # finished calls, as reported
    ringing: int = 0  # calls rung and not reported yet
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while ``ringing`` is 0
    errors: list[str] = field(default_factory=list)

    def on_event(self, child: Child, event: dict[str, Any]) -> None:
        kind = event.get("ev")
        if kind == "rang":
            self.ringing += 1
        elif kind == "call":
            self.ringing -= 1
            self.calls.append(event)
        elif kind == "error":
            self.errors.append(f"{child.name}: {event.get('message')}")
        if self.ringing > 0:
            self.idle.clear()
        else:
            self.idle.set()


def dialling_processes() -> dict[int, float]:
    """The dialling processes this process started (``DialerPool``'s): pid → CPU s so far."""
    me, found = os.getpid(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != me:  # field 4: the parent's pid
                continue
            if DIAL_WORKER not in (entry / "cmdline").read_bytes():
                continue
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        cpu = proc_cpu(int(entry.name))
        if cpu is not None:
            found[int(entry.name)] = cpu
    return found


def cpu_of(pids: Sequence[int | None]) -> float | None:
    values = [proc_cpu(p) for p in pids]
    if not values or any(v is None for v in values):
        return None
    return sum(v or 0.0 for v in values)


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of each part: this process, the dialer processes (None when the dialer
    runs here), the private Asterisk, the citizens' processes."""

    own: float
    dialers: float | None
    asterisk: float | None
    citizens: float | None

    def __add__(self, o: Cpu) -> Cpu:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Cpu(
            self.own + o.own,
            add(self.dialers, o.dialers),
            add(self.asterisk, o.asterisk),
            add(self.citizens, o.citizens),
        )

    def __sub__(self, o: Cpu) -> Cpu:
        return Cpu(
            self.own - o.own,
            _minus(self.dialers, o.dialers),
            _minus(self.asterisk, o.asterisk),
            _minus(self.citizens, o.citizens),
        )

    def scaled(self, k: float) -> Cpu:
        def mul(v: float | None) -> float | None:
            return None if v is None else v * k

        return Cpu(self.own * k, mul(self.dialers), mul(self.asterisk), mul(self.citizens))

    @property
    def survey_side(self) -> float:
        return self.own + (self.dialers or 0.0)


def peak_overlap(spans: Sequence[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    peak = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        peak = max(peak, now)
    return peak


# -- one phase -----------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    surveys: int
    concurrent: int
    wall: float = 0.0
    cpu: Cpu = Cpu(0.0, None, None, None)  # used over the phase
    net: Cpu = Cpu(0.0, None, None, None)  # less what the idle rig uses in as long
    peak_scheduler: int = 0
    peak_calls: int = 0
    completed: int = 0
    timed_out: bool = False
    results: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)
    digits_off: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return self.completed / self.wall * 60 if self.wall else 0.0

    def per_survey(self, cpu: float | None) -> float | None:
        return None if cpu is None or not self.surveys else cpu / self.surveys

    @property
    def problems(self) -> int:
        return len(self.wrong) + len(self.lost) + len(self.twice)


@dataclass(frozen=True)
class Mark:
    """CPU seconds used so far by each part (the dialling processes by pid: they start as
    calls need them, and again after one dies)."""

    own: float
    dialers: dict[int, float] | None
    asterisk: float | None
    citizens: float | None


@dataclass
class Rig:
    settings: Settings
    store: SurveyStore
    window: CallWindow
    dialer: Traced
    citizens: Citizens
    pooled: bool  # the dialer is a DialerPool (else it runs in this process)
    asterisk_pid: int | None
    tick: float

    def _mark(self) -> Mark:
        return Mark(
            self_cpu(),
            dialling_processes() if self.pooled else None,
            proc_cpu(self.asterisk_pid),
            cpu_of([c.pid for c in self.citizens.children]),
        )

    async def mark(self) -> Mark:
        return await asyncio.to_thread(self._mark)

    async def since(self, m: Mark) -> Cpu:
        """CPU used since ``m``; a dialling process started meanwhile counts in full."""
        now = await self.mark()
        dialers = None
        if now.dialers is not None and m.dialers is not None:
            dialers = sum(v - m.dialers.get(pid, 0.0) for pid, v in now.dialers.items())
        return Cpu(
            now.own - m.own,
            dialers,
            _minus(now.asterisk, m.asterisk),
            _minus(now.citizens, m.citizens),
        )

    def scheduler(self, concurrent: int) -> SurveyScheduler:
        s = self.settings.surveys.model_copy(update={"max_concurrent": concurrent})

        def clock() -> datetime:
            return datetime.now(UTC)

        return SurveyScheduler(s, self.store, self.window, self.dialer, _no_apply, clock)


async def _no_apply(survey: Survey) -> None:
    """No tickets here: nothing to close or reopen."""


async def measure_idle(rig: Rig, seconds: float) -> Cpu:
    """What everything uses with nothing to do (the scheduler ticking, the bench checking,
    the SIP stacks polling): the phases' figures net of it are the surveys' own cost."""
    sched = rig.scheduler(1)
    await sched.start()
    cpu0, wall0 = await rig.mark(), time.monotonic()
    checked = 0.0
    while (now := time.monotonic()) - wall0 < seconds:
        await sched.tick()
        if now - checked >= 0.25:  # as the phases check their surveys
            checked = now
            await asyncio.to_thread(rig.store.find, None, 1)
        await asyncio.sleep(rig.tick)
    wall = time.monotonic() - wall0
    return (await rig.since(cpu0)).scaled(1 / wall)


async def run_phase(rig: Rig, name: str, surveys: int, concurrent: int) -> Phase:
    sched = rig.scheduler(concurrent)
    await sched.start()
    phase = Phase(name, surveys, concurrent)
    tag = "".join(ch for ch in name.split()[0] if ch.isalnum())
    started = time.time()
    calls_before = len(rig.citizens.calls)
    cpu0, wall0 = await rig.mark(), time.monotonic()

    def create() -> dict[int, int]:
        """The phase's surveys, due now: survey id → citizen index."""
        now = datetime.now(UTC)
        made = {}
        for i in range(surveys):
            c = Candidate(
                None,
                f"bench-{tag}-{i}",
                citizen_number(i),
                LANGUAGES[i % 2],
                None,
                None,
                None,
                None,
                now,
            )
            survey = rig.store.create(c, due_at=now)
            assert survey is not None
            made[survey.id] = i
        return made

    ids = await asyncio.to_thread(create)
    deadline = wall0 + 60 + math.ceil(surveys / concurrent) * 60
    checked = 0.0
    try:
        while True:
            claimed = await sched.tick()
            phase.peak_scheduler = max(phase.peak_scheduler, sched.in_progress)
            now = time.monotonic()
            if now - checked >= 0.25 or not sched.in_progress:
                checked = now
                rows = await asyncio.to_thread(rig.store.find, None, surveys)
                if all(r.status in FINAL for r in rows):
                    break
                # Nothing in progress or due: what is left waits for a retry far off (lost).
                if (
                    not sched.in_progress
                    and not claimed
                    and all(
                        r.status in FINAL or (r.status == SCHEDULED and r.attempts >= 1)
                        for r in rows
                    )
                ):
                    break
                if now > deadline:
                    phase.timed_out = True
                    break
            await asyncio.sleep(rig.tick)
        phase.wall = time.monotonic() - wall0
        phase.cpu = await rig.since(cpu0)
        await sched.drain()
    finally:
        await sched.stop()  # after a time-out: hangs up what is still calling
    # The citizens report a call once it has ended on their side too.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rig.citizens.idle.wait(), 10)
    await check(rig, phase, ids, rig.citizens.calls[calls_before:], started)
    return phase


async def check(
    rig: Rig, phase: Phase, ids: dict[int, int], calls: list[dict[str, Any]], started: float
) -> None:
    """Each survey against its citizen's script; the calls the citizens took."""
    rows = {r.id: r for r in await asyncio.to_thread(rig.store.find, None, len(ids))}
    for sid, i in sorted(ids.items()):
        r = rows.get(sid)
        who = f"survey {sid} ({citizen_number(i)}, keys {script(i)!r})"
        if r is None:
            phase.lost.append(f"{who}: not in the store")
            continue
        if r.status != COMPLETED:
            phase.lost.append(
                f"{who}: {r.status} after {r.attempts} attempt(s), last: {rig.dialer.last(sid)}"
            )
            continue
        phase.completed += 1
        phase.results[r.result or "-"] += 1
        if r.result != expected(i):
            phase.wrong.append(f"{who}: result {r.result}, keyed {expected(i)}")
        if r.attempts != 1:
            phase.retried.append(f"{who}: {r.attempts} attempts")
        attempts = await asyncio.to_thread(rig.store.attempts, sid)
        if attempts and attempts[-1].digits != script(i):
            phase.digits_off.append(f"{who}: digits {attempts[-1].digits!r}")
    per_number = Counter(str(c["number"]) for c in calls)
    wanted = {citizen_number(i) for i in ids.values()}
    phase.twice += [f"{n}: called {k} times" for n, k in sorted(per_number.items()) if k > 1]
    phase.twice += [f"{n}: called, no survey for it" for n in per_number if n not in wanted]
    spans = [
        (float(c["media_at"]), float(c["ended_at"]))
        for c in calls
        if "media_at" in c and "ended_at" in c and float(c["media_at"]) >= started
    ]
    phase.peak_calls = peak_overlap(spans)


# -- the run -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    machine: Machine
    legs: int
    citizens: int
    citizen_processes: int
    dialer: str  # "pool" or "inline"
    dialer_processes: int  # the pool's, running at the end
    tick: float
    startup: float
    warmup: Phase
    idle_seconds: float
    idles: list[Cpu]  # CPU seconds per second with nothing to do: before a, after b
    idle: Cpu  # their mean
    phases: list[Phase]
    citizen_errors: list[str]
    wall: float


async def run(args: argparse.Namespace, settings: Settings, workdir: Path, info: Machine) -> Run:
    from hotline.app.pbx import embedded_pbx
    from hotline.db.engine import make_engine, migrate
    from hotline.surveys.prompts import build_prompts

    begun = time.monotonic()
    secrets = resolve_secrets(settings, env={})
    legs = SipStack.compiled_max_calls()
    url = settings.database.url
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    store = SurveyStore(engine)
    calendar = WorkCalendar.from_settings(settings.tickets.calendar, settings.tz)
    window = CallWindow.from_settings(settings.surveys, calendar)
    emb = settings.pbx.embedded
    pbx_addr = f"{emb.bind}:{emb.sip_port}"
    n = max(args.surveys, args.baseline, args.warmup)
    citizens = Citizens()
    try:
        async with contextlib.AsyncExitStack() as stack:
            # Prompts first (synthesis takes a while; the PBX does not need them).
            prompts = await asyncio.to_thread(build_prompts, settings.surveys, settings.ivr)
            pbx = await stack.enter_async_context(embedded_pbx(settings, secrets))

            # The citizens: so many phones per process as a process holds calls.
            for k in range(math.ceil(n / legs)):
                child = Child(f"citizens-{k + 1}", "citizens", workdir, citizens.on_event)
                citizens.children.append(child)
                stack.push_async_callback(child.stop)
                group = range(k * legs, min(n, (k + 1) * legs))
                await child.start(
                    {
                        "registrar": pbx_addr,
                        "citizens": [
                            {
                                "number": citizen_number(i),
                                "digits": script(i),
                                "password": secrets.phone_passwords[citizen_number(i)],
                            }
                            for i in group
                        ],
                    }
                )
            await asyncio.gather(*(c.wait_ready(CHILD_START) for c in citizens.children))

            # The survey user agent.
            recordings = Path(settings.surveys.recordings_dir)  # absolute: under workdir
            inner: Dialer
            if args.dialer == "pool":  # the service's: SipDialer in dialling processes
                pool = DialerPool(
                    settings.surveys,
                    user=settings.surveys.sip.user,
                    password=secrets.survey_password,
                    registrar=pbx_addr,
                    prompts=prompts,
                    recordings_dir=recordings,
                )
                stack.push_async_callback(pool.close)
                inner = pool
            else:  # one SipDialer on one registered survey phone in this process
                sip = await stack.enter_async_context(SipStack(log_level=1))
                ua = await _add_phone(
                    sip,
                    settings.surveys.sip.user,
                    registrar=f"sip:{pbx_addr}",
                    password=secrets.survey_password,
                    domain=emb.bind,
                )
                stack.push_async_callback(ua.close)
                await ua.wait_registered(10)
                inner = SipDialer(ua, pbx_addr, settings.surveys, prompts, recordings)
            rig = Rig(
                settings,
                store,
                window,
                Traced(inner),
                citizens,
                args.dialer == "pool",
                pbx.pid,
                args.tick,
            )
            startup = time.monotonic() - begun
            # Untimed: the first calls pay for caches, codecs and prompt files, and (enough of
            # them at once) start every dialling process the load phase will use.
            warmup = await run_phase(rig, "warm-up", args.warmup, min(args.warmup, args.concurrent))
            idle = [await measure_idle(rig, args.idle / 2)]
            phases = [
                await run_phase(rig, "a  one at a time", args.baseline, 1),
                await run_phase(
                    rig, f"b  {args.concurrent} at once", args.surveys, args.concurrent
                ),
            ]
            idle.append(await measure_idle(rig, args.idle / 2))
            procs = len(await asyncio.to_thread(dialling_processes)) if rig.pooled else 0
    finally:
        engine.dispose()
    rate = (idle[0] + idle[1]).scaled(0.5)
    for p in phases:
        p.net = p.cpu - rate.scaled(p.wall)
    return Run(
        info,
        legs,
        n,
        len(citizens.children),
        args.dialer,
        procs,
        args.tick,
        startup,
        warmup,
        args.idle,
        idle,
        rate,
        phases,
        citizens.errors,
        time.monotonic() - begun,
    )


# -- report --------------------------------------------------------------------------------------
def _ratio(load: float | None, base: float | None) -> str:
    """load / base, or why not (a net figure at or below zero is within the noise)."""
    if load is None or base is None:
        return "-"
    if base <= 0 or load <= 0:
        return "n/a (a net figure within the noise)"
    return f"{load / base:.2f}x"


def report(r: Run) -> str:
    from bench.ivr_bench import fmt, ratio

    m = r.machine
    a, b = r.phases
    ram = f"{m.ram_gib:.1f} GiB" if m.ram_gib is not None else "unknown"
    if r.dialer == "pool":
        ua = (
            f"the service's DialerPool: SipDialer in {r.dialer_processes} dialling process(es) "
            f"at the end, a registered survey phone each, {r.legs} calls at most per process"
        )
    else:
        ua = "SipDialer on one registered survey phone in this process (--dialer inline)"
        if b.concurrent > r.legs:
            ua += f"; it holds {r.legs} calls at most, the others fail"
    lines = [
        "hotline survey benchmark (bench/survey_bench.py)",
        f"date      {date.today().isoformat()}",
        f"machine   {m.cpu_model}; {m.cpuinfo_processors} processor(s) in /proc/cpuinfo, "
        f"os.cpu_count() {m.cpu_count}; RAM {ram}",
        f"software  Python {m.python}; {m.asterisk}; pjsua2 with {r.legs} call legs per process",
        f"citizens  {r.citizens} numbers on pbx.phones, pjsua2 phones in {r.citizen_processes} "
        f"child process(es), registered with the PBX; key in 1/2/3 by number (every fifth: an "
        f"invalid 9 first), {KEY_DELAY:g} s into the question; after a 3, "
        f"{COMMENT_SECONDS:g} s of silence is recorded",
        f"surveys   {ua}; SurveyScheduler.tick every {r.tick:g} s, real clock, SQLite store",
        f"wall      {r.wall:.1f} s in all: start-up {r.startup:.1f} s (prompts, PBX, "
        f"registrations), warm-up {r.warmup.wall:.1f} s ({r.warmup.surveys} surveys, untimed), "
        f"idle {r.idle_seconds:g} s, phases {a.wall + b.wall:.1f} s",
        "",
    ]

    def row(p: Phase, c: Cpu, label: str) -> str:
        cells = [(c.own, 8), (c.dialers, 9), (c.survey_side, 9), (c.asterisk, 7), (c.citizens, 8)]
        return f"{label:<22}" + "".join(f"{fmt(p.per_survey(v), '.3f'):>{w}}" for v, w in cells)

    head = (
        f"{'phase':<20}{'surveys':>8}{'conc':>5}{'wall s':>8}{'done/min':>9}{'peak':>6}{'calls':>6}"
    )
    lines += [head, "-" * len(head)]
    for p in r.phases:
        lines.append(
            f"{p.name:<20}{p.surveys:>8}{p.concurrent:>5}{p.wall:>8.1f}{p.per_minute:>9.1f}"
            f"{p.peak_scheduler:>6}{p.peak_calls:>6}"
        )
    head = f"{'CPU s per survey':<22}{'this':>8}{'dialers':>9}{'survey':>9}{'ast':>7}{'citiz':>8}"
    lines += ["", head, "-" * len(head)]
    for p in r.phases:
        lines.append(row(p, p.cpu, p.name))
        lines.append(row(p, p.net, "   net of idle"))
    for label, i in (
        ("idle before a", r.idles[0]),
        ("idle after b", r.idles[1]),
        ("idle, mean", r.idle),
    ):
        lines.append(
            f"{label:<22}{i.own:>8.3f}{fmt(i.dialers, '.3f'):>9}{i.survey_side:>9.3f}"
            f"{fmt(i.asterisk, '.3f'):>7}{fmt(i.citizens, '.3f'):>8}"
        )
    lines += [
        f"{'':<22}(idle: CPU s per s over {r.idle_seconds / 2:g} s each, the scheduler ticking "
        "with nothing due)",
        "",
        f"b / a     completed surveys per minute {ratio(b.per_minute, a.per_minute)}; CPU per "
        f"survey, gross: survey side {ratio(b.per_survey(b.cpu.survey_side), a.per_survey(a.cpu.survey_side))}, "  # noqa: E501
        f"Asterisk {ratio(b.per_survey(b.cpu.asterisk), a.per_survey(a.cpu.asterisk))}; net of "
        f"idle: survey side {_ratio(b.net.survey_side / b.surveys, a.net.survey_side / a.surveys)}, "  # noqa: E501
        f"Asterisk {_ratio(b.per_survey(b.net.asterisk), a.per_survey(a.net.asterisk))}",
        "",
        "checks (every survey completed, with the result its citizen keyed in; each citizen "
        "called once):",
        f"{'phase':<20}{'surveys':>8}{'completed':>10}{'wrong':>7}{'lost':>6}{'called twice':>13}"
        f"{'retried':>8}{'digits differ':>14}",
    ]
    for p in [r.warmup, *r.phases]:
        lines.append(
            f"{p.name:<20}{p.surveys:>8}{p.completed:>10}{len(p.wrong):>7}{len(p.lost):>6}"
            f"{len(p.twice):>13}{len(p.retried):>8}{len(p.digits_off):>14}"
        )
    results = sum((p.results for p in [r.warmup, *r.phases]), Counter[str]())
    lines.append("results   " + ", ".join(f"{k} {v}" for k, v in sorted(results.items())))
    lines += [
        "",
        "notes: done/min = completed surveys / phase wall time (surveys created due → the last",
        "  one final); peak = most calls in progress in the scheduler at a tick, calls = most",
        "  calls the citizens held at once. CPU per survey: this = this process (scheduler,",
        "  store; the SIP stack with --dialer inline), dialers = the dialling processes,",
        "  survey = the two together (the survey side), ast = the private Asterisk, citiz = the",
        "  citizens' processes (not the service's cost). Net of idle: less what each part uses",
        "  with nothing to do (ticks, SIP stacks polling) over the phase's wall time, the",
        "  surveys' own cost; this process's can fall below zero: a tick at max_concurrent",
        "  skips the claim query an idle tick makes. 1 s of CPU = one core for a second.",
    ]
    problems = list(r.citizen_errors)
    for p in [r.warmup, *r.phases]:
        problems += p.wrong + p.lost + p.twice
        if p.timed_out:
            problems.append(f"{p.name}: timed out before every survey was final")
    others = [x for p in [r.warmup, *r.phases] for x in p.retried + p.digits_off]
    lines.append("")
    if others:
        lines.append(f"remarks ({len(others)}): " + "; ".join(others[:10]))
    if problems:
        lines.append(f"FAILED: {len(problems)} problem(s):")
        lines += [f"  {x}" for x in problems[:30]]
        if len(problems) > 30:
            lines.append(f"  ... and {len(problems) - 30} more")
    else:
        total = sum(p.surveys for p in [r.warmup, *r.phases])
        lines.append(
            f"result: all {total} surveys completed with the result keyed in; "
            "no wrong or lost result, no citizen called twice"
        )
    return "\n".join(lines)


def failed(r: Run) -> bool:
    phases = [r.warmup, *r.phases]
    return bool(r.citizen_errors) or any(p.problems or p.timed_out for p in phases)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.survey_bench", description=__doc__)
    parser.add_argument("--surveys", type=int, default=60, help="surveys in the load phase")
    parser.add_argument("--concurrent", type=int, default=20, help="max_concurrent under load")
    parser.add_argument("--baseline", type=int, default=10, help="surveys one at a time first")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed surveys first (default: --concurrent)"
    )
    parser.add_argument(
        "--dialer",
        choices=("pool", "inline"),
        default="pool",
        help="pool: the service's DialerPool (dialling processes); inline: one SipDialer in "
        "this process (4 calls at most)",
    )
    parser.add_argument("--tick", type=float, default=0.05, help="seconds between ticks")
    parser.add_argument(
        "--idle",
        type=float,
        default=20.0,
        help="seconds of idle measured (half before a, half after b)",
    )
    parser.add_argument("--citizens-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.citizens_process:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        asyncio.run(citizens_main())
        return 0
    if args.warmup is None:
        args.warmup = args.concurrent
    for name in ("surveys", "concurrent", "baseline", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 0 < args.tick <= 5:
        parser.error("--tick must be within (0, 5]")
    if not 1 <= args.idle <= 600:
        parser.error("--idle must be within [1, 600] seconds")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bench.ivr_bench import machine

    # Short path: Asterisk's control socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="svbench-") as tmp:
        citizens = max(args.surveys, args.baseline, args.warmup)
        settings = bench_settings(Path(tmp), citizens, args.concurrent)
        info = machine(settings.pbx.embedded.asterisk_binary)
        result = asyncio.run(run(args, settings, Path(tmp), info))
    print(report(result), flush=True)
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
