"""The screen-pop: when a call connects to an agent (the tracker's ``AGENT_CONNECTED`` update,
carrying the call's record), that agent's pages get who is calling and why, the caller's
history, a repeat flag, suggested articles and a ticket draft, before the agent says hello.
The IVR's choices (request kind, and the category where the menu has a category level) are on
the pop and prefill the draft; the articles are chosen by the same kind and category.

Only connections seen as they happen pop: one the tracker rebuilt after an AMI outage (a
resync) is not popped late.

Each pop goes only to the pages of the agent the call connected to. The current pop of each
agent is kept until the agent files its ticket (or the next call replaces it), so a page that
reconnects gets it again. Blocking look-ups run in threads; a failed look-up leaves that part
of the pop empty (and is logged) rather than holding the pop back. The messages are typed
(``hotline/screenpop/schemas.py``): ``pop``, ``draft`` (its draft changed), ``done``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotline.agents.store import Agent
from hotline.callers.history import CallerHistory, CallerView, PastTicket
from hotline.callers.schemas import RepeatOut
from hotline.core.logs import bind
from hotline.screenpop.schemas import (
    CallDraft,
    DoneMessage,
    DraftMessage,
    PopCall,
    PopCaller,
    PopMessage,
    Suggestion,
)
from hotline.telemetry.metrics import UNOBSERVED, Observer
from telephony.ami.events import AmiEvent
from telephony.tracker import CallRecord, CallUpdate, UpdateKind

log = logging.getLogger(__name__)

Pop = PopMessage
# What an agent's pages get from here (the agent's state comes from the live view).
PageMessage = PopMessage | DraftMessage | DoneMessage
# (kind, category, language) → articles to suggest
Suggest = Callable[[str | None, str | None, str | None], Sequence[dict[str, Any]]]
QUEUE_SIZE = 16  # pops and updates waiting for one slow page; the oldest are dropped beyond


@dataclass
class ScreenPop:
    history: CallerHistory
    # (extension "2001", PBX name) → the agent logged in there (from memory: no I/O)
    agent_at: Callable[[str, str | None], Agent | None]
    suggest: Suggest | None = None
    # Told each pop's seconds from the AgentConnect reaching the service to the pop sent.
    latency: Observer = field(default=UNOBSERVED, kw_only=True)
    _current: dict[str, Pop] = field(default_factory=dict)  # agent id → its current pop
    _pages: dict[str, set[asyncio.Queue[PageMessage]]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    popped: int = 0
    failures: int = 0

    # -- calls in ---------------------------------------------------------------------------
    def on_update(self, update: CallUpdate, cause: AmiEvent | None) -> None:
        """A step of the call fan-out: a call connected to an agent (``cause``: the event the
        tracker saw; None when a resync rebuilt the connection, which is not popped)."""
        if update.kind is UpdateKind.AGENT_CONNECTED and cause is not None:
            self._spawn(self._pop(update.record, cause.received_at))

    async def _pop(self, rec: CallRecord, received_at: float) -> None:
        """``rec``: the call as the tracker had it when it connected; ``received_at``: when
        that event reached the service."""
        call_id = rec.call_id
        agent = self.agent_at(rec.agent, rec.pbx or None) if rec.agent else None
        if agent is None:
            return  # a static member or an unmanaged phone: nobody's page to pop
        bind(agent_id=agent.agent_id)  # the pop's own task (its call and extension are set)
        number = rec.caller_number
        kind = rec.request_kind
        language = rec.language
        view: CallerView | None = None
        try:
            view = await asyncio.to_thread(
                self.history.look_up,
                number,
                kind=kind,
                category=rec.request_category,  # a repeat is then about the same category
                exclude_call=call_id,
            )
        except Exception as exc:  # the pop still goes, without history
            self.failures += 1
            log.error("screen-pop %s: caller history failed: %r", call_id, exc)
        # The category the caller keyed in the IVR guides the articles and the draft before
        # any transcript exists; without one, the category a repeat caller is probably
        # calling about again does.
        earlier = _category_of(view.tickets, view.repeat.of) if view else None
        guess = rec.request_category or earlier
        suggestions: Sequence[dict[str, Any]] = []
        if self.suggest is not None:
            try:
                suggestions = await asyncio.to_thread(self.suggest, kind, guess, language)
            except Exception as exc:
                self.failures += 1
                log.error("screen-pop %s: suggestions failed: %r", call_id, exc)
        wait = rec.queue_wait  # the tracker's (AgentConnect's HoldTime when it saw no join)
        caller = PopCaller.model_validate(
            {**(view.as_dict() if view else {"number": number}), "language": rec.language}
        )
        repeat = (
            RepeatOut(flag=view.repeat.flag, of=view.repeat.of, reasons=list(view.repeat.reasons))
            if view
            else RepeatOut(flag=False, of=None, reasons=[])
        )
        pop = PopMessage(
            type="pop",
            call_id=call_id,
            agent_id=agent.agent_id,
            received_at=received_at,  # the AgentConnect reached the service
            caller=caller,
            call=PopCall(
                queue=rec.queue,  # the tracker's: AgentConnect's Queue, else the one joined
                wait_s=wait,
                ivr_path=list(rec.ivr_path),
                request_kind=kind,
                request_category=rec.request_category,
                started_at=rec.started_at,
            ),
            repeat=repeat,
            suggestions=[Suggestion.model_validate(a) for a in suggestions or []],
            draft=CallDraft(
                call_id=call_id,
                kind=kind,
                category=guess,
                caller_number=number,
                caller_language=rec.language,
                repeat_of=repeat.of,
            ),
            sent_at=time.time(),
        )
        self._current[agent.agent_id] = pop
        self.popped += 1
        self._send(agent.agent_id, pop)
        if received_at > 0:  # 0: an event made without an arrival time (not from a PBX)
            self.latency.observe(max(0.0, pop.sent_at - received_at))

    # -- pages ------------------------------------------------------------------------------
    def subscribe(self, agent_id: str) -> asyncio.Queue[PageMessage]:
        """A page of ``agent_id``: its current pop (if any) first, then every new message."""
        queue: asyncio.Queue[PageMessage] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._pages.setdefault(agent_id, set()).add(queue)
        if agent_id in self._current:
            queue.put_nowait(self._current[agent_id])
        return queue

    def unsubscribe(self, agent_id: str, queue: asyncio.Queue[PageMessage]) -> None:
        pages = self._pages.get(agent_id)
        if pages is not None:
            pages.discard(queue)
            if not pages:
                del self._pages[agent_id]

    def current(self, agent_id: str) -> Pop | None:
        return self._current.get(agent_id)

    def update(self, call_id: str, draft: Mapping[str, Any]) -> bool:
        """Merge fields into the draft of the pop for ``call_id`` (e.g. the transcript, the
        suggestions and their analysis when ready: ``CallDraft``'s fields, checked here) and
        push the change to its agent's pages. False when no pop shows that call."""
        for agent_id, pop in self._current.items():
            if pop.call_id == call_id:
                merged = CallDraft.model_validate({**pop.draft.model_dump(), **draft})
                pop = self._current[agent_id] = pop.model_copy(update={"draft": merged})
                self._send(agent_id, DraftMessage(type="draft", call_id=call_id, draft=merged))
                return True
        return False

    def done(self, agent_id: str, call_id: str) -> None:
        """The agent filed the ticket of this call: its pop is no longer current."""
        pop = self._current.get(agent_id)
        if pop is not None and pop.call_id == call_id:
            del self._current[agent_id]
            self._send(agent_id, DoneMessage(type="done", call_id=call_id))

    def _send(self, agent_id: str, message: PageMessage) -> None:
        for queue in self._pages.get(agent_id, ()):
            if queue.full():  # a stalled page loses the oldest message, never blocks the rest
                queue.get_nowait()
            queue.put_nowait(message)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                self.failures += 1
                log.exception("screen-pop failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Return once no pop is being prepared (its look-ups done and sent, or failed)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


def _category_of(tickets: Sequence[PastTicket], ticket_id: int | None) -> str | None:
    return next((t.category for t in tickets if t.id == ticket_id), None)
