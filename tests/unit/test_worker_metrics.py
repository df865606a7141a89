"""A worker process's own metrics: a registry of its own with the process and runtime
collectors, jobs counted by outcome and timed, served on its loopback endpoint while it works
(read back with prometheus_client's parser); a port already taken costs the endpoint, not the
worker. The real worker processes are scraped in tests/integration/test_transcription_jobs.py."""

from __future__ import annotations

import socket

import pytest

from hotline.surveys.attempt import AttemptResult, job_outcome
from hotline.telemetry.endpoint import MetricsEndpoint, worker_metrics
from hotline.telemetry.metrics import JOB_BUCKETS
from hotline.transcription.worker import observe
from testkit.support import free_port, labels, scrape_metrics


def test_a_workers_jobs_are_counted_timed_and_served_on_its_own_endpoint() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", free_port())
    with worker_metrics("transcribe", endpoint) as metrics:
        fresh = scrape_metrics(endpoint.url)
        observe(metrics, "done", 12.0)
        observe(metrics, "done", 40.0)
        observe(metrics, "failed", 0.3)
        observe(metrics, "waiting", 0.1)  # back to the queue for its recording: not finished
        metrics.count("failed", 2)  # given up after its workers died: counted, not timed
        metrics.count("failed", 0)
        got = scrape_metrics(endpoint.url)
    done, failed = (labels(queue="transcribe", outcome=o) for o in ("done", "failed"))
    # Done and failed are there from the start, at 0.
    assert fresh[("hotline_worker_jobs_total", done)] == 0
    assert fresh[("hotline_worker_jobs_total", failed)] == 0
    assert got[("hotline_worker_jobs_total", done)] == 2
    assert got[("hotline_worker_jobs_total", failed)] == 3
    assert not [k for k in got if ("outcome", "waiting") in k[1]]
    duration = "hotline_worker_job_duration_seconds"
    assert got[(f"{duration}_count", done)] == 2
    assert got[(f"{duration}_sum", done)] == 52
    assert got[(f"{duration}_count", failed)] == 1
    les = {float(dict(k[1])["le"]) for k in got if k[0] == f"{duration}_bucket"}
    assert les == {*JOB_BUCKETS["transcribe"], float("inf")}
    assert got[(f"{duration}_bucket", labels(le="30.0", queue="transcribe", outcome="done"))] == 1
    # The process's own figures, from this registry's collectors.
    assert got[("process_resident_memory_bytes", ())] > 0
    assert any(k[0] == "python_info" for k in got)
    # Served only while the worker runs.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", endpoint.port), 1):
        pass


def test_a_port_already_taken_costs_the_endpoint_not_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = MetricsEndpoint("127.0.0.1", taken.getsockname()[1])
        with worker_metrics("survey", endpoint) as metrics:
            metrics.job("done", 61.0)  # the worker goes on
    assert f"metrics endpoint {endpoint.url} not served" in caplog.text
    assert metrics.queue == "survey"


def test_each_process_of_a_pool_has_its_port() -> None:
    base = MetricsEndpoint("127.0.0.1", 9400)
    assert [base.for_slot(n).port for n in range(3)] == [9400, 9401, 9402]
    assert MetricsEndpoint("::1", 9400).url == "http://[::1]:9400/metrics"


@pytest.mark.parametrize(
    ("outcome", "job"),
    [
        ("answered", "done"),
        ("busy", "done"),
        ("no_answer", "done"),
        ("no_input", "done"),
        ("failed", "failed"),
        ("interrupted", "interrupted"),
        ("skipped", "skipped"),
    ],
)
def test_a_survey_call_as_a_job(outcome: str, job: str) -> None:
    assert job_outcome(AttemptResult(outcome)) == job
