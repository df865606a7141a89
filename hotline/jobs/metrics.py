"""The job queue's gauges, read from the store at scrape time: how many jobs wait and run, and
how old the oldest unfinished one is (a queue that stopped moving shows as a growing age)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from hotline.jobs.store import Backlog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobQueueCollector:
    """``backlog``: the store's ``JobStore.backlog`` (blocking: collected in a thread);
    ``now``: the clock the jobs were stamped with (UTC)."""

    backlog: Callable[[], Backlog]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def collect(self) -> Iterator[Metric]:
        try:
            backlog = self.backlog()
        except SQLAlchemyError as exc:
            # The rest of the scrape still answers; these two are absent while the database is.
            log.warning("job queue metrics not read: %s", exc.__class__.__name__)
            return
        depth = GaugeMetricFamily(
            "hotline_job_queue_depth",
            "Transcription jobs not finished: queued (due or not) and running.",
            labels=["status"],
        )
        depth.add_metric(["queued"], backlog.queued)
        depth.add_metric(["running"], backlog.running)
        yield depth
        age = 0.0
        if backlog.oldest is not None:
            age = max(0.0, (self.now() - backlog.oldest).total_seconds())
        yield GaugeMetricFamily(
            "hotline_job_oldest_age_seconds",
            "Age of the oldest unfinished transcription job (0 when there is none).",
            value=age,
        )
