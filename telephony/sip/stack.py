"""``SipStack``: the process-wide pjsua2 Endpoint, driven by one dedicated thread.

Threading model: every pjsua2 object is created, used and destroyed on the "pjsip"
thread. Asyncio code talks to it through a command queue (``run``/``post``); the
pjsip thread reports back with ``loop.call_soon_threadsafe``. pjsua2 itself is
configured with ``threadCnt = 0`` and ``mainThreadOnly = True`` so that its own
callbacks (DTMF, logging, ...) are also delivered on the pjsip thread; the only
exception is ``AudioMediaPlayer.onEof2`` (pjmedia event thread), which just posts
a command.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import heapq
import itertools
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import pjsua2 as pj

from telephony.sip.config import PhoneConfig
from telephony.sip.errors import CallFailed, SipError, SipStackError

if TYPE_CHECKING:
    from telephony.sip.calls import PjCall
    from telephony.sip.phones import Phone, PjAccount

log = logging.getLogger(__name__)
pjsip_log = logging.getLogger("telephony.sip.pjsip")

T = TypeVar("T")

# pjsua2's Endpoint is a per-process singleton: held while a SipStack owns it.
_ENDPOINT_GUARD = threading.Lock()

_PJ_TO_PY_LEVEL = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
_REQUEST_URI_PORT = re.compile(r"^\S+\s+sips?:(?:[^@\s]*@)?(?:\[[^\]]*\]|[^:;>\s]+):(\d+)")
_CODEC_PRIORITIES = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}


def describe_pj_error(exc: BaseException) -> str:
    """Readable text for a ``pjsua2.Error`` (whose ``str()`` is empty) or any exception."""
    if isinstance(exc, pj.Error):
        return f"{exc.title}: {exc.reason} (pj status {exc.status})"
    return f"{type(exc).__name__}: {exc}"


def destroy_now(obj: Any) -> None:
    """Delete the C++ object behind a pjsua2 proxy now, on the calling (pjsip) thread.

    Python may drop the last reference to a proxy on any thread (a traceback kept by
    asyncio, a reference cycle collected by the GC on the main thread); pjsua2
    destructors call into pjlib and abort on unregistered threads. Destroying the C++
    side explicitly leaves only an inert Python shell behind.
    """
    if obj is not None and obj.thisown:
        type(obj).__swig_destroy__(obj)


def _set_pj_log_level_early(level: int) -> None:
    """Lower pjlib's log level before ``libCreate`` (its startup banner ignores EpConfig)."""
    try:
        lib = ctypes.CDLL(pj._pjsua2.__file__)
        lib.pj_log_set_level(ctypes.c_int(level))
    except (OSError, AttributeError) as exc:
        log.debug("cannot pre-set pjlib log level: %s", exc)


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    """Routes pjsip log lines to the ``telephony.sip.pjsip`` Python logger."""

    def write(self, entry: Any) -> None:
        try:
            level = _PJ_TO_PY_LEVEL.get(entry.level, logging.DEBUG)
            pjsip_log.log(level, "%s", entry.msg.rstrip())
        except Exception:  # an exception escaping a director callback aborts the process
            log.exception("pjsip log writer failed")


class _Endpoint(pj.Endpoint):  # type: ignore[misc]
    """Endpoint that routes incoming requests to the phone owning the target port."""

    def __init__(self, stack: SipStack) -> None:
        super().__init__()
        self._stack = stack

    def onSelectAccount(self, prm: Any) -> None:
        try:
            acc_id = self._stack._account_for_request(prm.rdata.wholeMsg)
            if acc_id is not None:
                prm.accountIndex = acc_id
        except Exception:
            log.exception("onSelectAccount failed; keeping pjsua's choice")


@dataclass(eq=False)
class PjTimer:
    """A callback scheduled on the pjsip thread (see ``SipStack._call_later``)."""

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


def _running_future() -> concurrent.futures.Future[Any]:
    # RUNNING state: cancelling the awaiting asyncio task cannot cancel it underneath us.
    fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
    fut.set_running_or_notify_cancel()
    return fut


class SipStack:
    """Owns the pjsua2 Endpoint and its thread; the factory for ``Phone`` objects.

    Use ``async with SipStack() as stack:`` or ``await stack.start()`` / ``await
    stack.stop()``. ``log_level`` is pjsip's verbosity (0 = silent .. 6 = everything);
    with ``route_logs`` the lines go to the ``telephony.sip.pjsip`` logger, otherwise
    to stdout.

    ``max_calls`` counts call legs in this process (a call between two local phones
    uses two). The PyPI pjsua2 build caps it at compile time (``PJSUA_MAX_CALLS``,
    4 for pjsua2-python 2.15.1); ``None`` means that cap, more raises ``ValueError``.
    Run more processes for more concurrent calls.
    """

    def __init__(
        self,
        *,
        log_level: int = 1,
        route_logs: bool = True,
        user_agent: str = "hotline-sip",
        max_calls: int | None = None,
        clock_rate: int = 8000,
        shutdown_timeout: float = 5.0,
        poll_ms: int = 10,
    ) -> None:
        if not 0 <= log_level <= 6:
            raise ValueError("log_level must be within 0..6")
        self._log_level = log_level
        self._route_logs = route_logs
        self._user_agent = user_agent
        limit = self.compiled_max_calls()
        if max_calls is not None and not 0 < max_calls <= limit:
            raise ValueError(
                f"max_calls={max_calls} outside 1..{limit} (PJSUA_MAX_CALLS of this pjsua2 build)"
            )
        self.max_calls = max_calls or limit
        self._clock_rate = clock_rate
        self._shutdown_timeout = shutdown_timeout
        self._poll_ms = poll_ms

        self._state = "new"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._done: concurrent.futures.Future[None] = _running_future()
        self._guard_held = False
        self._cmd_lock = threading.Lock()
        self._accepting = False
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self.failure: BaseException | None = None

        # pjsip-thread state (touched only by the pjsip thread)
        self._ep: _Endpoint | None = None
        self._timers: list[tuple[float, int, PjTimer]] = []
        self._seq = itertools.count()
        self._keys = itertools.count(1)
        self._calls: dict[int, PjCall] = {}
        self._to_release: list[int] = []
        self._retired: list[object] = []
        self._accounts: dict[int, PjAccount] = {}
        self._port_to_account: dict[int, int] = {}

        # loop-side state
        self._phones: list[Phone] = []

    @staticmethod
    def compiled_max_calls() -> int:
        """Concurrent call legs the installed pjsua2 supports (PJSUA_MAX_CALLS)."""
        # pjsua_config_default() initialises max_calls to PJSUA_MAX_CALLS.
        return int(pj.UaConfig().maxCalls)

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and the beginning of ``stop()``."""
        return self._state == "running" and not self._done.done()

    @property
    def phones(self) -> tuple[Phone, ...]:
        """Phones added to this stack and not closed yet."""
        return tuple(self._phones)

    async def start(self) -> Self:
        """Create the Endpoint on a new pjsip thread; raise ``SipStackError`` on failure."""
        if self._state != "new":
            raise SipStackError(f"SipStack cannot be started in state {self._state!r}")
        if not _ENDPOINT_GUARD.acquire(blocking=False):
            raise SipStackError(
                "another SipStack is already running in this process; "
                "pjsua2 allows only one Endpoint per process"
            )
        self._guard_held = True
        self._state = "starting"
        self._loop = asyncio.get_running_loop()
        self._accepting = True
        started = _running_future()
        self._thread = threading.Thread(
            target=self._thread_main, args=(started,), name="pjsip", daemon=False
        )
        try:
            self._thread.start()
        except BaseException:
            self._state = "stopped"
            self._release_guard()
            raise
        try:
            await asyncio.wrap_future(started)
        except asyncio.CancelledError:
            log.warning("SipStack.start() cancelled; stopping the pjsip thread")
            self._stop_requested.set()
            self._join_blocking()
            self._state = "stopped"
            raise
        except Exception as exc:
            self._join_blocking()
            self._state = "stopped"
            raise SipStackError(f"pjsip stack failed to start: {describe_pj_error(exc)}") from exc
        self._state = "running"
        log.info("SIP stack started (pjsua2 %s)", pj.__version__)
        return self

    async def stop(self) -> None:
        """Hang up all calls, destroy the Endpoint and join the thread. Idempotent."""
        if self._state in ("new", "stopped"):
            self._state = "stopped"
            return
        self._state = "stopping"
        self._stop_requested.set()
        try:
            await asyncio.wrap_future(self._done)
        except asyncio.CancelledError:
            # Still guarantee that no pjsip thread outlives us.
            log.warning("SipStack.stop() cancelled; joining the pjsip thread synchronously")
            self._join_blocking()
            raise
        finally:
            if self._done.done():
                self._join_blocking()
                self._state = "stopped"
                self._phones.clear()
        log.info("SIP stack stopped")

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _join_blocking(self) -> None:
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

    # ------------------------------------------------------------------ phones

    async def add_phone(self, config: PhoneConfig) -> Phone:
        """Create a UDP transport on ``config.sip_port`` and an account bound to it."""
        from telephony.sip.phones import Phone

        self._require_running()
        if any(p.config.sip_port == config.sip_port for p in self._phones):
            raise SipError(f"SIP port {config.sip_port} is already used by another phone")
        phone = Phone(self, config)
        await phone._create()
        self._phones.append(phone)
        return phone

    def _forget_phone(self, phone: Phone) -> None:
        if phone in self._phones:
            self._phones.remove(phone)

    # ------------------------------------------------------------------ commands

    def _require_running(self) -> None:
        if self._state != "running" or self._done.done():
            raise SipStackError(f"SIP stack is not running (state {self._state!r})")

    def _enqueue(self, cmd: _Command) -> None:
        with self._cmd_lock:
            if not self._accepting:
                raise SipStackError(f"SIP stack is not running; cannot {cmd.what}")
            self._commands.put(cmd)

    def post(self, fn: Callable[[], object], what: str) -> None:
        """Run ``fn`` on the pjsip thread, fire and forget (failures are logged)."""
        self._enqueue(_Command(fn, what))

    async def run(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` on the pjsip thread and return its result (or raise its error)."""
        result: concurrent.futures.Future[T] = _running_future()
        self._enqueue(_Command(fn, what, result))
        return await asyncio.wrap_future(result)

    async def _on_call(self, key: int, fn: Callable[[PjCall], T], what: str) -> T:
        """Run ``fn`` with the live pjsip-side call ``key`` on the pjsip thread."""

        def job() -> T:
            core = self._calls.get(key)
            if core is None or core.disconnected:
                raise CallFailed(f"cannot {what}: the call has ended")
            return fn(core)

        return await self.run(job, what)

    def in_pjsip_thread(self) -> bool:
        """True when called on the pjsip thread."""
        return threading.current_thread() is self._thread

    # --------------------------------------------------- pjsip thread -> asyncio

    def _notify(self, fn: Callable[..., object], *args: object) -> None:
        """Schedule ``fn(*args)`` on the event loop (from any thread)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.debug("event loop closed; dropped notification %r", fn)

    # ------------------------------------------------------ pjsip-thread helpers

    @property
    def _endpoint(self) -> _Endpoint:
        if self._ep is None:
            raise SipStackError("pjsua2 Endpoint is not available")
        return self._ep

    def _call_later(self, delay: float, fn: Callable[[], None], what: str) -> PjTimer:
        """Schedule ``fn`` on the pjsip thread after ``delay`` seconds (pjsip thread only)."""
        timer = PjTimer(time.monotonic() + max(delay, 0.0), fn, what)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    def _new_key(self) -> int:
        return next(self._keys)

    def _register_call(self, core: PjCall) -> None:
        self._calls[core.key] = core

    def _schedule_release(self, key: int) -> None:
        """Drop the Python ``Call`` object once the current pjsua callback has returned."""
        self._to_release.append(key)

    def _retire(self, obj: object, delay: float = 0.5) -> None:
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

        self._call_later(delay, drop, "destroy retired media")

    def _register_account(self, acc_id: int, sip_port: int, acc: PjAccount) -> None:
        self._accounts[acc_id] = acc
        self._port_to_account[sip_port] = acc_id

    def _unregister_account(self, acc_id: int) -> PjAccount | None:
        for port, aid in list(self._port_to_account.items()):
            if aid == acc_id:
                del self._port_to_account[port]
        return self._accounts.pop(acc_id, None)

    def _account_for_request(self, whole_msg: str) -> int | None:
        match = _REQUEST_URI_PORT.match(whole_msg)
        if match is None:
            return None
        return self._port_to_account.get(int(match.group(1)))

    # ------------------------------------------------------------ pjsip thread

    def _thread_main(self, started: concurrent.futures.Future[None]) -> None:
        try:
            try:
                self._ep = self._create_endpoint()
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

    def _create_endpoint(self) -> _Endpoint:
        _set_pj_log_level_early(self._log_level)
        ep = _Endpoint(self)
        self._ep = ep
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = self.max_calls
        cfg.uaConfig.userAgent = self._user_agent
        cfg.logConfig.level = self._log_level
        cfg.logConfig.consoleLevel = self._log_level
        if self._route_logs:
            writer = _LogWriter()
            cfg.logConfig.writer = writer
            cfg.logConfig.decor = pj.PJ_LOG_HAS_SENDER | pj.PJ_LOG_HAS_SPACE  # logging adds time
            # The Endpoint deletes its writer in libDestroy(): hand ownership to C++.
            writer.__disown__()
        cfg.medConfig.clockRate = self._clock_rate
        cfg.medConfig.sndClockRate = self._clock_rate
        cfg.medConfig.channelCount = 1
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, _CODEC_PRIORITIES.get(codec.codecId, 0))
        ep.libStart()
        return ep

    def _event_loop(self) -> None:
        ep = self._endpoint
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
        self._endpoint.libHandleEvents(ms)
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
            core = self._calls.pop(self._to_release.pop(), None)
            if core is not None:
                core.destroy()

    def _shutdown_in_thread(self) -> None:
        if self._ep is None:
            return
        try:
            self._drain_commands()  # honour commands queued before stop(), e.g. hangups
            for core in list(self._calls.values()):
                core.hangup_for_shutdown()
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
            for core in list(self._calls.values()):
                core.force_release()
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
                acc = self._unregister_account(acc_id)
                if acc is not None:
                    acc.shutdown_account(close_transport=False)  # libDestroy closes them
        except Exception:
            log.exception("error while shutting down pjsip objects")
        finally:
            self._destroy_endpoint()

    def _destroy_endpoint(self) -> None:
        ep, self._ep = self._ep, None
        if ep is None:
            return
        try:
            ep.libDestroy()
        except Exception as exc:
            log.error("libDestroy failed: %s", describe_pj_error(exc))
        # Deleting the Endpoint object clears pjsua2's singleton for a later SipStack.
        destroy_now(ep)
