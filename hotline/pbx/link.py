"""The PBXes as the service uses them: each one's link (connection, call tracker, queue state
and control). Rendering and starting the private ones from the settings is wiring (the app
package's ``pbx`` module)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from telephony.ami.connection import AmiConnection
from telephony.queue_control import QueueControl
from telephony.queue_state import QueueBoard
from telephony.settings import PbxSettings
from telephony.tracker import CallTracker


@dataclass
class PbxLink:
    """One PBX as the service sees it. Uniqueids, channel names and queue members mean
    something only on their own PBX, so each has its own tracker, board and control; call
    ids are global (``telephony.tracker.global_call_id``)."""

    settings: PbxSettings
    tracker: CallTracker
    board: QueueBoard
    control: QueueControl
    ami: AmiConnection | None = None  # None: not connected by this process (tests)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def connected(self) -> bool:
        return self.ami is not None and self.ami.connected.is_set()

    def status(self) -> dict[str, Any]:
        """For the live view: is the service connected to it, and since when is it not."""
        ami = self.ami
        down = None if ami is None or self.connected else ami.disconnected_at
        return {
            "name": self.name,
            "mode": self.settings.mode,
            "connected": self.connected,
            "connections": ami.connections if ami is not None else 0,
            "down_for": round(time.time() - down, 1) if down is not None else None,
        }
