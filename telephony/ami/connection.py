"""A supervised AMI connection on top of panoramisk.

panoramisk parses the protocol and matches action responses; what it lacks for a service that
must run for months is added here:

* a heartbeat: a ``Ping`` every ``heartbeat_interval`` s; no answer within ``heartbeat_timeout``
  means the connection is dead even if TCP has not noticed (a silently dropped link), so it is
  closed and re-opened;
* reconnection with bounded, jittered exponential backoff (panoramisk retries every 2 s forever);
* bad credentials are fatal (``AmiAuthError``): retrying them only fills the PBX's security log;
* ``on_connected`` runs after every successful login, so callers can re-read live state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from telephony.ami.events import AmiEvent
from telephony.errors import AmiActionError, AmiAuthError, AmiError, AmiNotConnected
from telephony.settings import AmiSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[AmiEvent], None]
ConnectedHandler = Callable[[], Awaitable[None]]


def event_from_message(message: Mapping[str, object]) -> AmiEvent:
    """The ``AmiEvent`` of a panoramisk ``Message``, as ``AmiEvent.from_headers`` builds it.

    panoramisk 1.4's ``Message`` (a ``CaseInsensitiveDict``) keeps ``{lower-cased key: (key,
    value)}`` in ``_store``; its ``items()`` goes through the generic ``Mapping`` methods and
    lower-cases and looks up every key again, which cost more than parsing the event did. The
    stored pairs are exactly what ``items()`` yields, so they are read directly; anything
    without that storage takes the generic path.
    """
    store = getattr(message, "__dict__", {}).get("_store")
    if isinstance(store, dict):
        return AmiEvent.from_pairs(store.values())
    return AmiEvent.from_headers(message)


class _Transport(Manager):  # type: ignore[misc]
    """panoramisk's Manager reduced to one connection: no own login, pinger or reconnect."""

    def __init__(self, lost: Callable[[BaseException | None], None], **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    async def open(self, host: str, port: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        _, protocol = await asyncio.wait_for(
            loop.create_connection(AMIProtocol, host, port), timeout
        )
        # The wiring panoramisk's connection_made does, minus its login and pinger.
        protocol.queue = deque()
        protocol.factory = self
        protocol.log = self.log
        protocol.config = self.config
        protocol.encoding = self.encoding = self.config["encoding"]
        self.responses = protocol.responses = {}
        self.protocol = protocol
        self._connected = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        self._lost(exc)

    def ping(self) -> None:  # pragma: no cover - disabled, AmiConnection owns the heartbeat
        return None


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
        self._transport: _Transport | None = None
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
            except (OSError, TimeoutError, AmiActionError) as exc:
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
        self, action: Mapping[str, Any], *, as_list: bool | None = None, timeout: float = 10.0
    ) -> Any:
        """Send one action; return panoramisk's response message (or list of messages)."""
        transport = self._transport
        if transport is None or not self.connected.is_set():
            raise AmiNotConnected(f"AMI not connected; cannot send {action.get('Action')}")
        future = transport.send_action(dict(action), as_list=as_list)
        try:
            response = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            future.cancel()
            raise AmiActionError(
                f"no answer to {action.get('Action')} within {timeout} s"
            ) from None
        first = response[0] if isinstance(response, list) else response
        if first.get("Response") == "Error":
            raise AmiActionError(f"{action.get('Action')}: {first.get('Message')}")
        return response

    def drop(self) -> None:
        """Abort the current TCP connection (for operators and failure tests): it reconnects."""
        if self._transport is not None and self._transport.protocol is not None:
            self._transport.protocol.transport.abort()

    # -- internals ---------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        s = self._settings
        base: float = min(s.reconnect_max, s.reconnect_min * (2**attempt))
        return float(base * random.uniform(0.8, 1.2))

    async def _open(self) -> None:
        self._lost = asyncio.Event()
        transport = _Transport(self._connection_lost, encoding="utf8")
        transport.register_event("*", self._dispatch)
        await transport.open(self.host, self.port, self._settings.connect_timeout)
        self._transport = transport
        try:
            reply = await asyncio.wait_for(
                transport.send_action(
                    {
                        "Action": "Login",
                        "Username": self._settings.user,
                        "Secret": self._secret,
                        "Events": "on",
                    }
                ),
                self._settings.connect_timeout,
            )
        except BaseException:
            self._close()
            raise
        if not reply.success:
            self._close()
            message = str(reply.get("Message", ""))
            if "shutting down" in message.lower():
                # A PBX on its way down (or restarting) refuses every login: not our
                # credentials, so try again later like any PBX that is unreachable.
                raise AmiActionError(f"AMI login at {self.host}:{self.port}: {message}")
            raise AmiAuthError(
                f"AMI login as {self._settings.user!r} refused by {self.host}:{self.port}: "
                f"{reply.get('Message', 'authentication failed')}"
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

    def _connection_lost(self, exc: BaseException | None) -> None:
        self.connected.clear()
        self.disconnected_at = time.time()
        self._lost.set()

    def _close(self) -> None:
        if self.connected.is_set():
            self.disconnected_at = time.time()
        self.connected.clear()
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _dispatch(self, _manager: object, message: Mapping[str, object]) -> None:
        try:
            self._on_event(event_from_message(message))
        except Exception:
            # One bad event must not kill the connection; it is logged with what it was.
            log.exception("AMI event handler failed on %s", message.get("Event"))
