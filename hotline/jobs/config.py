"""``jobs:``: how jobs (transcriptions, survey calls) reach their worker processes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from telephony.settings import Strict


class JobsSettings(Strict):
    """How transcription jobs (and survey calls) reach their workers. ``database``: workers
    claim jobs from the store (the service's local processes, or ``hotline worker`` on machines
    sharing the database). ``redis``: the store still keeps every job and its one result, and
    the job ids are delivered through Redis (dramatiq) to ``hotline worker`` processes anywhere,
    at least once; a job delivered twice is done once (the store's claim and conditional
    result), so a duplicate is harmless and a lost message is published again."""

    engine: Literal["database", "redis"] = "database"
    # The Redis URL may carry a password: it is a secret, read from this environment variable.
    redis_url_env: str = Field("HOTLINE_REDIS_URL", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Prefix of every Redis key, so several hotlines can share one Redis.
    namespace: str = Field("hotline", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    # A running job's lease in the store, renewed every third of it while its worker lives: a
    # job whose lease ran out (its worker died or hung) is taken over by another worker.
    lease: float = Field(60.0, ge=2, le=3600)
    # A job whose workers die this many times (a recording that crashes them) fails, saying so.
    max_attempts: int = Field(3, ge=1, le=100)
    # Redis: a worker process silent this long (seconds) counts as dead, and the messages it
    # took and never acknowledged go back to the queue (dramatiq's heartbeat timeout).
    heartbeat_timeout: float = Field(120.0, ge=2, le=86400)
    # Redis: share of commands that also run that clean-up (dramatiq's maintenance chance).
    maintenance_chance: float = Field(0.01, gt=0, le=1)
    # Redis: a job published this long ago (seconds) and still queued is published again (its
    # message was lost, e.g. Redis restarted without persistence).
    redelivery_after: float = Field(900.0, ge=5, le=86400)
    # On SIGTERM a worker finishes its current job for up to this long, then gives it back.
    stop_timeout: float = Field(60.0, ge=0, le=3600)
    # The service's own transcription worker processes (jobs.engine: database) each serve their
    # Prometheus metrics: worker n on metrics_port + n, at metrics_host. None: off.
    # (``hotline worker ... --metrics-port`` does the same for a pool of worker processes.)
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _timing(self) -> JobsSettings:
        if self.lease >= self.heartbeat_timeout:
            raise ValueError(
                f"lease ({self.lease:g} s) must be shorter than heartbeat_timeout "
                f"({self.heartbeat_timeout:g} s): a dead worker's message comes back after the "
                "heartbeat timeout and must find its job's lease over"
            )
        return self
