"""The Redis side: dramatiq's ``RedisBroker`` built from the ``jobs:`` settings, the queue
names, and the publisher the service (and the workers, to delay a job) send job ids with.

No dramatiq middleware is installed: its defaults would retry a failed actor 20 times and cut a
job off after 10 minutes (``TimeLimit``), while here the store decides (attempts, leases,
results) and a transcription may be long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from hotline.jobs.config import JobsSettings

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"  # the queue and its actor
SURVEY = "survey"


class QueueUnavailable(Exception):
    """Redis did not take the message (down, refused, timed out)."""


@dataclass(frozen=True)
class QueueConfig:
    """What a process needs to reach the queue: plain data, so it crosses a process boundary.
    ``url`` may carry the password: it is never shown."""

    url: str = field(repr=False)
    namespace: str = "hotline"
    heartbeat_timeout: float = 120.0
    maintenance_chance: float = 0.01
    redelivery_after: float = 900.0
    stop_timeout: float = 60.0

    @classmethod
    def from_settings(cls, jobs: JobsSettings, url: str) -> QueueConfig:
        return cls(
            url=url,
            namespace=jobs.namespace,
            heartbeat_timeout=jobs.heartbeat_timeout,
            maintenance_chance=jobs.maintenance_chance,
            redelivery_after=jobs.redelivery_after,
            stop_timeout=jobs.stop_timeout,
        )


def make_broker(cfg: QueueConfig) -> RedisBroker:
    """A broker with its own connection pool. Timeouts: a Redis that stops answering is an
    error in seconds (and retried), never a process hung on a socket."""
    client = redis.Redis.from_url(
        cfg.url, socket_connect_timeout=5, socket_timeout=15, health_check_interval=30
    )
    return RedisBroker(  # type: ignore[no-untyped-call]  # dramatiq leaves it untyped
        client=client,
        namespace=cfg.namespace,
        heartbeat_timeout=int(cfg.heartbeat_timeout * 1000),
        # dramatiq counts it per million commands.
        maintenance_chance=max(1, round(cfg.maintenance_chance * 1_000_000)),
        middleware=[],
    )


def describe(error: BaseException) -> str:
    """An error's first line: redis-py's messages name host and port, never the password."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class Publisher:
    """Sends job ids to a queue; ``QueueUnavailable`` when Redis does not take them."""

    def __init__(self, broker: RedisBroker) -> None:
        self.broker = broker

    @classmethod
    def connect(cls, cfg: QueueConfig) -> Publisher:
        return cls(make_broker(cfg))

    def send(self, queue: str, kwargs: dict[str, Any], delay: float = 0.0) -> None:
        # The actor is named like its queue; the sender needs no actor function of its own.
        message: Message[Any] = Message(
            queue_name=queue, actor_name=queue, args=(), kwargs=kwargs, options={}
        )
        try:
            self.broker.enqueue(message, delay=int(delay * 1000) if delay > 0 else None)
        except redis.RedisError as exc:
            raise QueueUnavailable(describe(exc)) from None

    def transcribe(self, job_id: int, call_id: str, delay: float = 0.0) -> None:
        self.send(TRANSCRIBE, {"job_id": job_id, "call_id": call_id}, delay)

    def survey(self, survey_id: int, n: int) -> None:
        """Attempt ``n`` of a claimed survey, for a ``hotline worker survey`` process."""
        self.send(SURVEY, {"survey_id": survey_id, "n": n})

    def reachable(self) -> bool:
        try:
            return bool(self.broker.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.broker.client.close()
