"""Wiring of the running service: settings and connections are built here and passed down."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from hotline.agents import AgentDesk
from hotline.alerts import SupervisorAlerts
from hotline.auth import TokenSigner, hash_password
from hotline.callers import CallerHistory, RegionRules, StoreHistory
from hotline.errors import DomainError
from hotline.ivr import Ivr
from hotline.kb import KnowledgeBase, categories_from, kb_suggestions
from hotline.kb_import import seed_if_empty
from hotline.live import LiveView
from hotline.prometheus import exposition
from hotline.recorder import CallRecorder
from hotline.reporting import MetricsService
from hotline.screenpop import ScreenPop
from hotline.settings import Secrets, Settings
from hotline.store.agents import AgentStore
from hotline.store.calls import CallStore
from hotline.store.db import make_engine, migrate
from hotline.store.jobs import Job, JobStore
from hotline.store.kb import KbStore
from hotline.store.metrics import MetricsStore
from hotline.store.tickets import TicketStore
from hotline.surveys.service import Surveys
from hotline.tickets.service import SYSTEM, TicketService
from hotline.transcription.service import Transcription, transcript_text
from hotline.transcription.worker import WorkerConfig
from hotline.web.app import WebServer, create_app
from hotline.web.deps import WebContext
from telephony.ami.connection import AmiConnection
from telephony.ami.events import AmiEvent
from telephony.calls import CallTracker, CallUpdate, Gap, UpdateKind, gap_event
from telephony.errors import AmiActionError, AmiAuthError
from telephony.queue_control import QueueControl
from telephony.queue_state import QueueBoard

log = logging.getLogger(__name__)


@dataclass
class CallRecords:
    """The call-record feature: AMI events → tracker → recorder → store."""

    tracker: CallTracker
    recorder: CallRecorder
    ami: AmiConnection | None = None
    # Calls ended since the service started, by disposition (the Prometheus counters).
    ended: Counter[str] = field(default_factory=Counter)

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
        asked = time.time()
        reply = await self.ami.send({"Action": "CoreShowChannels"}, as_list=True, timeout=15)
        channels = [AmiEvent.from_headers(m) for m in reply if m.get("Event") == "CoreShowChannel"]
        result = self.tracker.resync(channels, asked, time.time())
        self._emit(result.updates)
        for gap in result.gaps:
            await self._fill(gap)
        log.info(
            "resync: %d live channel(s), %d update(s), %d gap(s) filled",
            len(channels),
            len(result.updates),
            len(result.gaps),
        )

    async def _fill(self, gap: Gap) -> None:
        """Read back what the dialplan stamped on the channels and replay the missed event."""
        assert self.ami is not None
        wanted = [(gap.caller_channel, "HOTLINE_QUEUE"), (gap.caller_channel, "HOTLINE_QUEUED")]
        if gap.kind == "connected":
            wanted += [
                (gap.agent_channel, "HOTLINE_CONNECTED"),
                (gap.caller_channel, "MEMBERINTERFACE"),
                (gap.caller_channel, "MEMBERNAME"),
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

    @classmethod
    async def build(cls, settings: Settings, secrets: Secrets) -> Service:
        url = settings.database.url
        await asyncio.to_thread(migrate, url)
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
        tracker = CallTracker()
        calls = CallRecords(tracker, CallRecorder(store))
        ivr = await Ivr.build(settings, tickets)
        board = QueueBoard()
        ticket_service = TicketService(settings, tickets)
        alerts = SupervisorAlerts()
        jobs = JobStore(engine) if settings.asr.enabled else None
        surveys = (
            Surveys.build(settings, secrets, engine, ticket_service, alerts, jobs)
            if settings.surveys.enabled
            else None
        )
        survey_store = surveys.store if surveys else None
        live = LiveView(settings, board, agents, tracker, store, surveys=survey_store,
                        alerts=alerts)  # fmt: skip
        callers = CallerHistory(settings.callers, StoreHistory(store, tickets))

        def suggest(kind: str | None, category: str | None, language: str | None) -> list[Any]:
            return kb_suggestions(kb, kind, category, language)

        # One AMI connection feeds every feature; after each login each re-reads live state.
        # The tracker goes first: the features read the call as it stands after the event.
        def on_event(ev: AmiEvent) -> None:
            calls.on_event(ev)
            desk.on_event(ev)
            live.on_event(ev)
            screenpop.on_event(ev)

        async def on_connected() -> None:
            await calls.resync()
            await desk.reconcile()
            live.changed()

        ami = AmiConnection(settings.pbx.ami, secrets.ami_secret, on_event, on_connected)
        desk = AgentDesk(settings, agents, QueueControl(ami), board)
        screenpop = ScreenPop(callers, desk.agent_on, tracker.get, suggest)
        transcription = (
            _transcription(settings, jobs, tickets, ticket_service, screenpop, surveys)
            if jobs is not None
            else None
        )
        if transcription is not None:
            calls.recorder.subscribe(transcription.on_update)
        calls.ami = ami
        signer = TokenSigner(secrets.api_secret.encode(), ttl=settings.token_hours * 3600)
        metrics = MetricsService(settings, MetricsStore(engine), tickets, surveys=survey_store)

        async def prometheus_text() -> str:
            return exposition(await live.snapshot(), calls.ended, ivr.server.stats)

        app = create_app(
            WebContext(
                settings, signer, agents, desk, live, metrics, prometheus_text,
                metrics_token=secrets.metrics_token, tickets=ticket_service,
                kb=kb, screenpop=screenpop, callers=callers,
                surveys=survey_store, alerts=alerts,
            )
        )  # fmt: skip
        web = WebServer(app, settings.listen.api_host, settings.listen.api_port)
        return cls(
            settings, engine, store, tickets, agents, calls, ivr, desk, live, web, signer,
            metrics, ami, kb=kb, screenpop=screenpop, transcription=transcription,
            surveys=surveys, alerts=alerts,
        )  # fmt: skip

    async def run(self) -> None:
        """Run until cancelled (or until the AMI refuses our credentials)."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.calls.recorder.run(), name="recorder")
                tg.create_task(self.ami.run(), name="ami")
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
    jobs: JobStore,
    tickets: TicketStore,
    ticket_service: TicketService,
    screenpop: ScreenPop,
    surveys: Surveys | None,
) -> Transcription:
    """Recorded calls → transcription jobs → local worker processes → tickets and pops."""
    asr = settings.asr
    for missing in asr.without_model(settings.ivr.languages):
        log.warning("%s: those calls are not transcribed", missing)
    models = {lang: str(path) for lang, path in asr.models.items()}
    options = dataclasses.asdict(asr.options)
    draft = settings.draft.model_dump(mode="json")

    def worker_config(worker_id: str) -> WorkerConfig:
        return WorkerConfig(settings.database.url, worker_id, models, draft=draft, options=options)

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

    return Transcription(jobs, models, worker_config, deliver, workers=asr.workers)
