"""The metrics feature, wired: store queries → metrics, for the API, reports and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.errors import Invalid
from hotline.metrics import GROUPS, attribute_wrapups, compute, occupancy
from hotline.settings import Settings
from hotline.store.metrics import MetricsStore


@dataclass(frozen=True)
class MetricsService:
    settings: Settings
    store: MetricsStore

    def compute(self, since: datetime, until: datetime, groups: list[str]) -> dict[str, Any]:
        """Blocking (database): call from a thread on the event loop."""
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            raise Invalid("metrics.bad_group", f"unknown group(s) {unknown}; use {list(GROUPS)}")
        if until <= since:
            raise Invalid("metrics.bad_range", "'until' must be after 'since'")
        s = self.settings
        calls = self.store.calls(since, until)
        spans, extension = self.store.agent_spans(since, until)
        calls = attribute_wrapups(calls, spans, extension)
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "timezone": s.timezone,
            "short_abandon_seconds": s.short_abandon_seconds,
            "service_level_seconds": s.service_level_seconds,
            "groups": compute(
                calls, groups or ["total"], s.tz, s.short_abandon_seconds, s.service_level_seconds
            ),
            "occupancy": occupancy(calls, spans, extension),
        }
