"""The whole configuration file: schema, loading, secrets from the environment, clear errors.

A bad file never produces a traceback: every problem becomes a ``ConfigError`` naming the field
(``pbx.queues[0].name: ...``), which the CLI prints before exiting with status 2.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from asr.draft_settings import DraftTaxonomy
from asr.settings import AsrSettings
from hotline.callers import CallerSettings
from hotline.surveys.config import SurveySettings
from hotline.tickets.config import TicketSettings
from hotline.tickets.lifecycle import KINDS
from ivr.menu import IvrSettings
from telephony.settings import PbxSettings, Port, Strict

DEFAULT_CONFIG = Path("config/hotline.yaml")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` name each offending field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"invalid configuration {self.source}:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class DatabaseSettings(Strict):
    # SQLite file by default; a postgresql+psycopg:// URL is accepted as well.
    url: str = "sqlite:///var/hotline.db"

    @model_validator(mode="after")
    def _scheme(self) -> DatabaseSettings:
        if not self.url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("url must be a sqlite:/// or postgresql:// URL")
        return self


class ListenSettings(Strict):
    """Where the service itself listens (loopback unless deliberately opened)."""

    api_host: str = "127.0.0.1"
    api_port: Port = 8080
    agi_host: str = "127.0.0.1"
    agi_port: Port = 4573


class KbSettings(Strict):
    """The knowledge base. ``seed_file``: a YAML file of articles (like config/kb.yaml) loaded
    at start when the knowledge base is still empty, so edits and deletions made later through
    the API are never undone by a restart; ``hotline kb import FILE`` updates from a file."""

    seed_file: Path | None = None


class Settings(Strict):
    service_number: str = "12345"
    pbx: PbxSettings = PbxSettings()
    database: DatabaseSettings = DatabaseSettings()
    listen: ListenSettings = ListenSettings()
    ivr: IvrSettings = IvrSettings()
    # Ticket taxonomy (departments, categories with deadlines) and the working calendar.
    tickets: TicketSettings = TicketSettings()
    kb: KbSettings = KbSettings()
    callers: CallerSettings = CallerSettings()
    # Speech models per language and transcription workers (asr/settings.py).
    asr: AsrSettings = AsrSettings()
    # Ticket drafts from transcripts: phrases per kind and category, places, urgency words.
    draft: DraftTaxonomy = DraftTaxonomy()
    # Satisfaction-survey callbacks: triggers, calling window, retries, pacing, prompts.
    surveys: SurveySettings = SurveySettings()
    short_abandon_seconds: float = Field(5.0, ge=0, le=60)
    service_level_seconds: float = Field(20.0, gt=0, le=600)  # answered within T s
    # The hotline's local time: hours and days of the metrics and reports.
    timezone: str = "Asia/Shanghai"
    # The API's token signing key comes from this environment variable (generated per run for
    # the embedded PBX when unset: tokens then last until the service restarts).
    api_secret_env: str = "HOTLINE_API_SECRET"
    token_hours: float = Field(12.0, gt=0, le=24 * 30)
    # Bootstraps the first administrator: on start, if no agent has the admin role and this
    # variable is set, an agent "admin" is created with this password.
    admin_password_env: str = "HOTLINE_ADMIN_PASSWORD"
    # When this variable is set, Prometheus must send it as a bearer token to scrape /metrics.
    metrics_token_env: str = "HOTLINE_METRICS_TOKEN"
    # Callers with an open ticket past its deadline are queued with this priority (0 = off).
    flagged_priority: int = Field(5, ge=0, le=100)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zone = ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        # Metrics are summed per UTC hour; each must fall inside one local hour.
        for year in range(2000, 2051):
            for month in (1, 4, 7, 10):
                offset = datetime(year, month, 1, tzinfo=zone).utcoffset()
                if offset is not None and offset.total_seconds() % 3600:
                    raise ValueError(
                        f"time zone {v!r} is {offset} from UTC; hourly metrics need a zone "
                        "whose offset is a whole number of hours"
                    )
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _consistency(self) -> Settings:
        for pid, texts in self.surveys.prompts.items():
            for lang in self.ivr.languages:
                if lang not in texts:
                    where = f"surveys.prompts.{pid}"
                    raise ValueError(f"{where}: no text in {lang!r}, an IVR language")
        if self.service_number not in {r.number for r in self.pbx.inbound}:
            raise ValueError(f"service_number {self.service_number} has no entry in pbx.inbound")
        queues = {q.name for q in self.pbx.queues}
        for route in self.pbx.inbound:
            if route.menu is not None and route.menu not in self.ivr.menus:
                raise ValueError(f"inbound number {route.number} names unknown menu {route.menu!r}")
        for where, queue in self.ivr.queues_used():
            if queue not in queues:
                raise ValueError(f"ivr: {where}: unknown queue {queue!r}")
        draft_problems = self.draft.problems((c.id for c in self.tickets.categories), KINDS)
        if draft_problems:
            raise ValueError("; ".join(draft_problems))
        if self.ivr.transfers_used() and self.pbx.trunk.gateway is None:
            raise ValueError("ivr: menus transfer calls out, so pbx.trunk.gateway must be set")
        ports: dict[str, int] = {
            "listen.api_port": self.listen.api_port,
            "listen.agi_port": self.listen.agi_port,
        }
        if self.pbx.mode == "embedded":
            ports["pbx.ami.port"] = self.pbx.ami.port
            ports["pbx.embedded.sip_port"] = self.pbx.embedded.sip_port
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ValueError(f"port clash: {name} and {seen[port]} are both {port}")
            seen[port] = name
        if self.pbx.mode == "embedded":
            emb = self.pbx.embedded
            for name, port in ports.items():
                if emb.rtp_start <= port <= emb.rtp_end:
                    raise ValueError(f"port clash: {name} {port} lies inside the RTP range")
        return self


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def parse_settings(data: Mapping[str, Any] | None, source: str = "<config>") -> Settings:
    try:
        return Settings.model_validate(data or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(f"{_field_path(err['loc'])}: {msg}")
        raise ConfigError(source, problems) from None


def load_settings(path: Path = DEFAULT_CONFIG) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML ({exc})"]) from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(str(path), ["(top level): must be a mapping of sections"])
    return parse_settings(data, str(path))


@dataclass(frozen=True, repr=False)
class Secrets:
    """Secrets read from the environment (or generated for a private PBX). Never logged."""

    ami_secret: str
    agent_passwords: dict[str, str] = field(default_factory=dict)
    phone_passwords: dict[str, str] = field(default_factory=dict)
    survey_password: str = ""
    api_secret: str = ""
    admin_password: str = ""
    metrics_token: str = ""

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"


def resolve_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
    """Read secrets from ``env``; the embedded PBX may invent the ones that are missing."""
    env = os.environ if env is None else env
    embedded = settings.pbx.mode == "embedded"
    ami_env = settings.pbx.ami.secret_env
    ami = env.get(ami_env, "")
    if not ami:
        if not embedded:
            raise ConfigError(
                "environment",
                [f"pbx.ami.secret_env: environment variable {ami_env} is not set"],
            )
        ami = secrets.token_urlsafe(24)
    passwords = {}
    for agent in settings.pbx.agents:
        value = env.get(agent.secret_env, "")
        passwords[agent.extension] = value or secrets.token_urlsafe(16)
    phones = {p.number: env.get(p.secret_env, "") or secrets.token_urlsafe(16)
              for p in settings.pbx.phones}  # fmt: skip
    # An external PBX without it: surveys are scheduled but not dialled (the service says so).
    survey = env.get(settings.surveys.sip.password_env, "")
    if not survey and embedded:
        survey = secrets.token_urlsafe(16)
    api = env.get(settings.api_secret_env, "")
    if not api:
        if not embedded:
            raise ConfigError(
                "environment",
                [f"api_secret_env: environment variable {settings.api_secret_env} is not set"],
            )
        api = secrets.token_urlsafe(32)
    return Secrets(
        ami_secret=ami,
        agent_passwords=passwords,
        phone_passwords=phones,
        survey_password=survey,
        api_secret=api,
        admin_password=env.get(settings.admin_password_env, ""),
        metrics_token=env.get(settings.metrics_token_env, ""),
    )


def check_ports_free(settings: Settings) -> None:
    """Fail early, naming the field, when a port the service must bind is taken."""
    wanted: list[tuple[str, str, int, int]] = [
        ("listen.api_port", settings.listen.api_host, settings.listen.api_port, socket.SOCK_STREAM),
        ("listen.agi_port", settings.listen.agi_host, settings.listen.agi_port, socket.SOCK_STREAM),
    ]
    if settings.pbx.mode == "embedded":
        emb = settings.pbx.embedded
        wanted += [
            ("pbx.ami.port", emb.bind, settings.pbx.ami.port, socket.SOCK_STREAM),
            ("pbx.embedded.sip_port", emb.bind, emb.sip_port, socket.SOCK_DGRAM),
        ]
    problems = []
    for name, host, port, kind in wanted:
        with socket.socket(socket.AF_INET, kind) as s:
            # As the servers themselves do: a port in TIME_WAIT is free to them.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as exc:
                problems.append(f"{name}: port {port} on {host} is not free ({exc.strerror})")
    if problems:
        raise ConfigError("ports", problems)
