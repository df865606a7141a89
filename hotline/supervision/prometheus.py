"""``/metrics``: the service's registry (histograms, process and runtime collectors, the job
queue) plus, per scrape, the live collector: gauges and counters computed from the live
snapshot and the counts the service keeps (calls ended, FastAGI sessions), read at scrape time
and never kept as gauges updated elsewhere."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from hotline.supervision.schemas import LiveSnapshot
from ivr.agi.server import AgiStats

AGENT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "logged_out")


@dataclass(frozen=True)
class IvrOutcomes:
    """FastAGI sessions by outcome, copied from the server's stats on the event loop."""

    completed: int = 0
    hangup: int = 0
    failed: int = 0
    rejected: int = 0
    bad_request: int = 0

    @classmethod
    def of(cls, stats: AgiStats) -> IvrOutcomes:
        return cls(stats.completed, stats.hangups, stats.failed, stats.rejected, stats.bad_requests)


@dataclass(frozen=True)
class LiveCollector:
    """One scrape's live families, from values taken on the event loop (so that collecting,
    which runs in a thread, reads nothing the loop is changing)."""

    snapshot: LiveSnapshot
    ended: Mapping[str, int] = field(default_factory=dict)  # calls ended by disposition
    ivr: IvrOutcomes = field(default_factory=IvrOutcomes)

    def collect(self) -> Iterator[Metric]:
        queues = self.snapshot.queues
        waiting = GaugeMetricFamily(
            "hotline_callers_waiting", "Callers waiting in the queue now.", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "hotline_longest_wait_seconds", "Longest current wait in the queue.", labels=["queue"]
        )
        for q in queues:
            waiting.add_metric([q.name], len(q.waiting))
            longest.add_metric([q.name], q.longest_wait)
        yield waiting
        yield longest
        up = GaugeMetricFamily(
            "hotline_pbx_up", "1 while the service is connected to the PBX's AMI.", labels=["pbx"]
        )
        for p in self.snapshot.pbxes:
            up.add_metric([p.name], 1 if p.connected else 0)
        yield up
        states = dict.fromkeys(AGENT_STATES, 0)
        for a in self.snapshot.agents:
            states[a.state] = states.get(a.state, 0) + 1
        agents = GaugeMetricFamily("hotline_agents", "Agents by state.", labels=["state"])
        for state, n in states.items():
            agents.add_metric([state], n)
        yield agents
        calls = CounterMetricFamily(
            "hotline_calls", "Calls ended since the service started.", labels=["disposition"]
        )
        for disposition, n in sorted(self.ended.items()):
            calls.add_metric([disposition], n)
        yield calls
        ivr = CounterMetricFamily(
            "hotline_ivr_sessions", "FastAGI sessions by outcome.", labels=["outcome"]
        )
        for outcome, n in dataclasses.asdict(self.ivr).items():
            ivr.add_metric([outcome], n)
        yield ivr
        today = self.snapshot.today
        calls_today = GaugeMetricFamily(
            "hotline_today_calls", "Today's calls so far (local day).", labels=["kind"]
        )
        calls_today.add_metric(["offered"], today.offered)
        calls_today.add_metric(["answered"], today.answered)
        calls_today.add_metric(["abandoned"], today.abandoned)
        yield calls_today
        if today.service_level is not None:
            yield GaugeMetricFamily(
                "hotline_today_service_level",
                "Today's service level (0..1).",
                value=today.service_level,
            )


@dataclass(frozen=True)
class _Scrape:
    """The registry and one scrape's live collector, collected as one."""

    registry: CollectorRegistry
    live: LiveCollector

    def collect(self) -> Iterator[Metric]:
        yield from self.live.collect()
        yield from self.registry.collect()


@dataclass(frozen=True)
class Exposition:
    """``/metrics``'s body: ``live`` gives this scrape's live collector (on the event loop);
    the rest comes from ``registry``, collected in a thread (the job queue's collector reads the
    database)."""

    registry: CollectorRegistry
    live: Callable[[], Awaitable[LiveCollector]]

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The body and its content type, in the format ``accept`` asks for (Prometheus text
        by default, OpenMetrics when asked)."""
        scrape = _Scrape(self.registry, await self.live())
        encode, content_type = choose_encoder(accept)
        return await asyncio.to_thread(encode, scrape), content_type
