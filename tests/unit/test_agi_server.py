"""The FastAGI server against scripted clients on a real socket (no Asterisk needed here):
what happens to bad clients, failing handlers and floods."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ivr.agi.server import AgiChannel, AgiServer
from testkit.support import free_port, wait_for
from tests.unit.test_agi_protocol import HEADER

Handler = Callable[[AgiChannel], Awaitable[None]]
Start = Callable[..., Awaitable[AgiServer]]


async def _greet(channel: AgiChannel) -> None:
    await channel.set_variable("HOTLINE_IVR", "done")


@pytest.fixture
async def server() -> AsyncIterator[Start]:
    made: list[AgiServer] = []

    async def start(
        handler: Handler,
        max_sessions: int = 100,
        on_round_trip: Callable[[str, float], None] | None = None,
    ) -> AgiServer:
        srv = AgiServer(
            "127.0.0.1",
            free_port(),
            handler,
            header_timeout=0.5,
            max_sessions=max_sessions,
            on_round_trip=on_round_trip,
        )
        await srv.start()
        made.append(srv)
        return srv

    yield start
    for srv in made:
        await srv.stop()


async def asterisk_like(port: int, replies: list[bytes]) -> list[bytes]:
    """Send the header, answer each command line with the next reply; return the commands."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADER)
    commands = []
    for reply in replies:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        commands.append(line)
        writer.write(reply)
    rest = await asyncio.wait_for(reader.read(), 5)  # the server closes when done
    writer.close()
    assert rest == b""
    return commands


async def test_a_session_runs_its_handler_and_closes(server: Start) -> None:
    told: list[tuple[str, float]] = []  # the application's hook (a histogram in the service)
    srv = await server(_greet, on_round_trip=lambda verb, s: told.append((verb, s)))
    commands = await asterisk_like(srv.port, [b"200 result=1\n"])
    assert commands == [b"SET VARIABLE HOTLINE_IVR done\n"]
    assert (srv.stats.sessions, srv.stats.completed, srv.stats.failed) == (1, 1, 0)
    assert len(srv.stats.round_trips["SET VARIABLE"]) == 1
    assert told == [("SET VARIABLE", srv.stats.round_trips["SET VARIABLE"][0])]


async def test_a_failing_handler_is_logged_and_the_server_stays_up(
    server: Start, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(channel: AgiChannel) -> None:
        await channel.set_variable("X", "1")
        raise RuntimeError("bug in a menu step")

    srv = await server(broken)
    await asterisk_like(srv.port, [b"200 result=1\n"])
    assert srv.stats.failed == 1
    assert "bug in a menu step" in caplog.text and "PJSIP/trunk-00000007" in caplog.text
    # The next call is served as usual.
    await asterisk_like(srv.port, [b"200 result=1\n"])
    assert srv.stats.failed == 2 and srv.stats.sessions == 2


async def test_asterisk_refusing_a_command_ends_the_session_as_failed(server: Start) -> None:
    srv = await server(_greet)
    await asterisk_like(srv.port, [b"510 Invalid or unknown command\n"])
    assert srv.stats.failed == 1 and srv.stats.completed == 0


async def test_hangup_notice_ends_the_session_as_a_hangup(server: Start) -> None:
    async def two(channel: AgiChannel) -> None:
        await channel.stream_file("/p/zh/welcome.tts", "0123456789*#")
        await channel.set_variable("X", "1")

    srv = await server(two)
    await asterisk_like(srv.port, [b"HANGUP\n200 result=-1 endpos=100\n"])
    assert srv.stats.hangups == 1 and srv.stats.failed == 0


async def test_silent_half_header_times_out_without_blocking_others(server: Start) -> None:
    srv = await server(_greet)
    # Half a header, then nothing, connection left open: the header deadline ends it.
    _, stalled = await asyncio.open_connection("127.0.0.1", srv.port)
    stalled.write(HEADER[:40])
    # Meanwhile a real session completes.
    await asterisk_like(srv.port, [b"200 result=1\n"])
    assert srv.stats.completed == 1
    await wait_for(lambda: srv.stats.bad_requests == 1, 5, "the stalled client dropped")
    stalled.close()


async def test_sessions_over_the_limit_are_refused_at_once(server: Start) -> None:
    srv = await server(_greet, max_sessions=5)
    held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(5)]
    await wait_for(lambda: srv.active == 5, 5, "five connections held")
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed: the PBX falls back
    assert srv.stats.rejected == 1
    writer.close()
    for _, w in held:
        w.close()
    await wait_for(lambda: srv.active == 0, 5, "held connections released")
