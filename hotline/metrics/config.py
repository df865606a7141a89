"""What the metrics need of the configuration: a small frozen value the wiring builds
(``Settings.metrics_config`` in the app package), never the whole settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class MetricsConfig:
    # The hotline's local time: hours and days of the metrics and reports.
    tz: ZoneInfo
    # Abandons within this many seconds are short (not counted against the service level).
    short_abandon_seconds: float = 5.0
    # The service level: answered within this many seconds.
    service_level_seconds: float = 20.0
    # Each PBX's agent extensions by PBX name, the primary first (metrics of one PBX: its
    # calls, and the occupancy of the agents who sat at its extensions).
    pbx_extensions: Mapping[str, frozenset[str]] = field(default_factory=dict)
