"""``/metrics`` with prometheus_client, read back with the library's own parser: the live
collector's families from a snapshot (names, types, labels, values as before the move to the
library), the histograms on a registry each test builds, the runtime collectors, the job
queue's gauges and the AMI event → stored histogram; prometheus_client's global registry stays
untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import httpx
import prometheus_client
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.exc import OperationalError

from hotline.calls.writer import CallWriter
from hotline.jobs.metrics import JobQueueCollector
from hotline.jobs.store import Backlog
from hotline.supervision import routes
from hotline.supervision.prometheus import Exposition, IvrOutcomes, LiveCollector
from hotline.supervision.schemas import (
    LiveAgent,
    LivePbxRow,
    LiveQueue,
    LiveSnapshot,
    PbxToday,
    WaitingCaller,
)
from hotline.telemetry.metrics import (
    AGI_BUCKETS,
    POP_BUCKETS,
    ServiceMetrics,
    add_runtime_collectors,
)
from hotline.web.deps import provide
from telephony.tracker import CallRecord, CallUpdate, UpdateKind

NOW = 1_763_700_000.0  # the snapshot's "now": any instant (nothing here reads a clock)
ODD = 'q "quoted" \\ back\nslash'  # a queue name that needs escaping in the text format


def _today(service_level: float | None) -> PbxToday:
    return PbxToday(
        offered=9,
        answered=7,
        abandoned=2,
        short_abandons=1,
        service_level=service_level,
        service_level_seconds=20,
        asa=4.5,
    )


def _queue(name: str, waits: Sequence[float]) -> LiveQueue:
    callers = [
        WaitingCaller(
            pbx="pbx1",
            call_id=f"1763700000.{i}",
            position=i + 1,
            caller_number=f"13900000{i:03d}",
            joined_at=NOW - w,
            waited=w,
            language="zh",
            request_kind=None,
        )
        for i, w in enumerate(waits)
    ]
    return LiveQueue(
        name=name,
        language="zh",
        skill=None,
        waiting=callers,
        longest_wait=max(waits, default=0.0),
        members=2,
        available=1,
        by_pbx={},
    )


def _agent(agent_id: str, state: str) -> LiveAgent:
    return LiveAgent.model_validate(
        {
            "agent_id": agent_id,
            "name": agent_id,
            "extension": None,
            "pbx": None,
            "state": state,
            "reason": None,
            "no_answer": False,
            "since": None,
            "queues": [],
        }
    )


def _pbx(name: str, connected: bool) -> LivePbxRow:
    return LivePbxRow(
        name=name,
        mode="embedded",
        connected=connected,
        connections=1,
        down_for=None,
        calls_in_progress=0,
        waiting=0,
        agents={},
        today=_today(None),
    )


def snapshot(service_level: float | None = 0.75) -> LiveSnapshot:
    return LiveSnapshot(
        now=NOW,
        pbxes=[_pbx("east", True), _pbx("west", False)],
        queues=[_queue("operator", [12.5, 3.0]), _queue(ODD, [])],
        agents=[_agent("a1", "available"), _agent("a2", "on_call"), _agent("a3", "on_call")],
        calls=[],
        today=_today(service_level),
    )


def parse(text: str) -> dict[str, prometheus_client.Metric]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: dict[str, prometheus_client.Metric], sample: str, **labels: str) -> float:
    """The value of ``sample`` (with exactly ``labels``) in the parsed families."""
    found = [
        s.value
        for f in families.values()
        for s in f.samples
        if s.name == sample and s.labels == labels
    ]
    assert len(found) == 1, (sample, labels, found)
    return found[0]


async def scrape(
    registry: CollectorRegistry, live: LiveCollector, accept: str = ""
) -> tuple[str, str]:
    async def make() -> LiveCollector:
        return live

    body, content_type = await Exposition(registry, make).render(accept)
    return body.decode(), content_type


async def test_the_live_families_keep_their_names_types_and_values() -> None:
    live = LiveCollector(
        snapshot(),
        {"answered": 4, "abandoned": 2},
        IvrOutcomes(completed=5, hangup=1, failed=0, rejected=0, bad_request=3),
    )
    text, content_type = await scrape(CollectorRegistry(), live)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    got = parse(text)
    kinds = {name: f.type for name, f in got.items()}
    assert kinds == {
        "hotline_callers_waiting": "gauge",
        "hotline_longest_wait_seconds": "gauge",
        "hotline_pbx_up": "gauge",
        "hotline_agents": "gauge",
        "hotline_calls": "counter",  # the parser drops "_total" from a counter's family name
        "hotline_ivr_sessions": "counter",
        "hotline_today_calls": "gauge",
        "hotline_today_service_level": "gauge",
    }
    # The series names are the ones scrapers and dashboards already use.
    assert "# TYPE hotline_calls_total counter" in text
    assert "# TYPE hotline_ivr_sessions_total counter" in text
    assert value(got, "hotline_callers_waiting", queue="operator") == 2
    assert value(got, "hotline_callers_waiting", queue=ODD) == 0  # escaped and read back
    assert value(got, "hotline_longest_wait_seconds", queue="operator") == 12.5
    assert value(got, "hotline_pbx_up", pbx="east") == 1
    assert value(got, "hotline_pbx_up", pbx="west") == 0
    agents = {s.labels["state"]: s.value for s in got["hotline_agents"].samples}
    assert agents == {
        "available": 1,
        "ringing": 0,
        "on_call": 2,
        "wrap_up": 0,
        "paused": 0,
        "logged_out": 0,
    }
    assert value(got, "hotline_calls_total", disposition="answered") == 4
    assert value(got, "hotline_calls_total", disposition="abandoned") == 2
    outcomes = {s.labels["outcome"]: s.value for s in got["hotline_ivr_sessions"].samples}
    assert outcomes == {
        "completed": 5,
        "hangup": 1,
        "failed": 0,
        "rejected": 0,
        "bad_request": 3,
    }
    today = {s.labels["kind"]: s.value for s in got["hotline_today_calls"].samples}
    assert today == {"offered": 9, "answered": 7, "abandoned": 2}
    assert value(got, "hotline_today_service_level") == 0.75


async def test_no_service_level_yet_no_series() -> None:
    text, _ = await scrape(CollectorRegistry(), LiveCollector(snapshot(service_level=None)))
    assert "hotline_today_service_level" not in parse(text)


async def test_histograms_and_runtime_collectors_are_on_the_registry_given() -> None:
    registry = CollectorRegistry()
    add_runtime_collectors(registry)
    metrics = ServiceMetrics.on(registry)
    for seconds in (0.004, 0.04, 0.3):
        metrics.pop_latency.observe(seconds)
    metrics.agi_command("SET VARIABLE", 0.0007)
    metrics.agi_command("SET VARIABLE", 0.002)
    metrics.agi_command("ANSWER", 0.0004)
    metrics.ami_to_stored.observe(0.12)
    text, _ = await scrape(registry, LiveCollector(snapshot()))
    got = parse(text)
    pop = got["hotline_screenpop_latency_seconds"]
    assert pop.type == "histogram"
    buckets = {float(s.labels["le"]): s.value for s in pop.samples if s.name.endswith("_bucket")}
    assert sorted(buckets) == sorted([*POP_BUCKETS, float("inf")])
    assert (buckets[0.005], buckets[0.05], buckets[0.5], buckets[float("inf")]) == (1, 2, 3, 3)
    assert value(got, "hotline_screenpop_latency_seconds_count") == 3
    assert value(got, "hotline_screenpop_latency_seconds_sum") == pytest.approx(0.344)
    agi = got["hotline_agi_round_trip_seconds"]
    assert {float(s.labels["le"]) for s in agi.samples if s.name.endswith("_bucket")} == {
        *AGI_BUCKETS,
        float("inf"),
    }
    assert value(got, "hotline_agi_round_trip_seconds_count", command="SET VARIABLE") == 2
    assert value(got, "hotline_agi_round_trip_seconds_count", command="ANSWER") == 1
    assert value(got, "hotline_ami_event_to_stored_seconds_count") == 1
    for quiet in ("hotline_hangup_to_transcript_seconds", "hotline_hangup_to_draft_seconds"):
        assert value(got, f"{quiet}_count") == 0  # present before the first observation
    # The process and the Python runtime, from this registry's own collectors.
    assert value(got, "process_resident_memory_bytes") > 0
    assert got["python_info"].samples[0].labels["implementation"]
    assert any(
        s.name == "python_gc_collections_total" for s in got["python_gc_collections"].samples
    )


async def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    registry = CollectorRegistry()
    ServiceMetrics.on(registry).pop_latency.observe(0.02)
    live = LiveCollector(snapshot(), {"answered": 1})
    text, content_type = await scrape(
        registry, live, accept="application/openmetrics-text; version=1.0.0"
    )
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    assert 'hotline_calls_total{disposition="answered"} 1' in text


@pytest.mark.parametrize("token", ["", "s3cret-scrape-token"])
async def test_the_endpoint_wants_the_bearer_token_when_one_is_set(token: str) -> None:
    registry = CollectorRegistry()
    ServiceMetrics.on(registry)

    async def live() -> LiveCollector:
        return LiveCollector(snapshot(), {"answered": 1})

    app = FastAPI()
    provide(app, [routes.Scrape(Exposition(registry, live), token)])
    app.include_router(routes.pages)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        plain = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    if token:
        assert (plain.status_code, wrong.status_code) == (401, 401)
    else:
        assert (plain.status_code, wrong.status_code) == (200, 200)
    assert right.status_code == 200
    assert right.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    got = parse(right.text)
    assert value(got, "hotline_calls_total", disposition="answered") == 1
    assert value(got, "hotline_screenpop_latency_seconds_count") == 0


def test_each_registry_is_its_own_and_the_global_one_is_never_used() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    for registry in (first, second):  # twice: nothing registered globally would collide
        add_runtime_collectors(registry)
        ServiceMetrics.on(registry).pop_latency.observe(1.0)
    assert first.get_sample_value("hotline_screenpop_latency_seconds_count") == 1
    names = [m.name for m in prometheus_client.REGISTRY.collect()]
    assert not [n for n in names if n.startswith("hotline_")]


def _collect(collector: JobQueueCollector) -> dict[str, list[Sample]]:
    return {m.name: list(m.samples) for m in collector.collect()}


def test_the_job_queue_gauges_come_from_the_store_at_scrape_time(frozen_now: datetime) -> None:
    backlogs: list[Backlog] = [
        Backlog(queued=3, running=1, oldest=frozen_now - timedelta(seconds=95)),
        Backlog(queued=0, running=0, oldest=None),
    ]
    collector = JobQueueCollector(lambda: backlogs.pop(0), now=lambda: frozen_now)
    got = _collect(collector)
    depth = {s.labels["status"]: s.value for s in got["hotline_job_queue_depth"]}
    assert depth == {"queued": 3, "running": 1}
    assert got["hotline_job_oldest_age_seconds"][0].value == 95
    empty = _collect(collector)  # read again at the next scrape, not kept
    assert {s.value for s in empty["hotline_job_queue_depth"]} == {0}
    assert empty["hotline_job_oldest_age_seconds"][0].value == 0


def test_the_job_queue_gauges_are_absent_while_the_database_is(
    frozen_now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    def down() -> Backlog:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    assert _collect(JobQueueCollector(down, now=lambda: frozen_now)) == {}
    assert "job queue metrics not read: OperationalError" in caplog.text


class StepClock:
    """A clock that reads ``at`` until something moves it."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class Store:
    """``CallStore.save_many``: keeps the records; each write "takes" ``takes`` seconds on
    ``clock``."""

    def __init__(self, clock: StepClock, takes: float) -> None:
        self.saved: list[CallRecord] = []
        self.clock = clock
        self.takes = takes

    def save_many(self, records: Iterable[CallRecord]) -> None:
        self.clock.at += self.takes
        self.saved.extend(records)


async def test_each_stored_update_is_timed_from_its_submission() -> None:
    registry = CollectorRegistry()
    clock = StepClock(100.0)
    store = Store(clock, takes=0.2)
    writer = CallWriter(
        store,  # type: ignore[arg-type]
        stored_latency=ServiceMetrics.on(registry).ami_to_stored,
        clock=clock,
    )
    writer.submit([CallUpdate(UpdateKind.STARTED, CallRecord(f"c{i}")) for i in range(2)])
    clock.at += 0.05  # the next event comes a little later
    writer.submit([CallUpdate(UpdateKind.STARTED, CallRecord("c2"))])
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.wait_for(writer.drain(), 5)
    finally:
        task.cancel()
    assert [r.call_id for r in store.saved] == ["c0", "c1", "c2"]  # one batch
    got = registry.get_sample_value
    assert got("hotline_ami_event_to_stored_seconds_count") == 3
    assert got("hotline_ami_event_to_stored_seconds_sum") == pytest.approx(0.25 + 0.25 + 0.2)
    assert got("hotline_ami_event_to_stored_seconds_bucket", {"le": "0.1"}) == 0
    assert got("hotline_ami_event_to_stored_seconds_bucket", {"le": "0.25"}) == 3
