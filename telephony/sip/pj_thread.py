"""``PjsipThread``: the one thread that owns the pjsua2 Endpoint and every pjsua2 object.

Threading model: every pjsua2 object is created, used and destroyed on the "pjsip"
thread. Other threads hand it work through a command queue (``submit``/``post``);
it reports back to the event loop with ``loop.call_soon_threadsafe`` (``notify``).
pjsua2 itself is configured with ``threadCnt = 0`` and ``mainThreadOnly = True`` so
that its own callbacks (DTMF, logging, ...) are also delivered on the pjsip thread;
the only exception is ``AudioMediaPlayer.onEof2`` (pjmedia event thread), which just
posts a command.

The asyncio API on top of it is ``telephony.sip.stack.SipStack``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telephony.sip.errors import SipStackError
from telephony.sip.pj_endpoint import (
    EndpointSettings,
    RoutingEndpoint,
    destroy_endpoint,
    init_endpoint,
)
from telephony.sip.pj_util import describe_pj_error, destroy_now
from telephony.sip.ports import ManagedAccount, ManagedCall

log = logging.getLogger(__name__)

T = TypeVar("T")

# pjsua2's Endpoint is a per-process singleton: held while a PjsipThread owns it.
_ENDPOINT_GUARD = threading.Lock()

_REQUEST_URI_PORT = re.compile(r"^\S+\s+sips?:(?:[^@\s]*@)?(?:\[[^\]]*\]|[^:;>\s]+):(\d+)")


@dataclass(eq=False)
class PjTimer:
    """A callback scheduled on the pjsip thread (see ``PjsipThread.call_later``)."""

    deadline: float
    fn: Callable[[], None]
    what: str
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass(eq=False)
class _Command:
    fn: Callable[[], Any]
    what: str
    result: concurrent.futures.Future[Any] | None = field(default=None)

    def execute(self) -> None:
        try:
            value = self.fn()
        except Exception as exc:
            if self.result is None:
                log.exception("pjsip command %r failed", self.what)
            else:
                self.result.set_exception(exc)
        else:
            if self.result is not None:
                self.result.set_result(value)

    def abandon(self, exc: BaseException) -> None:
        if self.result is not None:
            self.result.set_exception(exc)
        else:
            log.debug("dropped pjsip command %r: %s", self.what, exc)


def running_future() -> concurrent.futures.Future[Any]:
    """A future in RUNNING state: cancelling an asyncio task awaiting it cannot cancel it."""
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
    fut.set_running_or_notify_cancel()
    return fut


class PjsipThread:
    """The pjsip thread: its command queue, timers, Endpoint, calls and accounts.

    Its owner (``SipStack``, on the event loop) calls ``claim_endpoint``, ``start``,
    ``request_stop`` and ``join``; ``done`` resolves when the thread has finished. It
    implements ``PjsipServices`` for the pjsip-side objects.
    """

    def __init__(
        self, settings: EndpointSettings, *, shutdown_timeout: float, poll_ms: int
    ) -> None:
        self._settings = settings
        self._shutdown_timeout = shutdown_timeout
        self._poll_ms = poll_ms
        self.failure: BaseException | None = None

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._done: concurrent.futures.Future[None] = running_future()
        self._guard_held = False
        self._cmd_lock = threading.Lock()
        self._accepting = False
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._keys = itertools.count(1)

        # touched only by the pjsip thread
        self._ep: RoutingEndpoint | None = None
        self._timers: list[tuple[float, int, PjTimer]] = []
        self._seq = itertools.count()
        self._calls: dict[int, ManagedCall] = {}
        self._to_release: list[int] = []
        self._retired: list[object] = []
        self._accounts: dict[int, ManagedAccount] = {}
        self._port_to_account: dict[int, int] = {}

    # ------------------------------------------------------------- owner side

    @property
    def done(self) -> concurrent.futures.Future[None]:
        """Resolves once the thread has shut pjsip down (or failed to start it)."""
        return self._done

    def claim_endpoint(self) -> None:
        """Take the process-wide Endpoint slot; ``SipStackError`` if another stack has it."""
        if not _ENDPOINT_GUARD.acquire(blocking=False):
            raise SipStackError(
                "another SipStack is already running in this process; "
                "pjsua2 allows only one Endpoint per process"
            )
        self._guard_held = True

    def start(self, loop: asyncio.AbstractEventLoop) -> concurrent.futures.Future[None]:
        """Start the thread (after ``claim_endpoint``); the result resolves once pjsua runs.

        Notifications go to ``loop``. If the thread cannot be started, the Endpoint slot
        is released and the error raised.
        """
        self._loop = loop
        self._accepting = True
        started: concurrent.futures.Future[None] = running_future()
        self._thread = threading.Thread(
            target=self._thread_main, args=(started,), name="pjsip", daemon=False
        )
        try:
            self._thread.start()
        except BaseException:
            self._release_guard()
            raise
        return started

    def request_stop(self) -> None:
        """Ask the thread to hang up, destroy the Endpoint and finish (see ``done``)."""
        self._stop_requested.set()

    def join(self) -> None:
        """Wait (blocking, bounded) for the thread to finish."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout=self._shutdown_timeout + 10.0)
        if thread.is_alive():
            log.error("pjsip thread did not finish within %.1f s", self._shutdown_timeout + 10)

    def _release_guard(self) -> None:
        if self._guard_held:
            self._guard_held = False
            _ENDPOINT_GUARD.release()

    # -------------------------------------------------------------- any thread

    def in_thread(self) -> bool:
        """True when called on the pjsip thread."""
        return threading.current_thread() is self._thread

    def _enqueue(self, cmd: _Command) -> None:
        with self._cmd_lock:
            if not self._accepting:
                raise SipStackError(f"SIP stack is not running; cannot {cmd.what}")
            self._commands.put(cmd)

    def post(self, fn: Callable[[], object], what: str) -> None:
        """Run ``fn`` on the pjsip thread, fire and forget (failures are logged)."""
        self._enqueue(_Command(fn, what))

    def submit(self, fn: Callable[[], T], what: str) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the pjsip thread; the future gets its result or error."""
        result: concurrent.futures.Future[T] = running_future()
        self._enqueue(_Command(fn, what, result))
        return result

    def notify(self, fn: Callable[..., object], *args: object) -> None:
        """Schedule ``fn(*args)`` on the event loop."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.debug("event loop closed; dropped notification %r", fn)

    def new_key(self) -> int:
        """A fresh id for a call or a player."""
        return next(self._keys)

    # ------------------------------------------------------ pjsip thread only

    @property
    def endpoint(self) -> RoutingEndpoint:
        if self._ep is None:
            raise SipStackError("pjsua2 Endpoint is not available")
        return self._ep

    def call_later(self, delay: float, fn: Callable[[], None], what: str) -> PjTimer:
        """Schedule ``fn`` on the pjsip thread after ``delay`` seconds."""
        timer = PjTimer(time.monotonic() + max(delay, 0.0), fn, what)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    def retire(self, obj: object, delay: float = 0.5) -> None:
        """Keep ``obj`` (a stopped player) alive a little longer, then destroy it.

        pjmedia removes conference ports asynchronously and delivers EOF events on
        its own thread, so destroying a player right after ``stopTransmit`` can let a
        late ``onEof2`` run on a freed object.
        """
        self._retired.append(obj)

        def drop() -> None:
            if obj in self._retired:
                self._retired.remove(obj)
                destroy_now(obj)

        self.call_later(delay, drop, "destroy retired media")

    def add_call(self, call: ManagedCall) -> None:
        self._calls[call.key] = call

    def find_call(self, key: int) -> ManagedCall | None:
        return self._calls.get(key)

    def remove_call(self, key: int) -> None:
        self._calls.pop(key, None)

    def release_call(self, key: int) -> None:
        """Drop call ``key`` once the current pjsua callback has returned."""
        self._to_release.append(key)

    def add_account(self, acc_id: int, sip_port: int, account: ManagedAccount) -> None:
        self._accounts[acc_id] = account
        self._port_to_account[sip_port] = acc_id

    def find_account(self, acc_id: int) -> ManagedAccount | None:
        return self._accounts.get(acc_id)

    def remove_account(self, acc_id: int) -> ManagedAccount | None:
        for port, aid in list(self._port_to_account.items()):
            if aid == acc_id:
                del self._port_to_account[port]
        return self._accounts.pop(acc_id, None)

    def _account_for_request(self, whole_msg: str) -> int | None:
        match = _REQUEST_URI_PORT.match(whole_msg)
        if match is None:
            return None
        return self._port_to_account.get(int(match.group(1)))

    # ------------------------------------------------------------ thread body

    def _thread_main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            try:
                self._ep = RoutingEndpoint(self._account_for_request)
                init_endpoint(self._ep, self._settings)
            except Exception as exc:
                log.error("pjsua2 initialisation failed: %s", describe_pj_error(exc))
                self._destroy_endpoint()
                started.set_exception(exc)
                return
            started.set_result(None)
            try:
                self._event_loop()
            except Exception as exc:
                log.exception("pjsip event loop crashed; shutting the stack down")
                self.failure = exc
            finally:
                self._shutdown_in_thread()
        finally:
            with self._cmd_lock:
                self._accepting = False
            self._abandon_commands()
            self._release_guard()
            self._done.set_result(None)

    def _event_loop(self) -> None:
        ep = self.endpoint
        loop = self._loop
        main_thread = threading.main_thread()
        while not self._stop_requested.is_set():
            if not main_thread.is_alive():
                log.warning("main thread exited without SipStack.stop(); shutting pjsip down")
                break
            if loop is not None and loop.is_closed():
                log.warning("event loop closed without SipStack.stop(); shutting pjsip down")
                break
            self._drain_commands()
            self._run_due_timers()
            ep.libHandleEvents(self._poll_timeout_ms())
            self._flush_releases()

    def _poll(self, ms: int) -> None:
        """One polling round used while shutting down."""
        self.endpoint.libHandleEvents(ms)
        self._run_due_timers()
        self._flush_releases()

    def _drain_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            cmd.execute()

    def _abandon_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            cmd.abandon(SipStackError(f"SIP stack stopped before it could {cmd.what}"))

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            try:
                timer.fn()
            except Exception:
                log.exception("pjsip timer %r failed", timer.what)

    def _poll_timeout_ms(self) -> int:
        if not self._timers:
            return self._poll_ms
        wait_ms = int((self._timers[0][0] - time.monotonic()) * 1000)
        return max(0, min(self._poll_ms, wait_ms))

    def _flush_releases(self) -> None:
        while self._to_release:
            call = self._calls.pop(self._to_release.pop(), None)
            if call is not None:
                call.destroy()

    def _shutdown_in_thread(self) -> None:
        if self._ep is None:
            return
        try:
            self._drain_commands()  # honour commands queued before stop(), e.g. hangups
            for call in list(self._calls.values()):
                call.hangup_for_shutdown()
            deadline = time.monotonic() + self._shutdown_timeout
            while time.monotonic() < deadline and any(
                not c.disconnected or c.finalizing for c in self._calls.values()
            ):
                self._poll(10)
            leftover = [c for c in self._calls.values() if not c.disconnected]
            if leftover:
                log.warning(
                    "%d call(s) not disconnected after %.1f s; dropping them",
                    len(leftover),
                    self._shutdown_timeout,
                )
            for call in list(self._calls.values()):
                call.force_release()
            # Let the conference bridge apply the port removals before destroying players.
            settle = time.monotonic() + 0.1
            while time.monotonic() < settle:
                self._poll(10)
            # Every Call, player, recorder and Account must be gone before libDestroy().
            self._timers.clear()
            self._to_release.clear()
            while self._calls:
                self._calls.popitem()[1].destroy()
            while self._retired:
                destroy_now(self._retired.pop())
            for acc_id in list(self._accounts):
                account = self.remove_account(acc_id)
                if account is not None:
                    account.shutdown_account(close_transport=False)  # libDestroy closes them
        except Exception:
            log.exception("error while shutting down pjsip objects")
        finally:
            self._destroy_endpoint()

    def _destroy_endpoint(self) -> None:
        ep, self._ep = self._ep, None
        if ep is not None:
            destroy_endpoint(ep)
