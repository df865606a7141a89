"""``hotline worker ...``: worker processes for the configured job engine, on this machine or
any other that reaches the database (and Redis). They need the configuration file, the
database, the speech models and, for Redis, ``jobs.redis_url_env``; not the PBX's secrets."""

from __future__ import annotations

import dataclasses
import logging
import os

from sqlalchemy.exc import DBAPIError

from hotline.app.settings import ConfigError, Settings, resolve_redis_url
from hotline.db.engine import schema_revisions
from hotline.jobs.broker import QueueConfig
from hotline.jobs.pool import run_pool
from hotline.telemetry.endpoint import MetricsEndpoint
from hotline.transcription.worker import WorkerConfig

log = logging.getLogger(__name__)


def hot_words(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Per language, the names the speech engine is told to expect (Whisper's hot words): the
    gazetteer's places, then the departments (the engine keeps as many as its prompt holds)."""
    places = settings.draft.places
    departments = settings.tickets.departments
    return {
        "zh": tuple(p.zh for p in places if p.zh) + tuple(d.zh for d in departments),
        "en": tuple(p.name for p in places) + tuple(d.en for d in departments),
    }


def worker_config(settings: Settings, worker_id: str = "") -> WorkerConfig:
    """A transcription worker's configuration from the settings (the service's local workers
    and ``hotline worker transcribe`` alike)."""
    asr = settings.asr
    return WorkerConfig(
        settings.database.url,
        worker_id,
        {},
        engines=asr.by_language,
        whisper=asr.whisper.options(hot_words(settings)),
        detect_language=asr.detect_language,
        fallback_language=asr.fallback_language,
        draft=settings.draft.model_dump(mode="json"),
        lease=settings.jobs.lease,
        max_attempts=settings.jobs.max_attempts,
        timezone=settings.timezone,
        options=dataclasses.asdict(asr.options),
        log=settings.logging,
    )


def metrics_endpoint(host: str, port: int | None) -> MetricsEndpoint | None:
    """``--metrics-host`` and ``--metrics-port`` (None: no endpoint)."""
    if port is None:
        return None
    if not 1 <= port <= 65535:
        raise ConfigError("--metrics-port", ["--metrics-port: must be between 1 and 65535"])
    return MetricsEndpoint(host, port)


def _check_ports(metrics: MetricsEndpoint | None, processes: int, what: str) -> None:
    if metrics is not None and metrics.port + processes - 1 > 65535:
        raise ConfigError(
            what,
            [f"{what}: {processes} process(es) need ports {metrics.port} and up, past 65535"],
        )


def transcribe(
    settings: Settings, processes: int | None, metrics: MetricsEndpoint | None = None
) -> int:
    if not settings.asr.enabled:
        raise ConfigError("asr.enabled", ["asr.enabled: transcription is off, nothing to do"])
    n = settings.asr.workers if processes is None else processes
    if not 1 <= n <= 64:
        raise ConfigError("--processes", ["--processes: must be between 1 and 64"])
    _check_ports(metrics, n, "--metrics-port")
    for line in settings.asr.coverage(settings.ivr.languages):
        log.warning("transcription: %s", line)
    _check_schema(settings.database.url)
    cfg = worker_config(settings)
    jobs = settings.jobs
    if jobs.engine == "redis":
        from hotline.transcription.serve import serve

        queue = QueueConfig.from_settings(jobs, resolve_redis_url(settings))
        return run_pool("transcribe", serve, (cfg, queue), n, jobs.stop_timeout, metrics)
    from hotline.transcription.serve import serve_database

    return run_pool("transcribe", serve_database, (cfg,), n, jobs.stop_timeout, metrics)


def survey(
    settings: Settings, processes: int | None, metrics: MetricsEndpoint | None = None
) -> int:
    n = 1 if processes is None else processes
    if not 1 <= n <= 64:
        raise ConfigError("--processes", ["--processes: must be between 1 and 64"])
    _check_ports(metrics, n, "--metrics-port")
    if not settings.surveys.enabled:
        raise ConfigError("surveys.enabled", ["surveys.enabled: surveys are off, nothing to do"])
    if settings.jobs.engine != "redis":
        raise ConfigError(
            "jobs.engine",
            [
                "jobs.engine: survey workers take their calls from Redis (jobs.engine: redis); "
                "with the database engine the service dials surveys itself"
            ],
        )
    env = settings.surveys.sip.password_env
    password = os.environ.get(env, "")
    if not password:
        raise ConfigError(
            "environment",
            [
                f"surveys.sip.password_env: environment variable {env} (the survey user agent's "
                "SIP password) is not set"
            ],
        )
    url = resolve_redis_url(settings)
    _check_schema(settings.database.url)
    from hotline.surveys.service import registrar_of
    from hotline.surveys.worker import SurveyWorkerConfig, serve

    cfg = SurveyWorkerConfig(
        settings.surveys,
        settings.ivr,
        settings.tickets.calendar,
        settings.tz,
        database_url=settings.database.url,
        registrar=registrar_of(settings.surveys, settings.pbx),
        log=settings.logging,
    )
    queue = QueueConfig.from_settings(settings.jobs, url)
    return run_pool("survey", serve, (cfg, password, queue), n, settings.jobs.stop_timeout, metrics)


def _check_schema(url: str) -> None:
    """The service migrates the database; a worker only checks it is migrated (an unreachable
    database is waited for by the workers themselves)."""
    try:
        current, head = schema_revisions(url)
    except DBAPIError as exc:
        log.warning(
            "database not reachable yet (%s); the workers wait for it",
            str(exc.orig or exc).splitlines()[0],
        )
        return
    if current != head:
        raise ConfigError(
            "database.url",
            [
                f"database.url: the database is at schema {current or 'none'}, not {head}: "
                "run `hotline db upgrade` (or start the service) first"
            ],
        )
