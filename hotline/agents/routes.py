"""The agents API: tokens, who am I, agent profiles (admins), sessions (log in, pause, ...)
and their history. Agents act on their own record only; supervisors on anyone's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from hotline.agents.desk import AgentDesk
from hotline.agents.schemas import (
    AgentEventOut,
    AgentIn,
    AgentOut,
    LoginIn,
    PauseIn,
    TokenRequest,
    TokenResponse,
)
from hotline.agents.store import Agent, AgentStore
from hotline.core.auth import Principal, hash_password, needs_rehash, verify_password
from hotline.core.errors import Invalid
from hotline.web.deps import Admin, Caller, Signer, Supervisor, provided, self_or_supervisor

router = APIRouter(prefix="/api")
Agents = Annotated[AgentStore, Depends(provided(AgentStore))]
Desk = Annotated[AgentDesk, Depends(provided(AgentDesk))]


@dataclass(frozen=True)
class DeskChanged:
    """Told after an agent's state changed through the API, so the wallboard and the agent's
    own page show it at once (the wiring passes the live view's refresh)."""

    notify: Callable[[], None]


Live = Annotated[DeskChanged, Depends(provided(DeskChanged))]


def _out(desk: AgentDesk, a: Agent) -> AgentOut:
    return AgentOut(
        agent_id=a.agent_id,
        name=a.name,
        extension=a.extension,
        roles=list(a.roles),
        skills=a.skills,
        logged_in_extension=a.logged_in_extension,
        paused=a.paused,
        pause_reason=a.pause_reason,
        state_since=a.state_since.timestamp() if a.state_since else None,
        queues=sorted(desk.queues_for(a)),
        pbx=desk.pbx_of(a.logged_in_extension or a.extension),
    )


@router.post("/auth/token")
async def token(body: TokenRequest, agents: Agents, signer: Signer) -> TokenResponse:
    stored = await asyncio.to_thread(agents.password_hash, body.agent_id)
    if stored is None or not await asyncio.to_thread(verify_password, body.password, stored):
        raise HTTPException(401, "unknown agent or wrong password")
    if needs_rehash(stored):
        # A legacy scrypt hash, or argon2id with older parameters: the password is known now,
        # so store today's hash (unless the password changed meanwhile).
        fresh = await asyncio.to_thread(hash_password, body.password)
        await asyncio.to_thread(agents.replace_password_hash, body.agent_id, stored, fresh)
    agent = await asyncio.to_thread(agents.get, body.agent_id)
    who = Principal(agent.agent_id, agent.roles)
    return TokenResponse(
        token=signer.issue(who),
        agent_id=who.agent_id,
        roles=list(who.roles),
        expires_in=signer.ttl,
    )


@router.get("/me")
async def me(who: Caller, desk: Desk) -> AgentOut:
    return _out(desk, await desk.get(who.agent_id))


@router.get("/agents")
async def list_agents(_: Supervisor, agents: Agents, desk: Desk) -> list[AgentOut]:
    return [_out(desk, a) for a in await asyncio.to_thread(agents.all)]


@router.put("/agents/{agent_id}")
async def put_agent(agent_id: str, body: AgentIn, _: Admin, agents: Agents, desk: Desk) -> AgentOut:
    if body.agent_id != agent_id:
        raise Invalid("agent.id_mismatch", "the body's agent_id differs from the URL's")
    bad = [r for r in body.roles if r not in ("agent", "supervisor", "admin")]
    if bad:
        raise Invalid("agent.bad_role", f"unknown role(s) {bad}")
    pw = await asyncio.to_thread(hash_password, body.password) if body.password else None
    agent, _created = await asyncio.to_thread(
        lambda: agents.upsert(
            agent_id,
            name=body.name,
            extension=body.extension,
            roles=body.roles,
            skills=body.skills,
            password_hash=pw,
        )
    )
    return _out(desk, agent)


@router.get("/agents/{agent_id}")
async def get_agent(agent_id: str, who: Caller, desk: Desk) -> AgentOut:
    self_or_supervisor(who, agent_id)
    return _out(desk, await desk.get(agent_id))


@router.get("/agents/{agent_id}/events")
async def agent_events(agent_id: str, who: Caller, agents: Agents) -> list[AgentEventOut]:
    self_or_supervisor(who, agent_id)
    rows = await asyncio.to_thread(agents.events, agent_id)
    return [
        AgentEventOut(
            event=r.event, reason=r.reason, extension=r.extension, at=r.at.timestamp(), pbx=r.pbx
        )
        for r in rows
    ]


async def _change(
    desk: AgentDesk,
    live: DeskChanged,
    who: Principal,
    agent_id: str,
    change: Callable[[], Awaitable[Agent]],
) -> AgentOut:
    self_or_supervisor(who, agent_id)
    agent = await change()
    live.notify()  # the wallboard and the agent's own page show it at once
    return _out(desk, agent)


@router.post("/agents/{agent_id}/login")
async def login(agent_id: str, body: LoginIn, who: Caller, desk: Desk, live: Live) -> AgentOut:
    return await _change(desk, live, who, agent_id, lambda: desk.login(agent_id, body.extension))


@router.post("/agents/{agent_id}/logout")
async def logout(agent_id: str, who: Caller, desk: Desk, live: Live) -> AgentOut:
    return await _change(desk, live, who, agent_id, lambda: desk.logout(agent_id))


@router.post("/agents/{agent_id}/pause")
async def pause(agent_id: str, body: PauseIn, who: Caller, desk: Desk, live: Live) -> AgentOut:
    return await _change(desk, live, who, agent_id, lambda: desk.pause(agent_id, body.reason))


@router.post("/agents/{agent_id}/unpause")
async def unpause(agent_id: str, who: Caller, desk: Desk, live: Live) -> AgentOut:
    return await _change(desk, live, who, agent_id, lambda: desk.unpause(agent_id))
