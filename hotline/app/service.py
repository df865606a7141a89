"""Wiring of the running service: settings and connections are built here and passed down.

Each feature gets its own section of the settings and the few values it needs, never the whole
``Settings``; the path of a call through the features is ``hotline.app.flow``."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hotline.agents.desk import AgentDesk
from hotline.agents.routes import DeskChanged
from hotline.agents.store import AgentStore
from hotline.app.flow import wire_call_flow
from hotline.app.settings import Secrets, Settings
from hotline.app.web import create_app
from hotline.app.workers import worker_config
from hotline.callers.history import CallerHistory, RegionRules, StoreHistory
from hotline.calls.fanout import CallFanout
from hotline.calls.feed import CallFeed
from hotline.calls.store import CallStore
from hotline.calls.writer import CallWriter
from hotline.core.alerts import SupervisorAlerts
from hotline.core.auth import TokenSigner, hash_password
from hotline.db.engine import make_engine, migrate
from hotline.fastagi.service import Ivr
from hotline.jobs.metrics import JobQueueCollector
from hotline.jobs.store import JobStore
from hotline.kb.importer import seed_if_empty
from hotline.kb.service import KnowledgeBase, categories_from, kb_suggestions
from hotline.kb.store import KbStore
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.pbx.link import PbxLink
from hotline.screenpop.service import ScreenPop
from hotline.supervision.live import LiveView
from hotline.supervision.prometheus import Exposition, IvrOutcomes, LiveCollector
from hotline.supervision.routes import Scrape
from hotline.surveys.service import Surveys, registrar_of
from hotline.telemetry.endpoint import MetricsEndpoint
from hotline.telemetry.metrics import ServiceMetrics, WorkerMetrics, add_runtime_collectors
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from hotline.transcription.delivery import TranscriptDelivery
from hotline.transcription.service import Deliver, Transcription
from hotline.web.health import Health
from hotline.web.server import WebServer
from telephony.ami.connection import AmiConnection
from telephony.errors import AmiAuthError
from telephony.queue_control import QueueControl
from telephony.queue_state import QueueBoard
from telephony.tracker import CallTracker, scoped

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    engine: Engine
    store: CallStore
    tickets: TicketStore
    agents: AgentStore
    calls: CallFeed
    ivr: Ivr
    desk: AgentDesk
    live: LiveView
    web: WebServer
    signer: TokenSigner
    metrics: MetricsService
    ami: AmiConnection
    kb: KnowledgeBase = field(kw_only=True)
    screenpop: ScreenPop = field(kw_only=True)
    transcription: Transcription | None = field(kw_only=True)
    surveys: Surveys | None = field(kw_only=True)
    alerts: SupervisorAlerts = field(kw_only=True)
    # Every PBX by name, the primary first (``calls`` and ``ami`` are the primary's), and the
    # call feed of each one (one tracker per PBX, one recorder for all).
    links: dict[str, PbxLink] = field(kw_only=True, default_factory=dict)
    feeds: dict[str, CallFeed] = field(kw_only=True, default_factory=dict)
    # Where the feeds hand each event, update and login on to the features (``flow``).
    fanout: CallFanout = field(kw_only=True, default_factory=CallFanout)
    # What /metrics serves besides the live collector of each scrape (``Exposition``).
    registry: CollectorRegistry = field(kw_only=True, default_factory=CollectorRegistry)

    @classmethod
    async def build(
        cls,
        settings: Settings,
        secrets: Secrets,
        *,
        health: Health | None = None,
        registry: CollectorRegistry | None = None,
    ) -> Service:
        """``health``: this instance's role for /healthz (an active/standby pair's runner);
        ``registry``: where the service's metrics go (default: a new one; never
        prometheus_client's global registry)."""
        registry = CollectorRegistry() if registry is None else registry
        add_runtime_collectors(registry)
        observed = ServiceMetrics.on(registry)
        url = settings.database.url
        await asyncio.to_thread(lambda: migrate(url, primary_pbx=settings.pbx.name))
        engine = make_engine(url)
        regions = RegionRules(settings.callers)
        store = CallStore(engine, lambda number: regions.classify(number).name)
        tickets = TicketStore(engine)
        agents = AgentStore(engine)
        await asyncio.to_thread(bootstrap_admin, agents, secrets.admin_password)
        # Categories are checked against the ticket taxonomy when the configuration has one.
        kb = KnowledgeBase(KbStore(engine), categories_from(settings.tickets.categories))
        if settings.kb.seed_file is not None:
            await asyncio.to_thread(seed_if_empty, kb, settings.kb.seed_file)
        listen = settings.listen
        ivr = await Ivr.build(
            settings.ivr,
            tickets,
            host=listen.agi_host,
            port=listen.agi_port,
            flagged_priority=settings.flagged_priority,
            on_round_trip=observed.agi_command,
        )
        ticket_service = TicketService(
            settings.tickets, tickets, tz=settings.tz, languages=settings.ivr.languages
        )
        alerts = SupervisorAlerts()
        jobs = JobStore(engine) if settings.asr.enabled else None
        if jobs is not None:
            registry.register(JobQueueCollector(jobs.backlog))
        surveys = (
            _surveys(settings, secrets, engine, ticket_service, alerts, jobs, registry)
            if settings.surveys.enabled
            else None
        )
        survey_store = surveys.store if surveys else None
        callers = CallerHistory(settings.callers, StoreHistory(store, tickets))

        def suggest(kind: str | None, category: str | None, language: str | None) -> list[Any]:
            return kb_suggestions(kb, kind, category, language)

        # One AMI connection per PBX, each feeding its PBX's call feed (global call ids,
        # tracker, recorder), which hands every event on to the features in the order of
        # ``flow.wire_call_flow``; after each login the PBX's live state is read again.
        fanout = CallFanout()
        recorder = CallWriter(store, stored_latency=observed.ami_to_stored)
        recorder.subscribe(fanout.stored)
        ended: Counter[str] = Counter()  # over every PBX (the Prometheus counters)
        links: dict[str, PbxLink] = {}
        feeds: dict[str, CallFeed] = {}
        for pbx in settings.all_pbxes:
            scope = scoped(pbx.name)
            tracker = CallTracker(pbx.name)
            feed = CallFeed(tracker, recorder, ended=ended, store=store, scope=scope, fanout=fanout)
            feed.ami = AmiConnection(
                pbx.ami,
                secrets.ami_secret_of(pbx.name),
                feed.on_event,
                _connected(fanout, pbx.name),
            )
            control = QueueControl(feed.ami, scope)
            links[pbx.name] = PbxLink(pbx, tracker, QueueBoard(), control, feed.ami)
            feeds[pbx.name] = feed
        first = links[settings.pbx.name]
        calls = feeds[first.name]
        ami = calls.ami
        assert ami is not None
        live = LiveView(
            settings.live_config(),
            first.board,
            agents,
            first.tracker,
            store,
            surveys=survey_store,
            alerts=alerts,
            links=list(links.values()),
        )
        desk = AgentDesk(settings.all_pbxes, agents, first.control, first.board, links=links)
        await desk.load()
        screenpop = ScreenPop(callers, desk.agent_at, suggest, latency=observed.pop_latency)
        transcription = (
            _transcription(
                settings,
                secrets,
                jobs,
                TranscriptDelivery(
                    screenpop,
                    tickets,
                    ticket_service,
                    surveys,
                    to_transcript=observed.hangup_to_transcript,
                    to_draft=observed.hangup_to_draft,
                ),
            )
            if jobs is not None
            else None
        )
        wire_call_flow(
            fanout, feeds, desk=desk, live=live, screenpop=screenpop, transcription=transcription
        )
        signer = TokenSigner(secrets.api_keys, ttl=settings.token_hours * 3600)
        # Key ids are not secret; they tell an operator where a rotation stands.
        log.info(
            "API tokens signed with key %r; accepted: %s",
            signer.kid,
            ", ".join(repr(k) for k in signer.kids),
        )
        metrics = MetricsService(
            settings.metrics_config(), MetricsStore(engine), tickets, surveys=survey_store
        )

        async def live_metrics() -> LiveCollector:
            # Copied here, on the event loop: the exposition is collected in a thread.
            return LiveCollector(
                await live.snapshot(), dict(calls.ended), IvrOutcomes.of(ivr.server.stats)
            )

        app = create_app(
            settings,
            signer,
            agents,
            desk,
            live,
            metrics,
            Scrape(Exposition(registry, live_metrics), secrets.metrics_token),
            DeskChanged(live.changed),
            ticket_service,
            kb,
            screenpop,
            callers,
            survey_store,
            alerts,
            health=health,
        )
        web = WebServer(app, settings.listen.api_host, settings.listen.api_port)
        return cls(
            settings,
            engine,
            store,
            tickets,
            agents,
            calls,
            ivr,
            desk,
            live,
            web,
            signer,
            metrics,
            ami,
            kb=kb,
            screenpop=screenpop,
            transcription=transcription,
            surveys=surveys,
            alerts=alerts,
            links=links,
            feeds=feeds,
            fanout=fanout,
            registry=registry,
        )

    async def run(self) -> None:
        """Run until cancelled (or until the AMI refuses our credentials)."""
        # The agents as they are now (a standby built long ago has an old copy); with the
        # database away the copy from the build serves until the first reconcile reads again.
        try:
            await self.desk.load()
        except SQLAlchemyError as exc:
            log.warning("agents not re-read at start (%s)", exc.__class__.__name__)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.calls.recorder.run(), name="recorder")
                # Each PBX's connection reconnects on its own: one PBX down stops no other.
                for name, feed in (self.feeds or {"": self.calls}).items():
                    assert feed.ami is not None
                    tg.create_task(feed.ami.run(), name=f"ami {name}".strip())
                tg.create_task(self.ivr.server.run(), name="fastagi")
                tg.create_task(self.live.run(), name="live")
                tg.create_task(self.web.run(), name="web")
                if self.transcription is not None:
                    tg.create_task(self.transcription.run(), name="transcription")
                if self.surveys is not None:
                    tg.create_task(self.surveys.run(), name="surveys")
        except* AmiAuthError as group:
            # Fatal and final: surface the one clear error, not a task-group wrapper.
            raise group.exceptions[0] from None
        finally:
            self.desk.close()
            self.screenpop.close()
            await self._flush()
            self.engine.dispose()

    async def _flush(self) -> None:
        # Shutting down: write what is queued, but never hang the exit on a dead database.
        recorder = self.calls.recorder
        if recorder.pending:
            writer = asyncio.create_task(recorder.run())
            try:
                await asyncio.wait_for(recorder.drain(), 10)
            except TimeoutError:
                log.error("%d call update(s) not stored at shutdown", recorder.pending)
            finally:
                writer.cancel()


def bootstrap_admin(agents: AgentStore, password: str) -> None:
    """The first administrator, from the environment, when there is none yet."""
    if not password or any("admin" in a.roles for a in agents.all()):
        return
    agents.upsert(
        "admin",
        name="Administrator",
        extension=None,
        roles=["admin", "supervisor"],
        skills={},
        password_hash=hash_password(password),
    )
    log.info("created the administrator account 'admin' (password from the environment)")


def _connected(fanout: CallFanout, pbx: str) -> Callable[[], Awaitable[None]]:
    """PBX ``pbx``'s AMI login hook: the fan-out's ``connected`` steps."""

    async def on_connected() -> None:
        await fanout.connected(pbx)

    return on_connected


def _surveys(
    settings: Settings,
    secrets: Secrets,
    engine: Engine,
    tickets: TicketService,
    alerts: SupervisorAlerts,
    jobs: JobStore | None,
    registry: CollectorRegistry,
) -> Surveys:
    queue = None
    dial_metrics = None
    if settings.jobs.engine == "redis":  # calls go to `hotline worker survey` processes
        from hotline.jobs.broker import QueueConfig

        queue = QueueConfig.from_settings(settings.jobs, secrets.redis_url)
    else:  # this service's dialling processes place the calls: their metrics are its own
        dial_metrics = WorkerMetrics.on(registry, "survey")
    return Surveys.build(
        settings.surveys,
        engine,
        tickets,
        alerts,
        jobs,
        ivr=settings.ivr,
        registrar=registrar_of(settings.surveys, settings.pbx),
        password=secrets.survey_password,
        queue=queue,
        comment_languages=settings.asr.languages,
        log=settings.logging,
        dial_metrics=dial_metrics,
    )


def _transcription(
    settings: Settings, secrets: Secrets, jobs: JobStore, deliver: Deliver
) -> Transcription:
    """Recorded calls → transcription jobs → worker processes (local, or through Redis) →
    ``deliver`` (tickets and pops, or a survey's comment)."""
    asr = settings.asr
    for missing in asr.without_model(settings.ivr.languages):
        log.warning("%s: those calls are not transcribed", missing)
    models = {lang: str(spec.model) for lang, spec in asr.by_language.items()}
    configure = partial(worker_config, settings)
    queue = settings.jobs
    if queue.engine == "redis":  # no local workers: `hotline worker transcribe` processes
        from hotline.jobs.broker import Publisher, QueueConfig

        publisher = Publisher.connect(QueueConfig.from_settings(queue, secrets.redis_url))
        return Transcription(
            jobs,
            models,
            configure,
            deliver,
            publisher=publisher,
            redelivery_after=queue.redelivery_after,
            max_attempts=queue.max_attempts,
        )
    port = queue.metrics_port
    metrics = MetricsEndpoint(queue.metrics_host, port) if port is not None else None
    return Transcription(jobs, models, configure, deliver, workers=asr.workers, metrics=metrics)
