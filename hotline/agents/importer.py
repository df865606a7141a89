"""Bulk set-up of agents from a YAML or CSV file (``hotline agents import``)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotline.agents.store import AgentStore
from hotline.core.auth import ROLES, hash_password
from hotline.core.errors import ConfigError


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    extension: str | None = Field(None, pattern=r"^[0-9]{2,8}$")
    roles: list[str] = ["agent"]
    skills: dict[str, int] = {}
    password_env: str | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if r not in ROLES]
        if bad:
            raise ValueError(f"unknown role(s) {bad}; roles are {list(ROLES)}")
        return v

    @field_validator("skills")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: n for k, n in v.items() if not 1 <= n <= 5}
        if bad:
            raise ValueError(f"skill levels must be 1..5, not {bad}")
        return v


def _csv_rows(text: str) -> list[dict[str, Any]]:
    rows = []
    for row in csv.DictReader(text.splitlines()):
        item: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        if "roles" in item:
            item["roles"] = item["roles"].replace(";", " ").split()
        if "skills" in item:
            pairs = [p.split(":") for p in item["skills"].replace(";", " ").split()]
            item["skills"] = {k: int(n) for k, n in pairs}
        rows.append(item)
    return rows


def load_agents_file(path: Path) -> list[AgentSpec]:
    """Read and validate; every problem names the row (1-based) and field."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            rows = _csv_rows(text)
        else:
            data = yaml.safe_load(text) or {}
            rows = data.get("agents", []) if isinstance(data, dict) else data
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(str(path), [f"cannot read agents: {exc}"]) from None
    specs, problems = [], []
    for i, row in enumerate(rows, 1):
        try:
            specs.append(AgentSpec.model_validate(row))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(row)"
                problems.append(f"agent {i}: {field}: {err['msg'].removeprefix('Value error, ')}")
    ids = [s.agent_id for s in specs]
    problems += [
        f"agent id {d!r} appears twice" for d in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:
        raise ConfigError(str(path), problems)
    return specs


def import_agents(
    store: AgentStore, specs: list[AgentSpec], env: Mapping[str, str]
) -> tuple[int, int]:
    """Create or update each agent (sessions untouched); returns (created, updated)."""
    created = updated = 0
    for spec in specs:
        password = env.get(spec.password_env, "") if spec.password_env else ""
        _, new = store.upsert(
            spec.agent_id,
            name=spec.name,
            extension=spec.extension,
            roles=spec.roles,
            skills=spec.skills,
            password_hash=hash_password(password) if password else None,
        )
        created += new
        updated += not new
    return created, updated
