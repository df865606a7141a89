"""A supervised AMI connection: asyncio's TCP transport around the sans-I/O protocol.

``telephony.ami.protocol.AmiProtocol`` does all the parsing and matches answers to actions;
``AmiLink`` is the thin asyncio protocol that feeds it the bytes read and hands out what it
parses (events to ``on_event``, answers to whoever awaits them). On top, for a service that
must run for months:

* a heartbeat: a ``Ping`` every ``heartbeat_interval`` s; no answer within ``heartbeat_timeout``
  means the connection is dead even if TCP has not noticed (a silently dropped link), so it is
  closed and re-opened;
* reconnection with bounded, jittered exponential backoff;
* bad credentials are fatal (``AmiAuthError``): retrying them only fills the PBX's security log;
* ``on_connected`` runs after every successful login, so callers can re-read live state;
* ``send`` returns the typed, whole answer (``AmiResponse``; a list's events in ``events``).

panoramisk (a dependency for FastAGI) is not used here: its public ``Manager`` logs in,
pings and reconnects by itself (retrying refused credentials forever) and parses with its own
protocol class, which can be replaced only through its internals. See
``docs/decisions/0001-ami-parser.md``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

from telephony.ami.events import AmiEvent, AmiResponse
from telephony.ami.protocol import ActionValue, AmiBanner, AmiMalformed, AmiProtocol
from telephony.errors import AmiActionError, AmiAuthError, AmiError, AmiNotConnected
from telephony.settings import AmiSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[AmiEvent], None]
ConnectedHandler = Callable[[], Awaitable[None]]


class AmiLink(asyncio.Protocol):
    """One TCP connection to a PBX: bytes in through ``AmiProtocol``, actions out.

    Events go to ``on_event`` in arrival order (an exception there is logged, the stream goes
    on); answers resolve the future ``send`` returned; ``on_lost`` runs once the connection is
    gone, after every unanswered action has failed with ``AmiNotConnected``.
    """

    def __init__(
        self,
        on_event: EventHandler,
        on_lost: Callable[[AmiLink, BaseException | None], None] | None = None,
    ) -> None:
        self.protocol = AmiProtocol()
        self.transport: asyncio.Transport | None = None
        self._on_event = on_event
        self._on_lost = on_lost
        self._waiting: dict[str, asyncio.Future[AmiResponse]] = {}
        self.closed = False

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        self._deliver()

    def eof_received(self) -> bool | None:
        self.protocol.receive_data(b"")
        self._deliver()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        waiting, self._waiting = self._waiting, {}
        for action_id, waiter in waiting.items():
            if not waiter.done():
                waiter.set_exception(
                    AmiNotConnected(f"AMI connection lost before the answer to {action_id}")
                )
        if self._on_lost is not None:
            self._on_lost(self, exc)

    # -- ours -------------------------------------------------------------------------------
    def send(
        self, action: Mapping[str, ActionValue], as_list: bool | None = None
    ) -> tuple[str, asyncio.Future[AmiResponse]]:
        """Write ``action``; its ActionID and the future of its whole answer."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            raise AmiNotConnected(f"AMI not connected; cannot send {action.get('Action')}")
        action_id, data = self.protocol.send_action(action, as_list=as_list)
        waiter: asyncio.Future[AmiResponse] = asyncio.get_running_loop().create_future()
        self._waiting[action_id] = waiter
        transport.write(data)
        return action_id, waiter

    def forget(self, action_id: str) -> None:
        """Nobody awaits this answer any more (a timeout); it is dropped when it comes."""
        self._waiting.pop(action_id, None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _deliver(self) -> None:
        """Everything the protocol has parsed, in order; events first in the checks (most)."""
        protocol, on_event = self.protocol, self._on_event
        while True:
            item = protocol.next_event()
            if type(item) is AmiEvent:
                try:
                    on_event(item)
                except Exception:
                    # One bad event must not kill the connection; it is logged with its name.
                    log.exception("AMI event handler failed on %s", item.name)
            elif isinstance(item, AmiResponse):
                waiter = self._waiting.pop(item.action_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(item)
                else:
                    log.debug("AMI answer to %r that nobody awaits", item.action_id)
            elif isinstance(item, AmiMalformed):
                log.warning("AMI protocol error, skipped: %s", item.error())
            elif isinstance(item, AmiBanner):
                log.info("AMI greeting: %s", item.text)
            else:
                return  # NEED_DATA


class AmiConnection:
    """Keeps one logged-in AMI session alive and hands every event to ``on_event``."""

    def __init__(
        self,
        settings: AmiSettings,
        secret: str,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self._settings = settings
        self._secret = secret
        self._on_event = on_event
        self._on_connected = on_connected
        self.host = host or settings.host
        self.port = port or settings.port
        self._link: AmiLink | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0  # successful logins so far (a reconnect makes it > 1)
        self.disconnected_at: float | None = None

    # -- public API --------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, log in, supervise and reconnect until cancelled; raise ``AmiAuthError``."""
        attempt = 0
        while True:
            try:
                await self._open()
            except AmiAuthError:
                raise
            except (OSError, TimeoutError, AmiActionError, AmiNotConnected) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "AMI %s:%s unreachable (%s); retry %d in %.1f s",
                    self.host,
                    self.port,
                    exc or type(exc).__name__,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            try:
                if self._on_connected is not None:
                    await self._on_connected()
                await self._supervise()
            except AmiError as exc:
                log.warning("AMI session failed after login: %s", exc)
            finally:
                self._close()
            delay = self._backoff(0)
            log.warning("AMI connection lost; reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def send(
        self,
        action: Mapping[str, ActionValue],
        *,
        as_list: bool | None = None,
        timeout: float = 10.0,
    ) -> AmiResponse:
        """Send one action; return the PBX's whole answer (a list's events in ``events``).

        ``as_list`` as ``AmiProtocol.send_action`` takes it (None: the answer says). Raises
        ``AmiNotConnected`` without a logged-in connection (or when it is lost before the
        answer), ``AmiActionError`` for ``Response: Error`` or no answer within ``timeout``,
        ``AmiProtocolError`` for an action that cannot be written as AMI.
        """
        link = self._link
        if link is None or not self.connected.is_set():
            raise AmiNotConnected(f"AMI not connected; cannot send {action.get('Action')}")
        return await self._request(link, action, as_list, timeout)

    def drop(self) -> None:
        """Abort the current TCP connection (for operators and failure tests): it reconnects."""
        if self._link is not None:
            self._link.abort()

    # -- internals ---------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        s = self._settings
        base: float = min(s.reconnect_max, s.reconnect_min * (2**attempt))
        return float(base * random.uniform(0.8, 1.2))

    async def _request(
        self,
        link: AmiLink,
        action: Mapping[str, ActionValue],
        as_list: bool | None,
        timeout: float,
    ) -> AmiResponse:
        action_id, waiter = link.send(action, as_list)
        try:
            reply = await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise AmiActionError(
                f"no answer to {action.get('Action')} within {timeout} s"
            ) from None
        finally:
            link.forget(action_id)
        if reply.status == "Error":
            raise AmiActionError(f"{action.get('Action')}: {reply.message}")
        return reply

    async def _open(self) -> None:
        self._lost = asyncio.Event()
        loop = asyncio.get_running_loop()
        _, link = await asyncio.wait_for(
            loop.create_connection(
                lambda: AmiLink(self._on_event, self._connection_lost), self.host, self.port
            ),
            self._settings.connect_timeout,
        )
        self._link = link
        login = {
            "Action": "Login",
            "Username": self._settings.user,
            "Secret": self._secret,
            "Events": "on",
        }
        try:
            action_id, waiter = link.send(login)
            try:
                reply = await asyncio.wait_for(waiter, self._settings.connect_timeout)
            finally:
                link.forget(action_id)
        except BaseException:
            self._close()
            raise
        if not reply.success:
            self._close()
            message = reply.message
            if "shutting down" in message.lower():
                # A PBX on its way down (or restarting) refuses every login: not our
                # credentials, so try again later like any PBX that is unreachable.
                raise AmiActionError(f"AMI login at {self.host}:{self.port}: {message}")
            raise AmiAuthError(
                f"AMI login as {self._settings.user!r} refused by {self.host}:{self.port}: "
                f"{message or 'authentication failed'}"
            )
        self.connections += 1
        self.connected.set()
        log.info(
            "AMI logged in to %s:%s as %s (connection #%d)",
            self.host,
            self.port,
            self._settings.user,
            self.connections,
        )

    async def _supervise(self) -> None:
        """Return when the connection is lost or stops answering pings."""
        s = self._settings
        while not self._lost.is_set():
            try:
                await asyncio.wait_for(self._lost.wait(), s.heartbeat_interval)
                return
            except TimeoutError:
                pass
            try:
                await self.send({"Action": "Ping"}, timeout=s.heartbeat_timeout)
            except AmiActionError:
                log.warning(
                    "AMI heartbeat unanswered for %.1f s; dropping the connection",
                    s.heartbeat_timeout,
                )
                return
            except AmiNotConnected:
                return

    def _connection_lost(self, link: AmiLink, exc: BaseException | None) -> None:
        if link is not self._link:  # a late word from a link already closed and replaced
            return
        self.connected.clear()
        self.disconnected_at = time.time()
        self._lost.set()

    def _close(self) -> None:
        if self.connected.is_set():
            self.disconnected_at = time.time()
        self.connected.clear()
        link, self._link = self._link, None
        if link is not None:
            link.close()
