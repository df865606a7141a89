"""The wallboard's data: queue positions after a priority caller joins (replayed AMI events),
and callers' numbers masked for a wall display (waiting callers, calls in progress, alerts)
unless a supervisor's own screen asks for them."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

import pytest

from hotline.agents.store import Agent
from hotline.app.settings import Settings
from hotline.core.alerts import Alert, SupervisorAlerts
from hotline.supervision.live import LiveView
from hotline.supervision.masking import mask_number, mask_text
from telephony.ami.events import AmiEvent
from telephony.queue_state import QueueBoard, board_from_status
from telephony.tracker import CallTracker
from tests.unit.test_websocket_messages import settings  # noqa: F401 (a fixture)

QUEUE = "operator"  # a queue of the shipped configuration
T0 = 1_795_237_740.0  # PBX timestamps of the replayed events (no clock is read)


def join(n: int, position: int, at: float, queue: str = QUEUE) -> AmiEvent:
    """``QueueCallerJoin`` as Asterisk sends it: the newcomer's Position only."""
    return AmiEvent.from_headers(
        {
            "Event": "QueueCallerJoin",
            "Timestamp": str(at),
            "Queue": queue,
            "Uniqueid": f"1795237740.{n}",
            "Linkedid": f"1795237740.{n}",
            "CallerIDNum": f"1380013800{n}",
            "Position": str(position),
            "Count": str(position),
        },
        received_at=at,
    )


def leave(n: int, at: float, queue: str = QUEUE) -> AmiEvent:
    return AmiEvent.from_headers(
        {
            "Event": "QueueCallerLeave",
            "Timestamp": str(at),
            "Queue": queue,
            "Uniqueid": f"1795237740.{n}",
        },
        received_at=at,
    )


def order(board: QueueBoard) -> list[tuple[int, str]]:
    return [(w.position, w.caller_number[-1]) for w in board.callers(QUEUE)]


def test_a_priority_caller_joining_a_queue_of_four_moves_the_others_back() -> None:
    board = QueueBoard()
    for n in range(1, 5):
        assert board.feed(join(n, n, T0 + n))
    assert order(board) == [(1, "1"), (2, "2"), (3, "3"), (4, "4")]
    # Caller 5 has QUEUE_PRIO above the others: Asterisk puts it first and renumbers the
    # four silently; the event gives Position 1 for the newcomer and nothing for the rest.
    board.feed(join(5, 1, T0 + 5))
    assert order(board) == [(1, "5"), (2, "1"), (3, "2"), (4, "3"), (5, "4")]
    # A second priority caller of the same priority goes behind the first, ahead of the rest.
    board.feed(join(6, 2, T0 + 6))
    assert order(board) == [(1, "5"), (2, "6"), (3, "1"), (4, "2"), (5, "3"), (6, "4")]
    # The first one is answered (or hangs up): everyone behind moves up, still 1..n.
    board.feed(leave(5, T0 + 7))
    assert order(board) == [(1, "6"), (2, "1"), (3, "2"), (4, "3"), (5, "4")]
    board.feed(leave(2, T0 + 8))  # a caller in the middle leaves
    assert order(board) == [(1, "6"), (2, "1"), (3, "3"), (4, "4")]
    # An ordinary caller joins at the back.
    board.feed(join(7, 5, T0 + 9))
    assert order(board) == [(1, "6"), (2, "1"), (3, "3"), (4, "4"), (5, "7")]


def test_a_join_seen_twice_is_one_caller_and_a_snapshot_closes_gaps() -> None:
    board = QueueBoard()
    for n in range(1, 4):
        board.feed(join(n, n, T0 + n))
    board.feed(join(2, 2, T0 + 2))  # the same join again (e.g. replayed after a resync)
    assert order(board) == [(1, "1"), (2, "2"), (3, "3")]
    # A QueueStatus taken while callers came and went can give gaps: read as 1..n.
    entries = [
        AmiEvent.from_headers(
            {
                "Event": "QueueEntry",
                "Timestamp": str(T0 + 20),
                "Queue": QUEUE,
                "Uniqueid": f"u{n}",
                "CallerIDNum": f"1390013900{n}",
                "Position": str(pos),
                "Wait": str(10 - n),
            },
            received_at=T0 + 20,
        )
        for n, pos in ((1, 1), (2, 3), (3, 7))
    ]
    status = board_from_status(entries)
    assert [(w.position, w.caller_number[-1]) for w in status.callers(QUEUE)] == [
        (1, "1"),
        (2, "2"),
        (3, "3"),
    ]


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("13812345678", "*******5678"),
        ("+862112345678", "*********5678"),
        ("02112345", "****2345"),
        ("1001", "****"),  # its last four would be all of it
        ("", ""),
        ("anonymous", "anonymous"),
    ],
)
def test_a_caller_number_shows_its_last_four_digits(number: str, shown: str) -> None:
    assert mask_number(number) == shown


def test_numbers_in_an_alert_text_are_masked_and_short_ids_are_not() -> None:
    text = "ticket 42: the citizen at 13812345678 is dissatisfied (survey 7)"
    assert mask_text(text) == "ticket 42: the citizen at *******5678 is dissatisfied (survey 7)"


class _Agents:
    def all(self) -> list[Agent]:
        return []


class _Calls:
    def summaries(self, *_: object) -> tuple[None, dict[str, Any]]:
        return None, {}


async def test_the_wall_gets_masked_numbers_in_serving_order_and_reveal_gives_them(
    settings: Settings,  # noqa: F811
    fixed_now: datetime,
) -> None:
    board, tracker = QueueBoard(), CallTracker()
    alerts = SupervisorAlerts()
    alerts.raise_(
        Alert(
            "survey.dissatisfied",
            fixed_now,
            "ticket 41: 13912345678 is dissatisfied",
            41,
            {"caller_number": "13912345678", "survey_id": 9},
        )
    )
    view = LiveView(
        settings.live_config(),
        board,
        cast(Any, _Agents()),
        tracker,
        cast(Any, _Calls()),
        alerts=alerts,
        clock=lambda: fixed_now,
    )
    for n in range(1, 5):
        view.on_event(join(n, n, T0 + n))
    view.on_event(join(5, 1, T0 + 5))  # the priority caller
    wall = await view.snapshot()
    queue = next(q for q in wall.queues if q.name == QUEUE)
    # Served first, shown first: the priority caller at 1, the others moved back.
    assert [(w.position, w.call_id) for w in queue.waiting] == [
        (1, "1795237740.5"),
        (2, "1795237740.1"),
        (3, "1795237740.2"),
        (4, "1795237740.3"),
        (5, "1795237740.4"),
    ]
    assert wall.masked
    assert [w.caller_number for w in queue.waiting] == ["*******8005"] + [
        f"*******800{n}" for n in range(1, 5)
    ]
    body = wall.model_dump_json()
    assert "13800138" not in body and "13912345678" not in body
    assert wall.alerts is not None
    assert wall.alerts[0].message == "ticket 41: *******5678 is dissatisfied"
    assert wall.alerts[0].data == {"caller_number": "*******5678", "survey_id": 9}

    full = await view.snapshot(reveal=True)
    assert not full.masked
    full_queue = next(q for q in full.queues if q.name == QUEUE)
    assert [w.caller_number for w in full_queue.waiting][:2] == ["13800138005", "13800138001"]
    assert full.alerts is not None and "13912345678" in full.alerts[0].message


async def test_each_subscriber_gets_the_view_it_asked_for(
    settings: Settings,  # noqa: F811
    fixed_now: datetime,
) -> None:
    board = QueueBoard()
    view = LiveView(
        settings.live_config(),
        board,
        cast(Any, _Agents()),
        CallTracker(),
        cast(Any, _Calls()),
        clock=lambda: fixed_now,
        refresh=0.01,
    )
    view.on_event(join(1, 1, T0))
    wall, mine = view.subscribe(), view.subscribe(reveal=True)
    runner = asyncio.create_task(view.run())
    try:
        got_wall, got_mine = await wall.get(), await mine.get()
    finally:
        runner.cancel()
    assert got_wall.masked and not got_mine.masked
    assert "13800138001" not in got_wall.model_dump_json()
    assert "13800138001" in got_mine.model_dump_json()
