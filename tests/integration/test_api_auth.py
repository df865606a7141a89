"""The API and the live stream over real HTTP and WebSocket: tokens, roles, and what each role
may see. An agent reads only its own data; the live view is for supervisors."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest
import websockets

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.core.auth import hash_password

PASSWORDS = {"sup1": "supervisor-pw-1", "ag1": "agent-pw-0001", "ag2": "agent-pw-0002"}


@pytest.fixture(scope="module")
async def accounts(service: Service) -> None:
    roles = {"sup1": ["supervisor"], "ag1": ["agent"], "ag2": ["agent"]}
    for agent_id, pw in PASSWORDS.items():
        await asyncio.to_thread(
            partial(
                service.agents.upsert,
                agent_id,
                name=agent_id,
                extension=None,
                roles=roles[agent_id],
                skills={"zh": 3},
                password_hash=hash_password(pw),
            )
        )


@pytest.fixture
async def http(settings: Settings, accounts: None) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://{settings.listen.api_host}:{settings.listen.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        yield client


async def token(http: httpx.AsyncClient, agent_id: str) -> dict[str, str]:
    r = await http.post(
        "/api/auth/token", json={"agent_id": agent_id, "password": PASSWORDS[agent_id]}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_tokens_are_needed_and_checked(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/me")).status_code == 401
    bad = await http.post("/api/auth/token", json={"agent_id": "ag1", "password": "wrong-pw"})
    assert bad.status_code == 401
    # A real token with its payload changed to claim admin: the signature no longer matches.
    real = (await token(http, "ag1"))["Authorization"].split()[1]
    claims = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    claims["roles"] = ["admin"]
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = {"Authorization": f"Bearer {payload}.{real.split('.')[1]}"}
    assert (await http.get("/api/me", headers=forged)).status_code == 401
    me = await http.get("/api/me", headers=await token(http, "ag1"))
    assert me.status_code == 200 and me.json()["agent_id"] == "ag1"
    assert "password" not in me.text and "scrypt" not in me.text


async def test_agent_cannot_read_another_agent_or_the_supervisor_view(
    http: httpx.AsyncClient,
) -> None:
    ag1 = await token(http, "ag1")
    assert (await http.get("/api/agents/ag1", headers=ag1)).status_code == 200
    assert (await http.get("/api/agents/ag2", headers=ag1)).status_code == 403
    assert (await http.get("/api/agents/ag2/events", headers=ag1)).status_code == 403
    assert (await http.get("/api/agents", headers=ag1)).status_code == 403
    assert (await http.get("/api/live", headers=ag1)).status_code == 403
    assert (await http.post("/api/agents/ag2/pause", json={}, headers=ag1)).status_code == 403
    put = await http.put(
        "/api/agents/ag1", headers=ag1, json={"agent_id": "ag1", "roles": ["admin"]}
    )
    assert put.status_code == 403  # nor make itself an administrator
    sup = await token(http, "sup1")
    assert (await http.get("/api/agents/ag2", headers=sup)).status_code == 200
    live = await http.get("/api/live", headers=sup)
    assert live.status_code == 200 and {"queues", "agents", "today"} <= set(live.json())
    # Domain errors carry a stable id.
    r = await http.post("/api/agents/ag2/unpause", headers=sup)
    assert r.status_code == 409 and r.json()["error"] == "agent.not_logged_in"


async def live_ws(settings: Settings, first: object) -> tuple[int | None, object]:
    url = f"ws://{settings.listen.api_host}:{settings.listen.api_port}/api/live/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(first))
        try:
            return None, json.loads(await asyncio.wait_for(ws.recv(), 10))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None, None


async def test_live_stream_is_for_supervisors_only(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    agent_token = (await token(http, "ag1"))["Authorization"].split()[1]
    code, _ = await live_ws(settings, {"token": agent_token})
    assert code == 4403
    code, _ = await live_ws(settings, {"token": "garbage"})
    assert code == 4401
    sup_token = (await token(http, "sup1"))["Authorization"].split()[1]
    code, snap = await live_ws(settings, {"token": sup_token})
    assert code is None and isinstance(snap, dict) and "queues" in snap
