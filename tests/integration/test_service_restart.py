"""A real ``hotline run`` process (external mode, against the session's Asterisk) is killed with
SIGKILL during live calls; Asterisk's membership is changed behind its back; after a restart the
membership is reconciled and the live view matches Asterisk's own QueueStatus again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from telephony.sip import Phone, SipStack
from testkit.support import NewDbUrl, free_port, wait_for
from tests.integration.test_call_records import add_agent, add_caller, caller_number, dial_uri

ADMIN_PW = "restart-admin-pw"


def _sigint_default() -> None:
    # A test run started in the background inherits SIGINT ignored; a terminal's is not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    """The service as a separate process."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.config, self.env, self.log = config, env, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hotline.app.cli",
                "-c",
                str(self.config),
                "run",
                cwd=self.config.parent,
                env=self.env,
                stdout=out,
                stderr=out,
                # As a terminal's foreground job: stop()'s Ctrl-C reaches the whole group, the
                # transcription workers too.
                preexec_fn=_sigint_default,
                process_group=0,
            )

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
                raise AssertionError(
                    "the service did not stop within 20 s of Ctrl-C:\n" + self.log.read_text()
                ) from None


@pytest.fixture
async def second(
    pbx: object, settings: Settings, secrets: Secrets, tmp_path: Path, db_url: NewDbUrl
) -> AsyncIterator[tuple[Proc, httpx.AsyncClient]]:
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["pbx"]["mode"] = "external"
    data["database"]["url"] = db_url("restart")
    api_port = free_port()
    data["listen"] = {
        "api_host": "127.0.0.1",
        "api_port": api_port,
        "agi_host": "127.0.0.1",
        "agi_port": free_port(),
    }
    config = tmp_path / "service.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {
        **os.environ,
        "HOTLINE_AMI_SECRET": secrets.ami_secret,
        "HOTLINE_API_SECRET": "restart-test-signing-key-0123456789",
        "HOTLINE_ADMIN_PASSWORD": ADMIN_PW,
    }
    proc = Proc(config, env, tmp_path / "service.log")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:
        try:
            yield proc, http
        finally:
            await proc.stop()


async def api_up(http: httpx.AsyncClient, proc: Proc) -> dict[str, str]:
    async def probe() -> httpx.Response | None:
        assert proc.proc is not None and proc.proc.returncode is None, proc.log.read_text()
        try:
            r = await http.post("/api/auth/token", json={"agent_id": "admin", "password": ADMIN_PW})
        except httpx.TransportError:
            return None
        return r if r.status_code == 200 else None

    r = await wait_for(probe, 30, "the service's API")
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_killed_service_restarts_and_matches_asterisk_again(
    service: Service,
    second: tuple[Proc, httpx.AsyncClient],
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    phones: list[Phone],
) -> None:
    proc, http = second
    control = service.desk.control  # the test reads Asterisk directly through this
    await proc.start()
    admin = await api_up(http, proc)
    k1 = {"agent_id": "k1", "name": "Kill Test", "extension": "2015", "skills": {"kill": 3}}
    r = await http.put("/api/agents/k1", headers=admin, json=k1)
    assert r.status_code == 200, r.text
    agent_phone = await add_agent(sip, settings, secrets, "2015")
    phones.append(agent_phone)
    agent_phone.auto_answer(after_ms=100)
    assert (await http.post("/api/agents/k1/login", headers=admin, json={})).status_code == 200

    # Live calls: one connected to k1, one waiting behind it.
    talking, waiting = caller_number(), caller_number()
    calls = []
    for number in (talking, waiting):
        phone = await add_caller(sip, number)
        phones.append(phone)
        calls.append(await phone.dial(dial_uri(settings, "12364")))
    await (await agent_phone.next_incoming(10)).wait_answered(10)

    await proc.kill()
    # While it is dead: a ghost appears and k1 is removed, behind its back.
    await control.add("sk_kill", "2016", "ghost", 0, paused=False)
    await control.remove("sk_kill", "2015")
    before = await control.status()
    assert set(before.members["sk_kill"]) == {"PJSIP/2016"}

    await proc.start()
    admin = await api_up(http, proc)

    async def matches() -> tuple[dict[str, Any], Any] | None:
        status = await control.status()
        live = (await http.get("/api/live", headers=admin, params={"reveal": "true"})).json()
        queue = next(q for q in live["queues"] if q["name"] == "sk_kill")
        k1 = next(a for a in live["agents"] if a["agent_id"] == "k1")
        members = {m: mm.paused for m, mm in status.members["sk_kill"].items()}
        waiting_pbx = [w.caller_number for w in status.callers("sk_kill")]
        waiting_live = [w["caller_number"] for w in queue["waiting"]]
        ok = (
            members == {"PJSIP/2015": False}
            and waiting_pbx == waiting_live == [waiting]
            and k1["state"] == "on_call"
            and k1["queues"] == ["sk_kill"]
        )
        return (live, status) if ok else None

    await wait_for(matches, 20, "membership and live view to match Asterisk")
    for call in calls:
        await call.hangup()
    assert (await http.post("/api/agents/k1/logout", headers=admin)).status_code == 200
    status = await control.status()
    assert "PJSIP/2015" not in status.members["sk_kill"]
