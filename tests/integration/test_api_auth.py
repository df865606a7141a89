"""The API and the live stream over real HTTP and WebSocket: tokens, roles, and what each role
may see. An agent reads only its own data; the live view is for supervisors. Legacy password
hashes upgraded at login; signing keys rotated with the old tokens still valid."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import partial

import httpx
import pytest
import websockets
from argon2 import PasswordHasher

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.app.web import create_app
from hotline.core.auth import (
    LEEWAY_SECONDS,
    SigningKey,
    TokenSigner,
    hash_password,
    needs_rehash,
    verify_password,
)
from hotline.web.server import WebServer
from testkit.clock import Clock
from testkit.support import free_port, legacy_scrypt_hash, wait_for

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


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64json(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def kid(bearer: dict[str, str]) -> object:
    """The key id in the header of an Authorization header's token."""
    return json.loads(unb64(bearer["Authorization"].split()[1].split(".")[0]))["kid"]


async def test_tokens_are_needed_and_checked(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/me")).status_code == 401
    bad = await http.post("/api/auth/token", json={"agent_id": "ag1", "password": "wrong-pw"})
    assert bad.status_code == 401
    # A real token (a JWT) with its claims changed to admin: the signature no longer matches;
    # the same with its algorithm set to "none" and no signature.
    real = (await token(http, "ag1"))["Authorization"].split()[1]
    header, claims = (json.loads(unb64(part)) for part in real.split(".")[:2])
    assert header["alg"] == "HS256" and header["kid"] == "default"
    assert claims["sub"] == "ag1" and claims["roles"] == ["agent"] and claims["jti"]
    admin = f"{real.split('.')[0]}.{b64json({**claims, 'roles': ['admin']})}.{real.split('.')[2]}"
    unsigned = f"{b64json({**header, 'alg': 'none'})}.{real.split('.')[1]}."
    for forged in (admin, unsigned):
        r = await http.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401 and r.json()["detail"] == "invalid token"
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


async def live_ws(settings: Settings, first: object, port: int = 0) -> tuple[int | None, object]:
    """Open the live WebSocket (of the session service, or of the app on ``port``) with
    ``first`` as the first message: (close code, None) or (None, the first snapshot)."""
    url = f"ws://{settings.listen.api_host}:{port or settings.listen.api_port}/api/live/ws"
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


async def test_a_legacy_scrypt_hash_becomes_argon2id_at_login(
    service: Service, http: httpx.AsyncClient
) -> None:
    """An account from before argon2id (an scrypt hash) logs in over the API as before; its
    hash is then argon2id, and logging in keeps working. So does an argon2id hash with weaker
    parameters than today's."""
    old = {"legacy1": legacy_scrypt_hash("legacy-pw-0001")}
    old["weak1"] = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(
        "weak-pw-00001"
    )
    passwords = {"legacy1": "legacy-pw-0001", "weak1": "weak-pw-00001"}
    for agent_id, stored in old.items():
        await asyncio.to_thread(
            partial(
                service.agents.upsert,
                agent_id,
                name=agent_id,
                extension=None,
                roles=["agent"],
                skills={"zh": 3},
                password_hash=stored,
            )
        )
    for agent_id, pw in passwords.items():
        wrong = await http.post("/api/auth/token", json={"agent_id": agent_id, "password": "x"})
        assert wrong.status_code == 401
        assert await asyncio.to_thread(service.agents.password_hash, agent_id) == old[agent_id]
        creds = {"agent_id": agent_id, "password": pw}
        first = await http.post("/api/auth/token", json=creds)
        assert first.status_code == 200, first.text
        upgraded = await asyncio.to_thread(service.agents.password_hash, agent_id)
        assert upgraded is not None and upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert verify_password(pw, upgraded) and not needs_rehash(upgraded)
        again = await http.post("/api/auth/token", json=creds)
        assert again.status_code == 200, again.text
        me = await http.get("/api/me", headers={"Authorization": f"Bearer {again.json()['token']}"})
        assert me.status_code == 200 and me.json()["agent_id"] == agent_id
        # Already today's hash: left as it is.
        assert await asyncio.to_thread(service.agents.password_hash, agent_id) == upgraded


@contextlib.asynccontextmanager
async def api_signing_with(
    service: Service, settings: Settings, signer: TokenSigner
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """The API over real HTTP on its own port, with the session service's agents, desk and
    live view but ``signer``'s keys: the service as restarted with another key list."""
    app = create_app(settings, signer, service.agents, service.desk, service.live)
    web = WebServer(app, "127.0.0.1", free_port())
    task = asyncio.create_task(web.run(), name="rotation api")
    try:
        await wait_for(lambda: web.started, 15, "the web server")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web.port}", timeout=10) as h:
            yield h, web.port
    finally:
        web.stop()
        await task


async def test_a_rotated_key_keeps_old_tokens_valid_until_they_expire(
    service: Service, settings: Settings, accounts: None, fixed_now: datetime
) -> None:
    k1 = SigningKey("k1", b"rotation-test-key-one-0123456789abcdef")
    k2 = SigningKey("k2", b"rotation-test-key-two-0123456789abcdef")
    ttl = settings.token_hours * 3600
    clock = Clock(fixed_now)

    async def me(h: httpx.AsyncClient, bearer: dict[str, str]) -> tuple[int, object]:
        r = await h.get("/api/me", headers=bearer)
        return r.status_code, r.json().get("agent_id", r.json().get("detail"))

    before = TokenSigner([k1], ttl=ttl, clock=clock)
    async with api_signing_with(service, settings, before) as (h, _):
        old = await token(h, "sup1")
        assert kid(old) == "k1" and await me(h, old) == (200, "sup1")
    clock.advance(hours=1)
    # Restarted with the new key first: new tokens carry it, the old token still works, on
    # the API and on the live WebSocket.
    rotated = TokenSigner([k2, k1], ttl=ttl, clock=clock)
    async with api_signing_with(service, settings, rotated) as (h, port):
        assert await me(h, old) == (200, "sup1")
        new = await token(h, "sup1")
        assert kid(new) == "k2" and await me(h, new) == (200, "sup1")
        code, snap = await live_ws(settings, {"token": old["Authorization"].split()[1]}, port)
        assert code is None and isinstance(snap, dict) and "queues" in snap
        # Past the old token's own expiry (and the leeway), only the new one works.
        clock.advance(seconds=ttl - 3600 + LEEWAY_SECONDS)
        assert await me(h, old) == (401, "token expired")
        assert await me(h, new) == (200, "sup1")
    # Restarted without the old key: its tokens are refused even before they expire.
    done = TokenSigner([k2], ttl=ttl, clock=Clock(fixed_now + timedelta(hours=2)))
    async with api_signing_with(service, settings, done) as (h, port):
        assert await me(h, old) == (401, "invalid token")
        code, _ = await live_ws(settings, {"token": old["Authorization"].split()[1]}, port)
        assert code == 4401
        assert await me(h, new) == (200, "sup1")
