"""``hotline worker``'s parent process: keeps N worker processes running (one that dies is
replaced, with a growing pause when it keeps dying at once), and on SIGTERM or Ctrl-C asks each
to stop (SIGTERM), waits for them to finish their current job, then exits. With a metrics
endpoint, process slot n serves its own Prometheus metrics on the endpoint's port + n (a
replacement takes its slot's port over), see ``hotline.telemetry.endpoint``."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.core.signals import stop_signals_blocked
from hotline.telemetry.endpoint import MetricsEndpoint

log = logging.getLogger(__name__)

QUICK_DEATH = 10.0  # seconds: a process that dies sooner is restarted after a pause
MAX_PAUSE = 60.0


@dataclass
class _Slot:
    proc: multiprocessing.process.BaseProcess | None = None
    started: float = 0.0
    pause: float = 0.0  # before the next restart (0: at once)
    due: float = 0.0
    restarts: int = field(default=0)


def run_pool(
    name: str,
    target: Callable[..., None],
    args: tuple[Any, ...],
    processes: int,
    stop_timeout: float,
    metrics: MetricsEndpoint | None = None,
) -> int:
    """Run ``processes`` copies of ``target(*args)`` until SIGTERM (exit 0) or SIGINT (130);
    with ``metrics``, slot n's copy is ``target(*args, metrics=metrics.for_slot(n))``."""
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter per worker
    stopping = threading.Event()
    interrupted = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = interrupted or signum == signal.SIGINT
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    slots = [_Slot() for _ in range(processes)]
    log.info("%s: starting %d worker process(es)", name, processes)
    try:
        while not stopping.is_set():
            now = time.monotonic()
            for n, slot in enumerate(slots):
                if slot.proc is not None and slot.proc.is_alive():
                    continue
                if slot.proc is not None:  # it died
                    lived = now - slot.started
                    slot.pause = (
                        min(max(slot.pause * 2, 1.0), MAX_PAUSE) if lived < QUICK_DEATH else 0.0
                    )
                    slot.due = now + slot.pause
                    then = f"restarting in {slot.pause:.0f} s" if slot.pause else "restarting"
                    log.error(
                        "%s: worker process %s exited (code %s) after %.0f s; %s",
                        name,
                        slot.proc.pid,
                        slot.proc.exitcode,
                        lived,
                        then,
                    )
                    slot.proc = None
                    slot.restarts += 1
                if now < slot.due:
                    continue
                kwargs = {"metrics": metrics.for_slot(n)} if metrics is not None else {}
                slot.proc = ctx.Process(target=target, args=args, kwargs=kwargs, name=f"{name}-{n}")
                with stop_signals_blocked():  # the worker handles them once it can
                    slot.proc.start()
                slot.started = now
            stopping.wait(0.5)
    finally:
        _stop_all(name, [s.proc for s in slots if s.proc is not None], stop_timeout)
    return 130 if interrupted else 0


def _stop_all(
    name: str, procs: list[multiprocessing.process.BaseProcess], stop_timeout: float
) -> None:
    alive = [p for p in procs if p.is_alive()]
    log.info("%s: stopping %d worker process(es)", name, len(alive))
    for proc in alive:
        if proc.pid is not None:
            os.kill(proc.pid, signal.SIGTERM)
    # Their own stop gives back a job after stop_timeout; allow for the give-back itself.
    deadline = time.monotonic() + stop_timeout + 30
    for proc in alive:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            log.error("%s: worker process %s did not stop; killing it", name, proc.pid)
            proc.kill()
            proc.join()
        elif proc.exitcode:
            log.warning("%s: worker process %s exited with code %s", name, proc.pid, proc.exitcode)
