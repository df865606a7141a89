"""``hotline demo``: the whole system on one machine with simulated agents and callers.

Starts the private Asterisk and the service, registers one simulated agent phone per configured
agent, then sends callers to the service number at random (Poisson) for the chosen duration and
prints a live summary. Callers walk the IVR menu (one in five in English, pressing 9), choose a
request kind, then have a random patience and abandon when it runs out; agents
answer after a ring and hang up after a random talk time. Everything stops on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hotline.agents.importer import import_agents, load_agents_file
from hotline.app.pbx import embedded_pbx
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.calls.store import CallSummary
from telephony.audio import synthesize
from telephony.sip.errors import CallFailed
from telephony.sip.pool import PhonePool, Track
from telephony.tracker import CallUpdate

log = logging.getLogger(__name__)

CALLER_LINES = [
    "Hello, the street light on Renmin Road has been broken for a week.",
    "I would like to ask how to renew my residence permit.",
    "There is loud construction noise at night near my building.",
    "I want to complain about a taxi driver who refused to use the meter.",
]
AGENT_LINE = "Twelve three four five citizen hotline, how may I help you?"


@dataclass(frozen=True)
class DemoOptions:
    duration: float
    rate_per_minute: float
    agents: int
    seed: int | None
    since: datetime
    agents_file: Path  # the agents (skills) to import and log in at the registered phones
    max_workers: int = 6  # SIP worker processes (4 call legs each)


@dataclass
class DemoCounters:
    placed: int = 0
    at_capacity: int = 0
    active: set[asyncio.Task[None]] = field(default_factory=set)


async def run_demo(settings: Settings, secrets: Secrets, opts: DemoOptions) -> None:
    rng = random.Random(opts.seed)
    sounds_dir = settings.pbx.embedded.runtime_dir.resolve() / "demo-sounds"
    sounds = await asyncio.to_thread(_make_sounds, sounds_dir)
    emb = settings.pbx.embedded
    registrar = f"sip:{emb.bind}:{emb.sip_port}"
    service_uri = f"sip:{settings.service_number}@{emb.bind}:{emb.sip_port}"
    service = await Service.build(settings, secrets)  # before the PBX: prompts ready first
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(embedded_pbx(settings, secrets))
        stack.push_async_callback(_cancel, asyncio.create_task(service.run(), name="service"))
        await asyncio.wait_for(service.ami.connected.wait(), 15)
        await asyncio.wait_for(service.ivr.server.listening.wait(), 15)
        pool = PhonePool(max_workers=opts.max_workers)
        stack.push_async_callback(pool.close)
        agents = settings.pbx.agents[: opts.agents or None]
        for agent in agents:
            await pool.add_agent(
                agent.extension,
                registrar,
                secrets.agent_passwords[agent.extension],
                after_ms=rng.randint(800, 2500),
                hangup_after_s=rng.uniform(5, 15),
                play=str(sounds["agent"]),
            )
        # The people at those phones: imported (skills), then logged in, which adds them to
        # the queues their skills open.
        specs = await asyncio.to_thread(load_agents_file, opts.agents_file)
        await asyncio.to_thread(import_agents, service.agents, specs, os.environ)
        await asyncio.wait_for(service.desk.reconciled.wait(), 15)
        seats = {a.extension for a in agents}
        for spec in specs:
            if spec.extension in seats:
                await service.desk.login(spec.agent_id, spec.extension)
                # The demo's people go home with it: logged out before the PBX stops.
                stack.push_async_callback(service.desk.logout, spec.agent_id)
        print(
            f"demo: {len(agents)} agent(s) registered; calling {settings.service_number} at "
            f"~{opts.rate_per_minute:g}/min for {opts.duration:g} s (Ctrl-C stops)",
            flush=True,
        )
        counters = DemoCounters()
        started = time.monotonic()
        printer = asyncio.create_task(_print_summaries(service, settings, opts, counters, started))
        stack.push_async_callback(_cancel, printer)
        try:
            await _place_calls(pool, service, service_uri, settings, opts, rng, sounds, counters)
            if counters.active:
                print(f"demo: waiting for {len(counters.active)} call(s) in progress", flush=True)
                await asyncio.wait(counters.active, timeout=90)
        except asyncio.CancelledError:
            # Ctrl-C (or SIGTERM): the calls still up are hung up and the final summary is
            # printed as at the normal end, then the cancellation goes on (exit 130 / 0).
            log.info("demo interrupted: hanging up %d call(s)", len(counters.active))
            await _cancel(printer)
            await _hang_up(service, counters)
            await _print_final(service, settings, opts, counters, started)
            raise
        await _cancel(printer)
        await _print_final(service, settings, opts, counters, started)


async def _place_calls(
    pool: PhonePool,
    service: Service,
    service_uri: str,
    settings: Settings,
    opts: DemoOptions,
    rng: random.Random,
    sounds: dict[str, Path],
    counters: DemoCounters,
) -> None:
    """Callers at random (Poisson) for ``opts.duration`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < opts.duration:
        await asyncio.sleep(rng.expovariate(opts.rate_per_minute / 60.0))
        if time.monotonic() - started >= opts.duration:
            break
        number = "1" + str(rng.choice([3, 5, 8])) + "".join(rng.choices("0123456789", k=9))
        speech = sounds[f"caller{rng.randrange(len(CALLER_LINES))}"]
        track = await pool.call(number, service_uri, str(speech))
        if track is None:
            counters.at_capacity += 1
            continue
        counters.placed += 1
        menu = _menu_keys(settings, rng)
        task = asyncio.create_task(_caller(pool, track, service, number, rng.uniform(5, 40), menu))
        counters.active.add(task)
        task.add_done_callback(counters.active.discard)


async def _hang_up(service: Service, counters: DemoCounters, timeout: float = 10.0) -> None:
    """Stop every simulated caller (each hangs up its call), then wait, up to ``timeout`` s,
    until the PBX has reported every call ended and it is stored: the final figures count
    those calls as ended, not in progress."""
    callers = list(counters.active)
    for task in callers:
        task.cancel()
    if callers:
        await asyncio.wait(callers, timeout=timeout)
    tracker, recorder = service.calls.tracker, service.calls.recorder
    idle = asyncio.Event()

    def watch(update: CallUpdate) -> None:  # after each stored update
        if not tracker.active:
            idle.set()

    recorder.subscribe(watch)
    try:
        if tracker.active:
            await asyncio.wait_for(idle.wait(), timeout)
    except TimeoutError:
        log.warning("%d call(s) still up %.0f s after the hang-ups", len(tracker.active), timeout)
    finally:
        recorder.unsubscribe(watch)


async def _print_final(
    service: Service, settings: Settings, opts: DemoOptions, counters: DemoCounters, started: float
) -> None:
    """The final summary line (at the normal end and on Ctrl-C alike)."""
    await service.calls.recorder.drain()
    summary = await asyncio.to_thread(
        service.store.summary,
        opts.since,
        settings.short_abandon_seconds,
        settings.service_level_seconds,
    )
    live = len(service.calls.tracker.active)
    print(_summary_line("final", time.monotonic() - started, summary, live, counters))
    print(_service_level_line(settings, summary), flush=True)
    print(
        f"demo: call records in {settings.database.url} (list them with `hotline calls`), "
        f"recordings in {settings.pbx.recordings_dir.resolve()}",
        flush=True,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it. Its own cancellation is expected; a cancellation of
    the caller (a second Ctrl-C) goes on, and a failure of the task is raised, not hidden."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()


def _make_sounds(folder: Path) -> dict[str, Path]:
    sounds = {"agent": synthesize(AGENT_LINE, folder / "agent.wav")}
    for i, line in enumerate(CALLER_LINES):
        sounds[f"caller{i}"] = synthesize(line, folder / f"caller{i}.wav")
    return sounds


def _menu_keys(settings: Settings, rng: random.Random) -> list[tuple[str, str]]:
    """What a simulated caller presses in the shipped menu: (node, key) pairs."""
    route = next(r for r in settings.pbx.inbound if r.number == settings.service_number)
    menu = settings.ivr.menus.get(route.menu or "")
    if menu is None or "kind" not in menu.nodes:
        return []  # no menu (or a custom one): the caller just waits
    keys = [("welcome", "9")] if rng.random() < 0.2 and "welcome" in menu.nodes else []
    choices = [k for k, t in menu.nodes["kind"].options.items() if t.queue]
    return [*keys, ("kind", rng.choice(choices))] if choices else keys


async def _walk_menu(
    pool: PhonePool, track: Track, service: Service, number: str, keys: list[tuple[str, str]]
) -> None:
    """Press each key once the caller's menu walk is at its node (as a listener would)."""
    for node, key in keys:
        deadline = time.monotonic() + 60
        while True:
            walk = service.ivr.app.find(number)
            if walk is not None and walk.node == node and walk.listening:
                break
            if time.monotonic() > deadline or track.ended.done():
                return
            await asyncio.sleep(0.1)
        pool.send_dtmf(track, key)


async def _caller(
    pool: PhonePool,
    track: Track,
    service: Service,
    number: str,
    patience: float,
    menu: list[tuple[str, str]],
) -> None:
    """One simulated citizen: walks the menu, then waits up to ``patience`` s for an agent."""
    try:
        await asyncio.wait_for(asyncio.shield(track.answered), 15)
        await _walk_menu(pool, track, service, number, menu)
        connected = asyncio.Event()

        def watch(update: CallUpdate) -> None:
            if update.record.caller_number == number and update.record.answered_at is not None:
                connected.set()

        service.calls.recorder.subscribe(watch)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connected.wait(), patience)
        finally:
            service.calls.recorder.unsubscribe(watch)
        if not connected.is_set():
            pool.hangup(track)  # patience ran out: the caller abandons
        await asyncio.wait_for(asyncio.shield(track.ended), 120)
    except (CallFailed, TimeoutError) as exc:
        log.warning("demo caller %s failed: %s", number, exc)
        pool.hangup(track)
    except asyncio.CancelledError:
        pool.hangup(track)  # the demo is stopping: the caller hangs up ...
        await asyncio.wait([track.ended], timeout=5)  # ... and the PBX sees the call end
        raise


async def _print_summaries(
    service: Service, settings: Settings, opts: DemoOptions, counters: DemoCounters, started: float
) -> None:
    while True:
        await asyncio.sleep(5)
        summary = await asyncio.to_thread(
            service.store.summary,
            opts.since,
            settings.short_abandon_seconds,
            settings.service_level_seconds,
        )
        live = len(service.calls.tracker.active)
        line = _summary_line("live", time.monotonic() - started, summary, live, counters)
        line += f" | in IVR {len(service.ivr.app.active)}"
        print(line, flush=True)


def _summary_line(
    label: str, elapsed: float, s: CallSummary, live: int, counters: DemoCounters
) -> str:
    asa = f"{s.asa:.1f}s" if s.asa is not None else "-"
    aht = f"{s.aht:.1f}s" if s.aht is not None else "-"
    sl = f"{s.service_level:.0%}" if s.service_level is not None else "-"
    extra = f" not-placed {counters.at_capacity}" if counters.at_capacity else ""
    return (
        f"[{label} {elapsed:5.0f}s] offered {s.offered} answered {s.answered} "
        f"abandoned {s.abandoned} ({_abandonment(s)}, short {s.short_abandons}) "
        f"in-progress {live} SL {sl} ASA {asa} AHT {aht} | placed {counters.placed}{extra}"
    )


def _abandonment(s: CallSummary) -> str:
    return f"{s.abandoned / s.offered:.0%}" if s.offered else "-"


def _service_level_line(settings: Settings, s: CallSummary) -> str:
    """The verdict: service level against the configured target, and abandonment."""
    target = settings.service_level_target
    if s.service_level is None:
        return "demo: no call was offered to a queue: no service level"
    verdict = "met" if s.service_level >= target else "missed"
    return (
        f"demo: service level {s.service_level:.0%} answered within "
        f"{settings.service_level_seconds:g} s (target {target:.0%}: {verdict}), "
        f"abandoned {_abandonment(s)} of {s.offered} offered"
    )
