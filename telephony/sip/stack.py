"""``SipStack``: the asyncio API of the SIP user agents, and the factory for ``Phone`` objects.

Every pjsua2 object lives on the pjsip thread (``pj_thread.PjsipThread``). The stack
starts and stops that thread and marshals work onto it: ``run`` awaits a job's result,
``post`` fires and forgets; neither blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import pjsua2 as pj

from telephony.sip.config import PhoneConfig
from telephony.sip.errors import CallFailed, SipError, SipStackError
from telephony.sip.phone import Phone
from telephony.sip.pj_endpoint import EndpointSettings, compiled_max_calls
from telephony.sip.pj_thread import PjsipThread
from telephony.sip.pj_util import describe_pj_error
from telephony.sip.ports import CallOps, PjsipServices

log = logging.getLogger(__name__)

T = TypeVar("T")


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

    It implements ``ports.PhoneHost`` for its phones and their calls.
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
        limit = self.compiled_max_calls()
        if max_calls is not None and not 0 < max_calls <= limit:
            raise ValueError(
                f"max_calls={max_calls} outside 1..{limit} (PJSUA_MAX_CALLS of this pjsua2 build)"
            )
        self.max_calls = max_calls or limit
        settings = EndpointSettings(
            log_level=log_level,
            route_logs=route_logs,
            user_agent=user_agent,
            max_calls=self.max_calls,
            clock_rate=clock_rate,
        )
        self._pjsip = PjsipThread(settings, shutdown_timeout=shutdown_timeout, poll_ms=poll_ms)
        self._state = "new"
        self._phones: list[Phone] = []

    @staticmethod
    def compiled_max_calls() -> int:
        """Concurrent call legs the installed pjsua2 supports (PJSUA_MAX_CALLS)."""
        return compiled_max_calls()

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and the beginning of ``stop()``."""
        return self._state == "running" and not self._pjsip.done.done()

    @property
    def failure(self) -> BaseException | None:
        """The error that crashed the pjsip event loop, if it did."""
        return self._pjsip.failure

    @property
    def phones(self) -> tuple[Phone, ...]:
        """Phones added to this stack and not closed yet."""
        return tuple(self._phones)

    @property
    def pjsip(self) -> PjsipServices:
        """The pjsip thread's services, for jobs run there (``run``/``post``)."""
        return self._pjsip

    async def start(self) -> Self:
        """Create the Endpoint on a new pjsip thread; raise ``SipStackError`` on failure."""
        if self._state != "new":
            raise SipStackError(f"SipStack cannot be started in state {self._state!r}")
        self._pjsip.claim_endpoint()
        self._state = "starting"
        try:
            started = self._pjsip.start(asyncio.get_running_loop())
        except BaseException:
            self._state = "stopped"
            raise
        try:
            await asyncio.wrap_future(started)
        except asyncio.CancelledError:
            log.warning("SipStack.start() cancelled; stopping the pjsip thread")
            self._pjsip.request_stop()
            self._pjsip.join()
            self._state = "stopped"
            raise
        except Exception as exc:
            self._pjsip.join()
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
        self._pjsip.request_stop()
        try:
            await asyncio.wrap_future(self._pjsip.done)
        except asyncio.CancelledError:
            # Still guarantee that no pjsip thread outlives us.
            log.warning("SipStack.stop() cancelled; joining the pjsip thread synchronously")
            self._pjsip.join()
            raise
        finally:
            if self._pjsip.done.done():
                self._pjsip.join()
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

    # ------------------------------------------------------------------ phones

    async def add_phone(self, config: PhoneConfig) -> Phone:
        """Create a UDP transport on ``config.sip_port`` and an account bound to it."""
        self._require_running()
        if any(p.config.sip_port == config.sip_port for p in self._phones):
            raise SipError(f"SIP port {config.sip_port} is already used by another phone")
        phone = Phone(self, config)
        await phone.open()
        self._phones.append(phone)
        return phone

    def forget_phone(self, phone: object) -> None:
        """Drop a closed phone from ``phones`` (``Phone.close`` calls this)."""
        self._phones = [p for p in self._phones if p is not phone]

    # ------------------------------------------------------------------ commands

    def _require_running(self) -> None:
        if not self.running:
            raise SipStackError(f"SIP stack is not running (state {self._state!r})")

    def post(self, fn: Callable[[], object], what: str) -> None:
        """Run ``fn`` on the pjsip thread, fire and forget (failures are logged)."""
        self._pjsip.post(fn, what)

    async def run(self, fn: Callable[[], T], what: str) -> T:
        """Run ``fn`` on the pjsip thread and return its result (or raise its error)."""
        return await asyncio.wrap_future(self._pjsip.submit(fn, what))

    async def run_on_call(self, key: int, fn: Callable[[CallOps], T], what: str) -> T:
        """Run ``fn`` with the live pjsip-side call ``key`` on the pjsip thread."""
        pjsip = self._pjsip

        def job() -> T:
            call = pjsip.find_call(key)
            if call is None or call.disconnected:
                raise CallFailed(f"cannot {what}: the call has ended")
            return fn(call)

        return await self.run(job, what)

    def post_on_call(self, key: int, fn: Callable[[CallOps], object], what: str) -> None:
        """Run ``fn`` with call ``key`` on the pjsip thread if it still exists."""
        pjsip = self._pjsip

        def job() -> None:
            call = pjsip.find_call(key)
            if call is not None:
                fn(call)

        self._pjsip.post(job, what)

    def notify(self, fn: Callable[..., object], *args: object) -> None:
        """Schedule ``fn(*args)`` on the event loop (from any thread)."""
        self._pjsip.notify(fn, *args)

    def in_pjsip_thread(self) -> bool:
        """True when called on the pjsip thread."""
        return self._pjsip.in_thread()
