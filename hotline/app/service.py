"""Wiring of the running service: settings and connections are built here and passed down."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from hotline.agents.desk import AgentDesk
from hotline.agents.store import AgentStore
from hotline.app.settings import Secrets, Settings
from hotline.app.web import create_app
from hotline.callers.history import CallerHistory, RegionRules, StoreHistory
from hotline.calls.store import CallStore
from hotline.calls.writer import CallWriter
from hotline.core.alerts import SupervisorAlerts
from hotline.core.auth import TokenSigner, hash_password
from hotline.core.errors import DomainError
from hotline.db.engine import make_engine, migrate
from hotline.fastagi.service import Ivr
from hotline.jobs.store import Job, JobStore
from hotline.kb.importer import seed_if_empty
from hotline.kb.service import KnowledgeBase, categories_from, kb_suggestions
from hotline.kb.store import KbStore
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.pbx.link import PbxLink
from hotline.screenpop.service import ScreenPop
from hotline.supervision.live import LiveView
from hotline.supervision.prometheus import exposition
from hotline.supervision.routes import Scrape
from hotline.surveys.service import Surveys
from hotline.tickets.service import SYSTEM, TicketService
from hotline.tickets.store import TicketStore
from hotline.transcription.service import Transcription, transcript_text
from hotline.transcription.worker import WorkerConfig
from hotline.web.health import Health
from hotline.web.server import WebServer
from telephony import dialplan
from telephony.ami.connection import AmiConnection
from telephony.ami.events import AmiEvent
from telephony.errors import AmiActionError, AmiAuthError
from telephony.queue_control import QueueControl
from telephony.queue_state import QueueBoard
from telephony.tracker import (
    CallRecord,
    CallTracker,
    CallUpdate,
    Gap,
    UpdateKind,
    gap_event,
    scoped,
)

log = logging.getLogger(__name__)

# Records in progress older than this are a crash long ago, not calls to take over.
RESTORE_WINDOW = timedelta(hours=6)


@dataclass
class CallRecords:
    """The call-record feature: AMI events → tracker → recorder → store."""

    tracker: CallTracker
    recorder: CallWriter
    ami: AmiConnection | None = None
    # Calls ended since the service started, by disposition (the Prometheus counters).
    ended: Counter[str] = field(default_factory=Counter)
    # Where records left in progress by a process that stopped are read back from.
    store: CallStore | None = None
    _restored: bool = False
    # Gives the PBX's events global call ids (telephony.tracker.scoped); None: one PBX, as is.
    scope: Callable[[AmiEvent], AmiEvent] | None = None

    def on_event(self, event: AmiEvent) -> None:
        self._emit(self.tracker.feed(event))

    def _emit(self, updates: list[CallUpdate]) -> None:
        """Count ended calls (the Prometheus counters) and hand the updates to the recorder."""
        for u in updates:
            if u.kind is UpdateKind.ENDED:
                self.ended[u.record.disposition or "unknown"] += 1
        self.recorder.submit(updates)

    async def resync(self) -> None:
        """After every (re)login: merge the PBX's live channels into the tracker."""
        assert self.ami is not None
        if not self._restored and self.store is not None:
            # Once per process, before the first resync: calls the previous process (or the
            # active instance that died) was tracking go on, or are closed if they ended.
            self._restored = True
            since = datetime.now(UTC) - RESTORE_WINDOW
            pbx = self.tracker.pbx or None  # this PBX's calls only: each has its own tracker
            stored = await asyncio.to_thread(self.store.in_progress, since, pbx)
            taken = self.tracker.restore(stored)
            if taken:
                log.warning("resync: took over %d call(s) stored in progress", taken)
        asked = time.time()
        reply = await self.ami.send({"Action": "CoreShowChannels"}, as_list=True, timeout=15)
        channels = [AmiEvent.from_headers(m) for m in reply if m.get("Event") == "CoreShowChannel"]
        if self.scope is not None:
            channels = [self.scope(ch) for ch in channels]
        result = self.tracker.resync(channels, asked, time.time())
        self._emit(result.updates)
        for gap in result.gaps:
            await self._fill(gap)
        log.info(
            "resync %s: %d live channel(s), %d update(s), %d gap(s) filled",
            self.tracker.pbx,
            len(channels),
            len(result.updates),
            len(result.gaps),
        )

    async def _fill(self, gap: Gap) -> None:
        """Read back what the dialplan stamped on the channels and replay the missed event."""
        assert self.ami is not None
        wanted = [(gap.caller_channel, dialplan.QUEUE), (gap.caller_channel, dialplan.QUEUED)]
        if gap.kind == "connected":
            wanted += [
                (gap.agent_channel, dialplan.CONNECTED),
                (gap.caller_channel, dialplan.MEMBERINTERFACE),
                (gap.caller_channel, dialplan.MEMBERNAME),
            ]
        values: dict[str, str] = {}
        for channel, name in wanted:
            try:
                reply = await self.ami.send(
                    {"Action": "Getvar", "Channel": channel, "Variable": name}
                )
            except AmiActionError as exc:  # the channel hung up meanwhile: its Hangup follows
                log.info("resync: %s of %s unavailable (%s)", name, channel, exc)
                return
            values[name] = reply.get("Value", "")
        # A missed connect may hide a missed join too; the tracker ignores a join it already has.
        for kind in ["queued"] + (["connected"] if gap.kind == "connected" else []):
            event = gap_event(replace(gap, kind=kind), values)
            if event is not None:
                self._emit(self.tracker.feed(event))


@dataclass
class Service:
    settings: Settings
    engine: Engine
    store: CallStore
    tickets: TicketStore
    agents: AgentStore
    calls: CallRecords
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
    # call records each one feeds (one tracker per PBX, one recorder for all).
    links: dict[str, PbxLink] = field(kw_only=True, default_factory=dict)
    pbx_calls: dict[str, CallRecords] = field(kw_only=True, default_factory=dict)

    @classmethod
    async def build(
        cls, settings: Settings, secrets: Secrets, *, health: Health | None = None
    ) -> Service:
        """``health``: this instance's role for /healthz (an active/standby pair's runner)."""
        url = settings.database.url
        await asyncio.to_thread(lambda: migrate(url, primary_pbx=settings.pbx.name))
        engine = make_engine(url)
        regions = RegionRules(settings.callers)
        store = CallStore(engine, lambda number: regions.classify(number).name)
        tickets = TicketStore(engine)
        agents = AgentStore(engine)
        await asyncio.to_thread(bootstrap_admin, agents, secrets.admin_password)
        # Categories are checked against the ticket taxonomy when the configuration has one.
        kb = KnowledgeBase(KbStore(engine), categories_from(settings))
        if settings.kb.seed_file is not None:
            await asyncio.to_thread(seed_if_empty, kb, settings.kb.seed_file)
        ivr = await Ivr.build(settings, tickets)
        ticket_service = TicketService(settings, tickets)
        alerts = SupervisorAlerts()
        jobs = JobStore(engine) if settings.asr.enabled else None
        surveys = (
            Surveys.build(settings, secrets, engine, ticket_service, alerts, jobs)
            if settings.surveys.enabled
            else None
        )
        survey_store = surveys.store if surveys else None
        callers = CallerHistory(settings.callers, StoreHistory(store, tickets))

        def suggest(kind: str | None, category: str | None, language: str | None) -> list[Any]:
            return kb_suggestions(kb, kind, category, language)

        # One AMI connection per PBX feeds every feature; after each login each re-reads that
        # PBX's live state. Events get global call ids first (two PBXes may use the same
        # linkedid); the tracker goes next: the features read the call as it stands after it.
        def feed(name: str, records: CallRecords) -> Callable[[AmiEvent], None]:
            scope = records.scope or (lambda ev: ev)

            def on_event(raw: AmiEvent) -> None:
                ev = scope(raw)
                records.on_event(ev)
                desk.on_event(ev, name)
                live.on_event(ev, name)
                screenpop.on_event(ev)

            return on_event

        def connected(name: str, records: CallRecords) -> Callable[[], Awaitable[None]]:
            async def on_connected() -> None:
                await records.resync()
                await desk.reconcile(name)
                live.changed()

            return on_connected

        recorder = CallWriter(store)
        ended: Counter[str] = Counter()  # over every PBX (the Prometheus counters)
        links: dict[str, PbxLink] = {}
        pbx_calls: dict[str, CallRecords] = {}
        for pbx in settings.all_pbxes:
            scope = scoped(pbx.name)
            tracker = CallTracker(pbx.name)
            records = CallRecords(tracker, recorder, ended=ended, store=store, scope=scope)
            secret = secrets.ami_secret_of(pbx.name)
            records.ami = AmiConnection(
                pbx.ami, secret, feed(pbx.name, records), connected(pbx.name, records)
            )
            control = QueueControl(records.ami, scope)
            links[pbx.name] = PbxLink(pbx, tracker, QueueBoard(), control, records.ami)
            pbx_calls[pbx.name] = records
        first = links[settings.pbx.name]
        calls = pbx_calls[first.name]
        ami = calls.ami
        assert ami is not None
        live = LiveView(settings, first.board, agents, first.tracker, store, surveys=survey_store,
                        alerts=alerts, links=list(links.values()))  # fmt: skip
        desk = AgentDesk(settings, agents, first.control, first.board, links=links)

        def call_of(linkedid: str) -> CallRecord | None:
            """The call in progress ``linkedid`` on whichever PBX has it (ids are global)."""
            for link in links.values():
                rec = link.tracker.get(linkedid)
                if rec is not None:
                    return rec
            return None

        screenpop = ScreenPop(callers, desk.agent_on, call_of, suggest)
        transcription = (
            _transcription(settings, secrets, jobs, tickets, ticket_service, screenpop, surveys)
            if jobs is not None
            else None
        )
        if transcription is not None:
            recorder.subscribe(transcription.on_update)
        signer = TokenSigner(secrets.api_secret.encode(), ttl=settings.token_hours * 3600)
        metrics = MetricsService(settings, MetricsStore(engine), tickets, surveys=survey_store)

        async def prometheus_text() -> str:
            return exposition(await live.snapshot(), calls.ended, ivr.server.stats)

        app = create_app(
            settings, signer, agents, desk, live, metrics,
            Scrape(prometheus_text, secrets.metrics_token), ticket_service, kb, screenpop,
            callers, survey_store, alerts, health=health,
        )  # fmt: skip
        web = WebServer(app, settings.listen.api_host, settings.listen.api_port)
        return cls(
            settings, engine, store, tickets, agents, calls, ivr, desk, live, web, signer,
            metrics, ami, kb=kb, screenpop=screenpop, transcription=transcription,
            surveys=surveys, alerts=alerts, links=links, pbx_calls=pbx_calls,
        )  # fmt: skip

    async def run(self) -> None:
        """Run until cancelled (or until the AMI refuses our credentials)."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.calls.recorder.run(), name="recorder")
                # Each PBX's connection reconnects on its own: one PBX down stops no other.
                for name, records in (self.pbx_calls or {"": self.calls}).items():
                    assert records.ami is not None
                    tg.create_task(records.ami.run(), name=f"ami {name}".strip())
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


def _transcription(
    settings: Settings,
    secrets: Secrets,
    jobs: JobStore,
    tickets: TicketStore,
    ticket_service: TicketService,
    screenpop: ScreenPop,
    surveys: Surveys | None,
) -> Transcription:
    """Recorded calls → transcription jobs → worker processes (local, or through Redis) →
    tickets and pops."""
    asr = settings.asr
    for missing in asr.without_model(settings.ivr.languages):
        log.warning("%s: those calls are not transcribed", missing)
    models = {lang: str(path) for lang, path in asr.models.items()}
    options = dataclasses.asdict(asr.options)
    draft = settings.draft.model_dump(mode="json")

    def worker_config(worker_id: str) -> WorkerConfig:
        jobs_cfg = settings.jobs
        return WorkerConfig(settings.database.url, worker_id, models, draft=draft, options=options,
                            lease=jobs_cfg.lease, max_attempts=jobs_cfg.max_attempts)  # fmt: skip

    async def deliver(job: Job) -> None:
        if surveys is not None and surveys.owns(job):  # a survey's spoken comment
            await surveys.deliver_comment(job)
            return
        # The agent sees the transcript and the system's suggestions in the draft at once;
        # the call's tickets keep the transcript.
        fields = (job.draft or {}).get("ticket_fields") or {}
        screenpop.update(
            job.linkedid,
            {"transcript": transcript_text(job.transcript), "transcript_json": job.transcript,
             "suggested": fields, "analysis": job.draft},
        )  # fmt: skip
        for ticket_id in await asyncio.to_thread(tickets.tickets_of_call, job.linkedid):
            try:
                await ticket_service.update(SYSTEM, ticket_id, {"transcript": job.transcript})
            except DomainError as exc:  # e.g. closed meanwhile: the job keeps the transcript
                log.warning("transcript of %s not put on ticket %s: %s",
                            job.linkedid, ticket_id, exc.message)  # fmt: skip

    queue = settings.jobs
    if queue.engine == "redis":  # no local workers: `hotline worker transcribe` processes
        from hotline.jobs.broker import Publisher, QueueConfig

        publisher = Publisher.connect(QueueConfig.from_settings(queue, secrets.redis_url))
        return Transcription(jobs, models, worker_config, deliver, publisher=publisher,
                             redelivery_after=queue.redelivery_after,
                             max_attempts=queue.max_attempts)  # fmt: skip
    return Transcription(jobs, models, worker_config, deliver, workers=asr.workers)
