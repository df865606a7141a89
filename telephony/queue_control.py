"""Queue membership over AMI: add, remove, pause, and read back Asterisk's own view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from telephony.ami.events import AmiEvent, AmiResponse
from telephony.queue_state import QueueBoard, board_from_status


class ActionSender(Protocol):
    async def send(
        self, action: dict[str, str], *, as_list: bool | None = None, timeout: float = 10.0
    ) -> AmiResponse: ...


def interface(extension: str) -> str:
    return f"PJSIP/{extension}"


@dataclass(frozen=True)
class QueueControl:
    ami: ActionSender
    # Gives status events their PBX's global call ids (telephony.tracker.scoped), as the
    # service's events have.
    scope: Callable[[AmiEvent], AmiEvent] | None = None

    async def add(
        self, queue: str, extension: str, name: str, penalty: int, *, paused: bool, reason: str = ""
    ) -> None:
        action = {
            "Action": "QueueAdd",
            "Queue": queue,
            "Interface": interface(extension),
            "Penalty": str(penalty),
            "Paused": "true" if paused else "false",
            "MemberName": name,
            # Device state of the endpoint: a member busy on any call is not offered another.
            "StateInterface": interface(extension),
        }
        if paused and reason:
            action["Reason"] = reason
        # as_list=False: the answer is one message whatever it says ("Added interface to
        # queue" once passed for the start of a list).
        await self.ami.send(action, as_list=False)

    async def remove(self, queue: str, extension: str) -> None:
        await self.ami.send(
            {"Action": "QueueRemove", "Queue": queue, "Interface": interface(extension)},
            as_list=False,
        )

    async def pause(self, extension: str, paused: bool, reason: str = "") -> None:
        """Pause or unpause in every queue the interface is in (no Queue: all of them)."""
        action = {
            "Action": "QueuePause",
            "Interface": interface(extension),
            "Paused": "true" if paused else "false",
        }
        if reason:
            action["Reason"] = reason
        await self.ami.send(action, as_list=False)

    async def status(self) -> QueueBoard:
        reply = await self.ami.send({"Action": "QueueStatus"}, as_list=True, timeout=15)
        events = list(reply.events)
        if self.scope is not None:
            events = [self.scope(_linked(ev)) for ev in events]
        return board_from_status(events)


def _linked(ev: AmiEvent) -> AmiEvent:
    """A waiting caller (``QueueEntry``) without ``Linkedid`` (Asterisk 16 sends none): the
    caller's channel is its call's first, so its Uniqueid is the Linkedid."""
    if ev.name != "QueueEntry" or ev.get("Linkedid") or not ev.get("Uniqueid"):
        return ev
    return AmiEvent(ev.name, {**ev.headers, "Linkedid": ev.get("Uniqueid")}, ev.at, ev.received_at)
