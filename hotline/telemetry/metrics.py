"""The metrics the service and its workers observe, each built on a registry it is given.

Buckets are in seconds and suit what each one times: a pop or a stored record takes
milliseconds (seconds through a database outage), a FastAGI command well under a millisecond on
a quiet loop, a transcription tens of seconds to many minutes, a survey call about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# The screen-pop: the AgentConnect reaching the service → the pop sent to the agent's pages.
POP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# One FastAGI command's round trip (write → parsed reply), on the service's event loop.
AGI_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# An AMI event's call update reaching the database (a batch every 0.1 s; retried through an
# outage, hence the long tail).
STORED_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Hang-up → transcript or draft delivered: settling, queueing and transcription (~23x real time
# per core), minutes under a backlog.
DELIVERY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# One job in a worker process, by queue.
JOB_BUCKETS = {
    "transcribe": (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0),
    "survey": (1.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0),
}
JOB_OUTCOMES = ("done", "failed")  # present from the start (0), so a rate is defined at once


class Observer(Protocol):
    """What a feature times into (a ``Histogram``, or one of its labelled children)."""

    def observe(self, amount: float) -> None: ...


class _Unobserved:
    def observe(self, amount: float) -> None:
        """Nothing: a feature built without metrics (tests, tools)."""


UNOBSERVED: Observer = _Unobserved()


def add_runtime_collectors(registry: CollectorRegistry) -> None:
    """The process (CPU, memory, open files, start time), Python platform and garbage-collector
    collectors, on ``registry`` (never on the library's global one)."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


@dataclass(frozen=True)
class ServiceMetrics:
    """The service's histograms, registered on its registry by ``on``."""

    pop_latency: Histogram
    agi_round_trip: Histogram  # labelled by command ("SET VARIABLE", "ANSWER", ...)
    ami_to_stored: Histogram
    hangup_to_transcript: Histogram
    hangup_to_draft: Histogram

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ServiceMetrics:
        return cls(
            Histogram(
                "hotline_screenpop_latency_seconds",
                "AgentConnect reaching the service to the screen-pop sent to the agent's pages.",
                buckets=POP_BUCKETS,
                registry=registry,
            ),
            Histogram(
                "hotline_agi_round_trip_seconds",
                "FastAGI command round trip (commands that do not wait on the caller).",
                ["command"],
                buckets=AGI_BUCKETS,
                registry=registry,
            ),
            Histogram(
                "hotline_ami_event_to_stored_seconds",
                "AMI event's call update handed to the recorder to the call record stored.",
                buckets=STORED_BUCKETS,
                registry=registry,
            ),
            Histogram(
                "hotline_hangup_to_transcript_seconds",
                "Call's end stored (its transcription job created) to the transcript delivered.",
                buckets=DELIVERY_BUCKETS,
                registry=registry,
            ),
            Histogram(
                "hotline_hangup_to_draft_seconds",
                "Call's end stored to the ticket draft delivered to the agent's screen-pop.",
                buckets=DELIVERY_BUCKETS,
                registry=registry,
            ),
        )

    def agi_command(self, command: str, seconds: float) -> None:
        """The FastAGI server's round-trip hook (``ivr.agi.server.AgiStats.on_round_trip``)."""
        self.agi_round_trip.labels(command).observe(seconds)


@dataclass(frozen=True)
class WorkerMetrics:
    """Jobs done by worker processes of one queue (``transcribe``, ``survey``): how many by
    outcome, and how long each took."""

    queue: str
    jobs: Counter
    duration: Histogram

    @classmethod
    def on(cls, registry: CollectorRegistry, queue: str) -> WorkerMetrics:
        metrics = cls(
            queue,
            Counter(
                "hotline_worker_jobs",
                "Jobs finished by this process, by queue and outcome.",
                ["queue", "outcome"],
                registry=registry,
            ),
            Histogram(
                "hotline_worker_job_duration_seconds",
                "One job's run in a worker process, by queue and outcome.",
                ["queue", "outcome"],
                buckets=JOB_BUCKETS[queue],
                registry=registry,
            ),
        )
        for outcome in JOB_OUTCOMES:
            metrics.jobs.labels(queue, outcome)
        return metrics

    def job(self, outcome: str, seconds: float) -> None:
        """One job finished with ``outcome`` after ``seconds``."""
        self.jobs.labels(self.queue, outcome).inc()
        self.duration.labels(self.queue, outcome).observe(seconds)

    def count(self, outcome: str, n: int = 1) -> None:
        """Jobs finished without a run of their own here (e.g. given up after their workers
        died): counted, not timed."""
        if n:
            self.jobs.labels(self.queue, outcome).inc(n)
