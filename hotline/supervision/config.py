"""What the live view needs of the configuration: a small frozen value the wiring builds
(``Settings.live_config`` in the app package), never the whole settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from telephony.settings import PbxSettings


@dataclass(frozen=True)
class LiveConfig:
    # The hotline's local time: "today" on the wallboard is the local day.
    tz: ZoneInfo
    # Today's figures as the metrics count them (answered within T s; short abandons apart).
    service_level_seconds: float
    short_abandon_seconds: float
    # Every PBX, the primary first: its queues, and whose agent each extension is.
    pbxes: Sequence[PbxSettings]

    def __post_init__(self) -> None:
        if not self.pbxes:
            raise ValueError("LiveConfig needs at least one PBX")
