"""The FastAGI server: one asyncio task per call, bounded header reads, per-command timeouts.

panoramisk 1.4's FastAGI ``Application`` reads the header in a loop that never sees end-of-file:
a client that sends half a header and closes makes it spin forever on the event loop. Here the
header is read with a size limit and a deadline, and every reply with a timeout, so a bad client
costs one short-lived task and never stalls the callers beside it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ivr.agi.protocol import (
    HEADER_END,
    MAX_HEADER_BYTES,
    AgiReply,
    AgiRequest,
    ReplyReader,
    format_command,
    parse_request,
)
from ivr.errors import AgiCommandError, AgiHangup, AgiProtocolError

log = logging.getLogger(__name__)

ROUND_TRIP_WINDOW = 100_000


@dataclass
class AgiStats:
    """Counters and command round-trip samples, for the benchmark and the live view."""

    sessions: int = 0
    completed: int = 0
    hangups: int = 0
    failed: int = 0
    rejected: int = 0  # over max_sessions
    bad_requests: int = 0  # malformed, too long, or too slow headers
    # verb → the latest round trips in seconds (commands that do not wait on the caller), a
    # bounded window so a long-running service keeps recent figures in constant memory; and
    # verb → how many were ever timed. Timed from write to parsed reply on the service's event
    # loop, so under load they include the service's own scheduling delay.
    round_trips: dict[str, deque[float]] = field(default_factory=dict)
    timed: dict[str, int] = field(default_factory=dict)
    # Told each round trip as it is timed (verb, seconds): how the application keeps its own
    # figures (a histogram) without this package knowing of it.
    on_round_trip: Callable[[str, float], None] | None = None

    def add_round_trip(self, verb: str, seconds: float) -> None:
        self.round_trips.setdefault(verb, deque(maxlen=ROUND_TRIP_WINDOW)).append(seconds)
        self.timed[verb] = self.timed.get(verb, 0) + 1
        if self.on_round_trip is not None:
            self.on_round_trip(verb, seconds)

    def since(self, marks: dict[str, int]) -> dict[str, list[float]]:
        """Round trips timed after ``marks`` (a copy of ``timed``), as far as the window holds."""
        out = {}
        for verb, samples in self.round_trips.items():
            new = min(self.timed[verb] - marks.get(verb, 0), len(samples))
            out[verb] = list(samples)[len(samples) - new :]
        return out


# Commands whose reply waits for the caller (media, keys); their times are not round trips.
_WAITING = ("STREAM FILE", "WAIT FOR DIGIT", "GET DATA", "GET OPTION", "SAY ", "EXEC", "RECORD")


class AgiChannel:
    """One call's AGI session: send a command, get its reply."""

    def __init__(
        self,
        request: AgiRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout: float,
        stats: AgiStats,
    ) -> None:
        self.request = request
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout
        self._stats = stats
        self._replies = ReplyReader()

    @property
    def hung_up(self) -> bool:
        return self._replies.hangup_seen

    async def command(self, *args: str, timeout: float | None = None) -> AgiReply:
        """Send one command and return its 200 reply; raise on hang-up or rejection."""
        if self._replies.hangup_seen:
            raise AgiHangup(f"{self.request.channel} hung up")
        line = format_command(*args)
        verb = " ".join(args[:2]).upper()
        started = time.perf_counter()
        self._writer.write(line)
        try:
            await self._writer.drain()
            reply = await asyncio.wait_for(self._read_reply(), timeout or self._timeout)
        except TimeoutError:
            raise AgiCommandError(
                f"no reply to {verb} within {timeout or self._timeout} s"
            ) from None
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raise AgiHangup(f"{self.request.channel}: connection closed ({exc!r})") from None
        log.debug("%s: %s -> %s", self.request.channel, line.decode().strip(), reply)
        if not verb.startswith(_WAITING):
            self._stats.add_round_trip(verb, time.perf_counter() - started)
        if reply.code == 511 or (reply.code == 200 and reply.data == "hangup"):
            raise AgiHangup(f"{self.request.channel} hung up")
        if reply.code != 200:
            detail = reply.usage or reply.rest or reply.result
            raise AgiCommandError(f"{verb} refused: {reply.code} {detail}".rstrip())
        if reply.result == "-1" and verb.startswith(_WAITING):
            # -1 from a media command: the channel is gone, or (no HANGUP notice) the command
            # failed, e.g. a missing sound file. Either way this session cannot go on.
            # The HANGUP notice may follow the reply: ask for the channel's status to tell them
            # apart (a dead channel makes this raise AgiHangup).
            await self.command("CHANNEL", "STATUS")
            raise AgiCommandError(f"{' '.join(args)} failed (result -1)")
        return reply

    async def _read_reply(self) -> AgiReply:
        while True:
            line = await self._reader.readuntil(b"\n")
            reply = self._replies.feed(line)
            if reply is not None:
                return reply

    # -- the commands the IVR uses -------------------------------------------------------------
    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET", "VARIABLE", name, value)

    async def stream_file(self, path: str, escape: str) -> str | None:
        """Play a file (no extension); return the key that interrupted it, if any."""
        return (await self.command("STREAM", "FILE", path, escape)).digit

    async def wait_for_digit(self, seconds: float) -> str | None:
        return (await self.command("WAIT", "FOR", "DIGIT", str(int(seconds * 1000)))).digit

    async def get_data(self, path: str, seconds: float, max_digits: int) -> tuple[str, bool]:
        """Play ``path`` and collect up to ``max_digits`` keys ending with ``#``.

        Returns the digits and whether the wait ended in a timeout."""
        reply = await self.command("GET", "DATA", path, str(int(seconds * 1000)), str(max_digits))
        return reply.result, reply.data == "timeout"


Handler = Callable[[AgiChannel], Awaitable[None]]


class AgiServer:
    """Accepts FastAGI connections and runs ``handler`` for each, one task per call."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        *,
        header_timeout: float = 5.0,
        command_timeout: float = 120.0,
        max_sessions: int = 1000,
        on_round_trip: Callable[[str, float], None] | None = None,
    ) -> None:
        """``on_round_trip``: told every command round trip timed (``AgiStats``)."""
        self.host = host
        self.port = port
        self._handler = handler
        self._header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._max_sessions = max_sessions
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = AgiStats(on_round_trip=on_round_trip)
        self.listening = asyncio.Event()

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        # ``limit`` bounds every buffered read: an endless header line cannot grow memory.
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        self.listening.set()
        log.info("FastAGI listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end the sessions in progress (their calls fall back)."""
        self.listening.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        await self.start()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= self._max_sessions:
            self.stats.rejected += 1
            log.warning("FastAGI: %d sessions already, refusing one", len(self._tasks))
            writer.close()
            return
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            block = await asyncio.wait_for(reader.readuntil(HEADER_END), self._header_timeout)
            request = parse_request(block)
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            AgiProtocolError,
        ) as exc:
            self.stats.bad_requests += 1
            log.warning("FastAGI: bad request from %s: %s", peer, _describe(exc))
            return
        self.stats.sessions += 1
        channel = AgiChannel(
            request, reader, writer, command_timeout=self._command_timeout, stats=self.stats
        )
        try:
            await self._handler(channel)
            self.stats.completed += 1
        except AgiHangup:
            self.stats.hangups += 1
        except (AgiCommandError, AgiProtocolError) as exc:
            self.stats.failed += 1
            log.error("FastAGI %s (%s): %s", request.script, request.channel, exc)
        except Exception:
            # A bug in a handler must not take the server down; the call falls back.
            self.stats.failed += 1
            log.exception("FastAGI %s (%s): handler failed", request.script, request.channel)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no complete header in time"
    if isinstance(exc, asyncio.IncompleteReadError):
        return f"closed after {len(exc.partial)} byte(s) of header"
    if isinstance(exc, asyncio.LimitOverrunError):
        return "header too long"
    return str(exc) or type(exc).__name__
