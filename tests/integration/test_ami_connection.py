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
from telephony.ami.events import AmiEvent
from telephony.asterisk.process import PrivateAsterisk
from telephony.errors import AmiAuthError, AmiNotConnected
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
