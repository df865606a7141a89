"""The AMI connection against the real private Asterisk: login, bad credentials, dead links."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.app.settings import Secrets, Settings
from telephony.ami.connection import AmiConnection
from telephony.ami.events import AmiEvent, AmiResponse
from telephony.asterisk.process import PrivateAsterisk
from telephony.errors import AmiActionError, AmiAuthError, AmiNotConnected, AmiProtocolError
from testkit.support import NewDbUrl, TcpProxy, free_port, wait_for


async def test_bad_credentials_are_fatal_not_retried(
    pbx: PrivateAsterisk, settings: Settings
) -> None:
    """panoramisk alone retries a refused login forever; we stop at the first refusal."""
    conn = AmiConnection(settings.pbx.ami, "not-the-secret", lambda e: None)
    with pytest.raises(AmiAuthError, match="refused"):
        await asyncio.wait_for(conn.run(), 10)
    assert conn.connections == 0


async def test_unreachable_pbx_is_retried_with_backoff(settings: Settings) -> None:
    """Nothing listens: it keeps retrying (no crash, no busy loop) until cancelled."""
    conn = AmiConnection(settings.pbx.ami, "x", lambda e: None, port=free_port())
    task = asyncio.create_task(conn.run())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 1.0)
    assert not task.done(), "gave up on an unreachable PBX instead of retrying"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with pytest.raises(AmiNotConnected):
        await conn.send({"Action": "Ping"})


async def test_link_lost_inside_a_list_answer_fails_the_caller_and_reconnects(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A stand-in PBX (no Asterisk): greets, accepts the login, sends garbage and an event,
    starts a list answer and hangs up in the middle of it."""
    sessions: list[list[bytes]] = []

    async def pbx_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got: list[bytes] = []
        sessions.append(got)
        writer.write(b"Asterisk Call Manager/5.0.4\r\n")
        login = await reader.readuntil(b"\r\n\r\n")
        got.append(login)
        login_id = login.split(b"ActionID: ")[1].split(b"\r\n")[0]
        writer.write(b"Response: Success\r\nActionID: " + login_id + b"\r\n\r\n")
        writer.write(b"\xff\xfe not AMI\r\n\r\nEvent: FullyBooted\r\nStatus: up\r\n\r\n")
        action = await reader.readuntil(b"\r\n\r\n")
        got.append(action)
        action_id = action.split(b"ActionID: ")[1].split(b"\r\n")[0]
        writer.write(
            b"Response: Success\r\nActionID: " + action_id + b"\r\nEventList: start\r\n\r\n"
            b"Event: CoreShowChannel\r\nActionID: " + action_id + b"\r\nChannel: x\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(pbx_session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ami = settings.pbx.ami.model_copy(update={"reconnect_min": 0.05, "heartbeat_interval": 30})
    events: list[AmiEvent] = []
    conn = AmiConnection(ami, "s3cret", events.append, host="127.0.0.1", port=port)
    task = asyncio.create_task(conn.run())
    try:
        await wait_for(lambda: conn.connected.is_set(), 5, "login at the stand-in PBX")
        with pytest.raises(AmiNotConnected, match="lost before the answer"):
            await conn.send({"Action": "CoreShowChannels"}, timeout=5)
        await wait_for(lambda: conn.connections >= 2, 5, "reconnect")
        assert [e.name for e in events][:1] == ["FullyBooted"]  # the list item is not an event
        assert "CoreShowChannel" not in [e.name for e in events]
        assert "AMI protocol error" in caplog.text and "not AMI" in caplog.text
        assert sessions[0][0].startswith(b"Action: Login\r\nActionID: ")
        assert b"Secret: s3cret\r\n" in sessions[0][0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.close()
        await server.wait_closed()


def test_backoff_is_bounded(settings: Settings) -> None:
    conn = AmiConnection(settings.pbx.ami, "x", lambda e: None)
    s = settings.pbx.ami
    delays = [conn._backoff(n) for n in range(20)]
    assert delays[0] <= s.reconnect_min * 1.2
    assert max(delays) <= s.reconnect_max * 1.2
    assert delays[-1] >= s.reconnect_max * 0.8


async def test_silently_dead_link_is_noticed_and_reopened(
    pbx: PrivateAsterisk, settings: Settings, secrets: Secrets
) -> None:
    """The link stays open but nothing flows: the heartbeat notices and reconnects."""
    proxy = TcpProxy(settings.pbx.ami.port)
    await proxy.start()
    ami = settings.pbx.ami.model_copy(
        update={"heartbeat_interval": 0.3, "heartbeat_timeout": 0.5, "reconnect_min": 0.1}
    )
    events: list[AmiEvent] = []
    resyncs: list[int] = []

    async def on_connected() -> None:
        resyncs.append(conn.connections)

    conn = AmiConnection(ami, secrets.ami_secret, events.append, on_connected, port=proxy.port)
    task = asyncio.create_task(conn.run())
    try:
        await wait_for(lambda: conn.connected.is_set(), 10, "first login")
        proxy.freeze()
        await wait_for(lambda: conn.connections >= 2, 10, "reconnect after a frozen link")
        assert resyncs == [1, 2], "on_connected must run after every login"
        reply = await conn.send({"Action": "Ping"})
        assert reply.get("Response") == "Success"
        proxy.cut()
        await wait_for(lambda: conn.connections >= 3, 10, "reconnect after a cut link")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await proxy.close()


async def test_replies_are_typed_and_events_flow(
    pbx: PrivateAsterisk, settings: Settings, secrets: Secrets
) -> None:
    """Through the one parser: a plain answer, a list answer, command output, an error, an
    event we caused, and an action refused before it is written."""
    events: list[AmiEvent] = []
    conn = AmiConnection(settings.pbx.ami, secrets.ami_secret, events.append)
    task = asyncio.create_task(conn.run())
    try:
        await wait_for(lambda: conn.connected.is_set(), 10, "login")
        ping = await conn.send({"Action": "Ping"})
        assert isinstance(ping, AmiResponse) and ping.success and ping.get("Ping") == "Pong"

        channels = await conn.send({"Action": "CoreShowChannels"}, timeout=5)
        assert channels.complete is not None
        assert channels.complete.name == "CoreShowChannelsComplete"
        assert int(channels.complete.get("ListItems")) == len(channels.events)

        version = await conn.send({"Action": "Command", "Command": "core show version"})
        assert any(line.startswith("Asterisk ") for line in version.output), version

        with pytest.raises(AmiActionError):
            await conn.send({"Action": "Getvar", "Channel": "PJSIP/none-0", "Variable": "X"})

        await conn.send({"Action": "UserEvent", "UserEvent": "HotlineProbe", "Probe": "é 1"})
        probe = await wait_for(
            lambda: next((e for e in events if e.get("UserEvent") == "HotlineProbe"), None),
            5,
            "our UserEvent back as an event",
        )
        assert probe.name == "UserEvent" and probe.get("Probe") == "é 1" and probe.at > 0

        with pytest.raises(AmiProtocolError, match="inject"):
            await conn.send({"Action": "UserEvent", "UserEvent": "X\r\nAction: Logoff"})
        assert (await conn.send({"Action": "Ping"})).success  # still logged in
        assert conn.connections == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_run_against_external_pbx_with_wrong_secret_exits_3(
    pbx: PrivateAsterisk, settings: Settings, tmp_path: Path, db_url: NewDbUrl
) -> None:
    config = tmp_path / "external.yaml"
    config.write_text(
        f"pbx:\n  mode: external\n  ami:\n    port: {settings.pbx.ami.port}\n"
        f"database:\n  url: {db_url()}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "hotline.app.cli", "-c", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOTLINE_AMI_SECRET": "wrong-secret", "HOTLINE_API_SECRET": "x" * 32},
    )
    assert result.returncode == 3, result.stderr
    assert "AMI login as 'hotline' refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert "wrong-secret" not in result.stderr
