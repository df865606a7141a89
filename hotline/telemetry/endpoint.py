"""Each worker process's own Prometheus endpoint, on loopback by default.

Why one endpoint per worker process, and not prometheus_client's multiprocess mode: that mode is
switched on by the ``PROMETHEUS_MULTIPROC_DIR`` environment variable, read once when
prometheus_client is first imported, so it would have to be set in the service's own
environment before its children start, and every process started after that (by the service
or by a test harness running it in-process) would inherit it and write its samples into that
directory: state shared across processes through the environment, which the project avoids.
It also drops the per-process collectors (process, GC) and custom collectors, and it cannot
reach ``hotline worker`` processes on other machines anyway. An endpoint per process keeps each
process's registry its own, gives every worker the same metrics wherever it runs, and costs one
scrape target per process (process ``n`` of a pool listens on ``port + n``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, start_http_server

from hotline.telemetry.metrics import WorkerMetrics, add_runtime_collectors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricsEndpoint:
    """Where a worker process serves its metrics (plain data: it crosses a process boundary)."""

    host: str
    port: int

    def for_slot(self, n: int) -> MetricsEndpoint:
        """Process ``n`` of a pool (0-based): the next port up, one per process."""
        return replace(self, port=self.port + n)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


@contextlib.contextmanager
def worker_metrics(queue: str, endpoint: MetricsEndpoint | None) -> Iterator[WorkerMetrics]:
    """A worker process's metrics on a registry of its own, with the process and runtime
    collectors, served at ``endpoint`` (None: kept, not served) until the block ends.

    A port already taken is logged, and the worker works on without its endpoint: metrics
    are not worth stopping the jobs for."""
    registry = CollectorRegistry()
    add_runtime_collectors(registry)
    metrics = WorkerMetrics.on(registry, queue)
    server = None
    if endpoint is not None:
        try:
            server, _ = start_http_server(endpoint.port, addr=endpoint.host, registry=registry)
        except OSError as exc:
            log.error("metrics endpoint %s not served: %s", endpoint.url, exc)
        else:
            log.info("metrics at %s", endpoint.url)
    try:
        yield metrics
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
