"""Request and response bodies of the agents API: tokens, profiles, sessions, history."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_In):
    agent_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    token: str
    agent_id: str
    roles: list[str]
    expires_in: float


class AgentIn(_In):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    extension: str | None = Field(None, pattern=r"^[0-9]{2,8}$")
    roles: list[str] = ["agent"]
    skills: dict[str, int] = {}
    password: str | None = Field(None, min_length=8, max_length=256)


class AgentOut(BaseModel):
    agent_id: str
    name: str
    extension: str | None
    roles: list[str]
    skills: dict[str, int]
    logged_in_extension: str | None
    paused: bool
    pause_reason: str | None
    state_since: float | None
    queues: list[str]
    pbx: str | None = None  # the PBX of the seat it is logged in at (else of its usual one)


class LoginIn(_In):
    extension: str | None = Field(None, pattern=r"^[0-9]{2,8}$")


class PauseIn(_In):
    reason: str = Field("break", min_length=1, max_length=64)


class AgentEventOut(BaseModel):
    event: str
    reason: str | None
    extension: str | None
    at: float
    pbx: str | None = None
