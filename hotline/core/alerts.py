"""Supervisor alerts (a dissatisfied citizen, ...): logged, kept in a short in-memory list for
the API and the wallboard, and pushed to subscribers. Not a store: the facts they point at
(the survey, the ticket) are stored where they belong."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str  # e.g. "survey.dissatisfied"
    at: datetime
    message: str
    ticket_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "message": self.message,
            "ticket_id": self.ticket_id,
            "data": self.data,
        }


class SupervisorAlerts:
    def __init__(self, keep: int = 200) -> None:
        self._recent: deque[Alert] = deque(maxlen=keep)
        self._subscribers: set[asyncio.Queue[Alert]] = set()

    def raise_(self, alert: Alert) -> None:
        log.warning("alert %s: %s", alert.kind, alert.message)
        self._recent.append(alert)
        for q in self._subscribers:
            if q.qsize() < 100:  # a stuck client loses alerts, never the service's memory
                q.put_nowait(alert)

    def recent(self, limit: int = 50) -> list[Alert]:
        return list(self._recent)[-limit:][::-1]

    def subscribe(self) -> asyncio.Queue[Alert]:
        q: asyncio.Queue[Alert] = asyncio.Queue()
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Alert]) -> None:
        self._subscribers.discard(q)
