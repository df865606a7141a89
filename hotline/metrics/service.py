"""The metrics feature, wired: store queries → metrics, for the API, reports and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.core.errors import Invalid
from hotline.metrics.config import MetricsConfig
from hotline.metrics.formulas import GROUPS, compute, occupancy
from hotline.metrics.store import MetricsStore
from hotline.surveys import satisfaction
from hotline.surveys.store import SurveyStore
from hotline.tickets.acceptance import weeks
from hotline.tickets.store import TicketStore

# A year and some: the first query over a range builds the per-hour sums of all its hours.
MAX_RANGE = timedelta(days=400)


@dataclass(frozen=True)
class MetricsService:
    config: MetricsConfig
    store: MetricsStore
    tickets: TicketStore | None = None  # the reports' top categories and repeat callers
    # The reports' citizen satisfaction (None: surveys disabled, no section).
    surveys: SurveyStore | None = field(default=None, kw_only=True)

    def report(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Every group's metrics (and the configured PBXes' names), the period's tickets at a
        glance (with how agents took the system's drafts, per week too when the period spans
        more than one ISO week) and the citizens' satisfaction. Blocking."""
        data = self.compute(since, until, list(GROUPS))
        # The configured PBXes: the report's by-PBX table when there are several.
        data["pbxes"] = list(self.config.pbx_extensions)
        if self.tickets is not None:
            data["tickets"] = self.tickets.tops(since, until)
            data["draft_acceptance"] = self.tickets.acceptance(since, until)
            tz = self.config.tz
            if len(weeks(since, until, tz)) > 1:  # a monthly report, say: per week too
                data["draft_acceptance_weekly"] = self.tickets.acceptance_by_week(since, until, tz)
        if self.surveys is not None:
            data["satisfaction"] = satisfaction.section(self.surveys, since, until, self.config.tz)
        return data

    def compute(
        self,
        since: datetime,
        until: datetime,
        groups: list[str],
        now: datetime | None = None,
        *,
        pbx: str | None = None,
    ) -> dict[str, Any]:
        """Blocking (database): call from a thread on the event loop. ``now``: the clock
        (benchmarks replaying a day as it ends; default the real time). ``pbx``: only the calls
        of that PBX, and the occupancy of the agents who sat at its extensions."""
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            raise Invalid("metrics.bad_group", f"unknown group(s) {unknown}; use {list(GROUPS)}")
        if until <= since:
            raise Invalid("metrics.bad_range", "'until' must be after 'since'")
        if until - since > MAX_RANGE:
            raise Invalid(
                "metrics.range_too_long", f"at most {MAX_RANGE.days} days per query; split it"
            )
        s = self.config
        extensions = None
        if pbx is not None:
            try:
                extensions = set(s.pbx_extensions[pbx])
            except KeyError:
                names = list(s.pbx_extensions)
                message = f"no PBX {pbx!r}; use one of {names}"
                raise Invalid("metrics.unknown_pbx", message) from None
        data = self.store.read(
            since,
            until,
            groups or ["total"],
            s.short_abandon_seconds,
            s.service_level_seconds,
            now,
            pbx=pbx,
            extensions=extensions,
        )
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "timezone": s.tz.key,
            "short_abandon_seconds": s.short_abandon_seconds,
            "service_level_seconds": s.service_level_seconds,
            "pbx": pbx,
            "groups": compute(data.groups, s.tz),
            "occupancy": occupancy(data.agent_time, data.agent_talk),
        }
