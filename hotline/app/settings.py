"""The whole configuration file: schema, loading, secrets from the environment, clear errors.

Each feature owns its section's model (``hotline/<feature>/config.py``: ``DatabaseSettings``,
``JobsSettings``, ``KbSettings``, ``CallerSettings``, ``TicketSettings``, ``SurveySettings``,
``HaSettings``; ``LogSettings`` in ``hotline/core/logs.py``; ``PbxSettings``, ``IvrSettings``,
``AsrSettings`` and ``DraftTaxonomy`` from their packages); ``Settings`` composes them, checks
what spans sections, and builds the small frozen values some features take instead of the
whole settings (``metrics_config``, ``live_config``).
Nothing outside ``hotline.app`` sees ``Settings`` (but the web context, for now).

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

from asr.settings import AsrSettings
from drafting.settings import DraftTaxonomy
from hotline.callers.config import CallerSettings
from hotline.core.auth import DEFAULT_KID, SigningKey, parse_keys
from hotline.core.errors import ConfigError as ConfigError  # the loader's error, re-exported
from hotline.core.logs import LogSettings
from hotline.db.config import DatabaseSettings
from hotline.ha.config import HaSettings
from hotline.jobs.config import JobsSettings
from hotline.kb.config import KbSettings
from hotline.metrics.config import MetricsConfig
from hotline.supervision.config import LiveConfig
from hotline.surveys.config import SurveySettings
from hotline.tickets.config import TicketSettings
from hotline.tickets.lifecycle import KINDS
from ivr.menu import IvrSettings
from telephony.settings import PbxSettings, Port, Strict, pbx_problems

DEFAULT_CONFIG = Path("config/hotline.yaml")
# When set, replaces database.url: a PostgreSQL URL carries a password, a secret.
DATABASE_URL_ENV = "HOTLINE_DATABASE_URL"


class ListenSettings(Strict):
    """Where the service itself listens (loopback unless deliberately opened)."""

    api_host: str = "127.0.0.1"
    api_port: Port = 8080
    agi_host: str = "127.0.0.1"
    agi_port: Port = 4573


class Settings(Strict):
    service_number: str = "12345"
    # The one PBX; with ``pbxes`` (several PBXes) it is the first of them, the primary: the one
    # survey callbacks dial through and whose name older call records get.
    pbx: PbxSettings = PbxSettings()
    # Several PBXes (each with its own name, AMI connection, endpoints and queues) feeding one
    # service; leave out ``pbx`` then. Empty: just ``pbx``.
    pbxes: list[PbxSettings] = []
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
    # How jobs reach workers: the database (default) or Redis (workers on other machines).
    jobs: JobsSettings = JobsSettings()
    # Active/standby instances: leadership through a PostgreSQL advisory lock (hotline/ha/).
    ha: HaSettings = HaSettings()
    # The log's format (text or JSON lines) and level; HOTLINE_LOG_FORMAT / HOTLINE_LOG_LEVEL
    # in the environment override them (hotline/core/logs.py).
    logging: LogSettings = LogSettings()
    short_abandon_seconds: float = Field(5.0, ge=0, le=60)
    service_level_seconds: float = Field(20.0, gt=0, le=600)  # answered within T s
    # The share of calls to answer within service_level_seconds (80/20 by default): the demo
    # reports whether it was met.
    service_level_target: float = Field(0.8, gt=0, le=1)
    # The hotline's local time: hours and days of the metrics and reports.
    timezone: str = "Asia/Shanghai"
    # The API's token signing key comes from this environment variable (generated per run for
    # the embedded PBX when unset: tokens then last until the service restarts) ...
    api_secret_env: str = "HOTLINE_API_SECRET"
    # ... or several, with their ids, from this one ("kid:key,kid:key": the first signs, all
    # verify; key rotation, docs/operations.md). Set one of the two variables, not both.
    api_keys_env: str = "HOTLINE_API_KEYS"
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

    @property
    def all_pbxes(self) -> list[PbxSettings]:
        """Every PBX the service connects to, the primary first."""
        return list(self.pbxes) or [self.pbx]

    def pbx_named(self, name: str) -> PbxSettings:
        for pbx in self.all_pbxes:
            if pbx.name == name:
                return pbx
        raise KeyError(name)

    # -- what features take instead of the whole settings ------------------------------------
    def metrics_config(self) -> MetricsConfig:
        return MetricsConfig(
            self.tz,
            self.short_abandon_seconds,
            self.service_level_seconds,
            {p.name: frozenset(a.extension for a in p.agents) for p in self.all_pbxes},
        )

    def report_names(self) -> dict[str, dict[str, dict[str, str]]]:
        """The reports' Chinese names of ticket categories and departments (English pages
        keep the ids, as the CSV does)."""
        t = self.tickets
        return {
            "zh": {
                "category": {c.id: c.zh for c in t.categories},
                "department": {d.id: d.zh for d in t.departments},
            }
        }

    def live_config(self) -> LiveConfig:
        return LiveConfig(
            self.tz, self.service_level_seconds, self.short_abandon_seconds, tuple(self.all_pbxes)
        )

    def _pbx_fields(self) -> list[str]:
        """How messages name each PBX's section: ``pbx``, or ``pbxes[i]``."""
        return [f"pbxes[{i}]" for i in range(len(self.pbxes))] if self.pbxes else ["pbx"]

    @model_validator(mode="after")
    def _consistency(self) -> Settings:
        if self.pbxes:
            if "pbx" in self.model_fields_set and self.pbx != self.pbxes[0]:
                raise ValueError("give either pbx (one PBX) or pbxes (several), not both")
            # Frozen model: ``pbx`` becomes the primary once, here, for code that knows one.
            object.__setattr__(self, "pbx", self.pbxes[0])
        for pid, texts in self.surveys.prompts.items():
            for lang in self.ivr.languages:
                if lang not in texts:
                    where = f"surveys.prompts.{pid}"
                    raise ValueError(f"{where}: no text in {lang!r}, an IVR language")
        self._check_pbxes()
        draft_problems = self.draft.problems((c.id for c in self.tickets.categories), KINDS)
        if draft_problems:
            raise ValueError("; ".join(draft_problems))
        # A category level's choices are priors of the draft: only its categories make sense.
        known = sorted(self.draft.categories)
        for used, category in self.ivr.categories_used():
            if category not in self.draft.categories:
                raise ValueError(
                    f"ivr: {used}: unknown category {category!r} (not a key of "
                    f"draft.categories: {', '.join(known) or 'none defined'})"
                )
        if self.ha.enabled:
            if not self.database.url.startswith("postgresql"):
                raise ValueError("ha.enabled: active/standby needs a PostgreSQL database.url")
            if any(p.mode != "external" for p in self.all_pbxes):
                raise ValueError("ha.enabled: active/standby needs pbx.mode external")
        listen: dict[str, int] = {
            "listen.api_port": self.listen.api_port,
            "listen.agi_port": self.listen.agi_port,
        }
        # Each private PBX against the service's own ports (pbx_problems: PBX against PBX).
        for where, pbx in zip(self._pbx_fields(), self.all_pbxes, strict=True):
            ports = dict(listen)
            if pbx.mode == "embedded":
                ports[f"{where}.ami.port"] = pbx.ami.port
                ports[f"{where}.embedded.sip_port"] = pbx.embedded.sip_port
            seen: dict[int, str] = {}
            for name, port in ports.items():
                if port in seen:
                    raise ValueError(f"port clash: {name} and {seen[port]} are both {port}")
                seen[port] = name
            if pbx.mode == "embedded":
                emb = pbx.embedded
                for name, port in ports.items():
                    if emb.rtp_start <= port <= emb.rtp_end:
                        raise ValueError(f"port clash: {name} {port} lies inside the RTP range")
        return self

    def _check_pbxes(self) -> None:
        """Inbound routes, menus and queues per PBX, and the PBXes against each other."""
        pbxes, fields = self.all_pbxes, self._pbx_fields()
        problems = pbx_problems(pbxes, fields)
        if problems:
            raise ValueError("; ".join(problems))
        if not any(self.service_number in {r.number for r in p.inbound} for p in pbxes):
            where = "pbx.inbound" if not self.pbxes else "the inbound of any PBX"
            raise ValueError(f"service_number {self.service_number} has no entry in {where}")
        for where, pbx in zip(fields, pbxes, strict=True):
            on = f" ({where})" if self.pbxes else ""
            runs_menus = False
            for route in pbx.inbound:
                if route.menu is not None:
                    runs_menus = True
                    if route.menu not in self.ivr.menus:
                        raise ValueError(
                            f"inbound number {route.number}{on} names unknown menu {route.menu!r}"
                        )
            # The IVR may send a caller to any queue it names: each PBX whose callers reach a
            # menu must have them all (with one PBX, always checked).
            if not runs_menus and self.pbxes:
                continue
            queues = {q.name for q in pbx.queues}
            for used, queue in self.ivr.queues_used():
                if queue not in queues:
                    raise ValueError(f"ivr: {used}: unknown queue {queue!r}{on}")
            if self.ivr.transfers_used() and pbx.trunk.gateway is None:
                raise ValueError(
                    f"ivr: menus transfer calls out, so {where}.trunk.gateway must be set"
                )


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


def load_settings(path: Path = DEFAULT_CONFIG, env: Mapping[str, str] | None = None) -> Settings:
    """The file's settings; ``HOTLINE_DATABASE_URL`` in ``env`` (default: the process's
    environment), when set, replaces ``database.url``."""
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
    url = (os.environ if env is None else env).get(DATABASE_URL_ENV, "")
    section = (data or {}).get("database")
    if url and (section is None or isinstance(section, dict)):
        data = {**(data or {}), "database": {**(section or {}), "url": url}}
    try:
        return parse_settings(data, str(path))
    except ConfigError as exc:
        if url:  # say where the URL came from (never what it is)
            exc.problems = [
                f"{p} ({DATABASE_URL_ENV} replaces database.url)" if "database" in p else p
                for p in exc.problems
            ]
        raise


@dataclass(frozen=True, repr=False)
class Secrets:
    """Secrets read from the environment (or generated for a private PBX). Never logged."""

    ami_secret: str
    agent_passwords: dict[str, str] = field(default_factory=dict)
    phone_passwords: dict[str, str] = field(default_factory=dict)
    survey_password: str = ""
    # The API's token keys, the signing one first (api_keys_env, or api_secret_env as one key).
    api_keys: tuple[SigningKey, ...] = ()
    admin_password: str = ""
    metrics_token: str = ""
    redis_url: str = ""  # jobs.engine redis: may carry the password
    # Each PBX's AMI secret by PBX name (``ami_secret`` is the primary's).
    ami_secrets: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"

    def ami_secret_of(self, pbx: str) -> str:
        return self.ami_secrets.get(pbx, self.ami_secret)


def resolve_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> Secrets:
    """Read secrets from ``env``; the embedded PBX may invent the ones that are missing."""
    env = os.environ if env is None else env
    embedded = settings.pbx.mode == "embedded"
    ami_secrets: dict[str, str] = {}
    missing = []
    for where, pbx in zip(settings._pbx_fields(), settings.all_pbxes, strict=True):
        ami_env = pbx.ami.secret_env
        value = env.get(ami_env, "")
        if not value and pbx.mode != "embedded":
            missing.append(f"{where}.ami.secret_env: environment variable {ami_env} is not set")
        # A private PBX's is invented per PBX (it is written only into its own config).
        ami_secrets[pbx.name] = value or secrets.token_urlsafe(24)
    if missing:
        raise ConfigError("environment", missing)
    ami = ami_secrets[settings.pbx.name]
    passwords = {}
    phones = {}
    for pbx in settings.all_pbxes:  # endpoint numbers are unique across PBXes (validated)
        for agent in pbx.agents:
            value = env.get(agent.secret_env, "")
            passwords[agent.extension] = value or secrets.token_urlsafe(16)
        phones.update(
            {p.number: env.get(p.secret_env, "") or secrets.token_urlsafe(16) for p in pbx.phones}
        )
    # An external PBX without it: surveys are scheduled but not dialled (the service says so).
    survey = env.get(settings.surveys.sip.password_env, "")
    if not survey and embedded:
        survey = secrets.token_urlsafe(16)
    api_keys = _api_keys(settings, env, embedded)
    return Secrets(
        ami_secret=ami,
        agent_passwords=passwords,
        phone_passwords=phones,
        survey_password=survey,
        api_keys=api_keys,
        admin_password=env.get(settings.admin_password_env, ""),
        metrics_token=env.get(settings.metrics_token_env, ""),
        redis_url=resolve_redis_url(settings, env),
        ami_secrets=ami_secrets,
    )


def _api_keys(settings: Settings, env: Mapping[str, str], embedded: bool) -> tuple[SigningKey, ...]:
    """The token keys: the list of ``api_keys_env``, or ``api_secret_env`` as one key with the
    default id (shorter keys accepted there, as before: PyJWT warns), or one invented per run
    for the embedded PBX. Problems name the variable, never a key."""
    many, one = settings.api_keys_env, settings.api_secret_env
    listed, single = env.get(many, ""), env.get(one, "")
    if listed and single:
        raise ConfigError(
            "environment",
            [f"api_keys_env: set {many} or {one} ({DEFAULT_KID}:<key> in {many}), not both"],
        )
    if listed:
        try:
            return tuple(parse_keys(listed))
        except ValueError as exc:
            raise ConfigError(
                "environment", [f"api_keys_env: environment variable {many}: {exc}"]
            ) from None
    if not single:
        if not embedded:
            raise ConfigError(
                "environment",
                [f"api_secret_env: environment variable {one} is not set (nor {many})"],
            )
        single = secrets.token_urlsafe(32)
    return (SigningKey(DEFAULT_KID, single.encode()),)


def resolve_redis_url(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The Redis URL when ``jobs.engine`` is redis ("" otherwise). Never echoed: it may carry
    the password. Workers on other machines need only this, not the service's secrets."""
    jobs = settings.jobs
    if jobs.engine != "redis":
        return ""
    env = os.environ if env is None else env
    url = env.get(jobs.redis_url_env, "")
    if not url:
        raise ConfigError(
            "environment",
            [
                f"jobs.redis_url_env: environment variable {jobs.redis_url_env} is not set "
                "(jobs.engine is redis), e.g. redis://:PASSWORD@HOST:6379/0"
            ],
        )
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "environment",
            [
                f"jobs.redis_url_env: {jobs.redis_url_env} is not a redis://, rediss:// or "
                "unix:// URL"
            ],
        )
    return url


def check_ports_free(settings: Settings) -> None:
    """Fail early, naming the field, when a port the service must bind is taken."""
    wanted: list[tuple[str, str, int, int]] = [
        ("listen.api_port", settings.listen.api_host, settings.listen.api_port, socket.SOCK_STREAM),
        ("listen.agi_port", settings.listen.agi_host, settings.listen.agi_port, socket.SOCK_STREAM),
    ]
    for where, pbx in zip(settings._pbx_fields(), settings.all_pbxes, strict=True):
        if pbx.mode == "embedded":
            emb = pbx.embedded
            wanted += [
                (f"{where}.ami.port", emb.bind, pbx.ami.port, socket.SOCK_STREAM),
                (f"{where}.embedded.sip_port", emb.bind, emb.sip_port, socket.SOCK_DGRAM),
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
