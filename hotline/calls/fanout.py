"""The fan-out of call events to the features: a small ordered registry.

Each PBX's AMI events reach the service through its ``CallFeed`` (``hotline.calls.feed``),
which first gives the event its global call id and lets the PBX's tracker turn it into
``CallUpdate``s (counted, and queued for the store). Then the feed hands the event and its
updates to this registry, whose steps run in the order they were registered:

* ``register(name, on_event=..., on_update=...)``: a step that hears raw AMI events (optionally
  only some event names) and/or the tracker's updates (optionally only some kinds). For one
  event, each step gets the event, then the updates it produced, before the next step runs.
  Updates rebuilt by a resync after an AMI outage come without an event (``cause`` None).
* ``on_connected(name, handler)``: after each (re)login to a PBX, awaited in order; a failure
  propagates (the connection logs in again), so a later step never runs on a half-read PBX.
* ``on_stored(name, handler)``: once an update is written to the store (``CallWriter``).

A step that raises is logged and the steps after it still run: one feature's bug never keeps
the event from the others. The service's steps, and why they come in that order, are listed
where the wiring registers them (the app package's ``flow`` module).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from hotline.core.logs import log_context
from telephony.ami.events import AmiEvent
from telephony.tracker import CallUpdate, UpdateKind

log = logging.getLogger(__name__)

# (the event, with its global call id; the name of the PBX it came from)
EventHandler = Callable[[AmiEvent, str], None]
# (the tracker's update; the event it came from, None when a resync rebuilt it)
UpdateHandler = Callable[[CallUpdate, AmiEvent | None], None]
# the name of the PBX (re)logged in to
ConnectedHandler = Callable[[str], Awaitable[None] | None]
StoredHandler = Callable[[CallUpdate], None]


@dataclass(frozen=True)
class Step:
    name: str
    on_event: EventHandler | None = None
    events: frozenset[str] | None = None  # event names heard (None: every one)
    on_update: UpdateHandler | None = None
    kinds: frozenset[UpdateKind] | None = None  # update kinds heard (None: every one)

    def wants_event(self, ev: AmiEvent) -> bool:
        return self.on_event is not None and (self.events is None or ev.name in self.events)

    def wants_update(self, update: CallUpdate) -> bool:
        return self.on_update is not None and (self.kinds is None or update.kind in self.kinds)


class CallFanout:
    def __init__(self) -> None:
        self._steps: list[Step] = []
        self._connected: list[tuple[str, ConnectedHandler]] = []
        self._stored: list[tuple[str, StoredHandler, frozenset[UpdateKind] | None]] = []
        self.failures = 0  # steps that raised

    # -- registration ---------------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        on_event: EventHandler | None = None,
        events: Collection[str] | None = None,
        on_update: UpdateHandler | None = None,
        kinds: Collection[UpdateKind] | None = None,
    ) -> None:
        """Add a step after the ones registered so far."""
        if on_event is None and on_update is None:
            raise ValueError(f"step {name!r} handles nothing")
        if name in self.order:
            raise ValueError(f"step {name!r} is registered twice")
        self._steps.append(
            Step(
                name,
                on_event,
                frozenset(events) if events is not None else None,
                on_update,
                frozenset(kinds) if kinds is not None else None,
            )
        )

    def on_connected(self, name: str, handler: ConnectedHandler) -> None:
        self._connected.append((name, handler))

    def on_stored(
        self, name: str, handler: StoredHandler, *, kinds: Collection[UpdateKind] | None = None
    ) -> None:
        self._stored.append((name, handler, frozenset(kinds) if kinds is not None else None))

    @property
    def order(self) -> list[str]:
        """The steps' names, in the order they run for each event."""
        return [s.name for s in self._steps]

    @property
    def connected_order(self) -> list[str]:
        return [name for name, _ in self._connected]

    @property
    def stored_order(self) -> list[str]:
        return [name for name, _, _ in self._stored]

    # -- dispatch -------------------------------------------------------------------------------
    def event(self, pbx: str, ev: AmiEvent, updates: Sequence[CallUpdate]) -> None:
        """An event of PBX ``pbx`` (after its tracker) and the updates it produced."""
        for step in self._steps:
            if step.wants_event(ev):
                assert step.on_event is not None
                self._guard(step.name, step.on_event, ev, pbx)
            if step.on_update is not None:
                for update in updates:
                    if step.wants_update(update):
                        with about(update):
                            self._guard(step.name, step.on_update, update, ev)

    def resynced(self, updates: Sequence[CallUpdate]) -> None:
        """Updates a resync rebuilt (no event caused them)."""
        for step in self._steps:
            if step.on_update is not None:
                for update in updates:
                    if step.wants_update(update):
                        with about(update):
                            self._guard(step.name, step.on_update, update, None)

    async def connected(self, pbx: str) -> None:
        for _name, handler in self._connected:
            result = handler(pbx)
            if inspect.isawaitable(result):
                await result

    def stored(self, update: CallUpdate) -> None:
        """A ``CallWriter`` listener."""
        for name, handler, kinds in self._stored:
            if kinds is None or update.kind in kinds:
                with about(update):
                    self._guard(name, handler, update)

    def _guard(self, name: str, handler: Callable[..., None], *args: object) -> None:
        try:
            handler(*args)
        except Exception:
            self.failures += 1
            log.exception("call fan-out: step %r failed", name)


def about(update: CallUpdate) -> AbstractContextManager[None]:
    """The log context of a step's work on an update (and of the tasks it starts): its call,
    the agent connected to it, its PBX."""
    rec = update.record
    return log_context(call_id=rec.call_id, agent=rec.agent, pbx=rec.pbx)
