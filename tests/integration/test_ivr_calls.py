"""End to end: real pjsua2 callers walk the shipped 12345 menu with RFC 4733 DTMF.

Callers press a key only once the service's walk for them is at the expected node and
listening (a prompt playing or a key awaited): the test waits on that state, never on a clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.db.models import CallRow
from telephony.sip import CallHandle, Phone, PhoneConfig, SipStack, allocate_ports
from testkit.support import wait_for
from tests.integration.test_call_records import add_caller, caller_number, dial_uri, ended_record

MENU_NUMBER = "12350"  # the shipped menu
EXTRA_NUMBER = "12351"  # transfer and hang-up actions
WAIT = 60  # seconds a caller may take to reach a node (the silent one is slowest)
LEGS = asyncio.Semaphore(3)  # pjsua2 allows 4 call legs per process; one is kept spare


@dataclass
class Scenario:
    """Keys to press, each once the walk is at ``node`` with ``len(path) == depth``."""

    name: str
    keys: list[tuple[str, int, str]]  # (node, depth, keys)
    queue: str | None
    path: list[str]
    language: str
    kind: str | None


def zh(digit: str, kind: str) -> Scenario:
    return Scenario(
        f"zh-{digit}",
        [("kind", 1, digit)],
        "operator",
        ["welcome:timeout", f"kind:{digit}"],
        "zh",
        kind,
    )


def en(digit: str, kind: str) -> Scenario:
    return Scenario(
        f"en-{digit}",
        [("welcome", 0, "9"), ("kind", 1, digit)],
        "english",  # English callers reach the English-speaking seats, whatever they choose
        ["welcome:9", f"kind:{digit}"],
        "en",
        kind,
    )


KINDS = {
    "1": "consultation",
    "2": "help_request",
    "3": "complaint",
    "4": "suggestion",
    "0": "operator",
}


async def wait_at(service: Service, number: str, node: str, depth: int) -> None:
    def probe() -> bool:
        walk = service.ivr.app.find(number)
        return bool(walk and walk.node == node and walk.listening and len(walk.path) == depth)

    await wait_for(probe, WAIT, f"caller {number} at menu node {node!r} (step {depth})")


async def menu_call(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone], number: str
) -> CallHandle:
    """A caller at the shipped menu's welcome, listening."""
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, MENU_NUMBER))
    await call.wait_answered(10)
    await wait_at(service, number, "welcome", 0)
    return call


async def add_carrier(sip: SipStack, phones: list[Phone], carrier_port: int) -> Phone:
    """The test 'carrier' on pbx.trunk.gateway: answers calls out of the hotline after 0.2 s."""
    ports = allocate_ports(1, low=21000, high=30000)[0]
    carrier = await sip.add_phone(
        PhoneConfig("carrier", sip_port=carrier_port, rtp_port=ports.rtp_port)
    )
    phones.append(carrier)
    carrier.auto_answer(after_ms=200)
    return carrier


async def queued(service: Service, number: str) -> CallRow:
    def probe() -> CallRow | None:
        rows = service.store.find(caller_number=number, limit=1)
        return rows[0] if rows and rows[0].queue_joined_at is not None else None

    return await wait_for(probe, 150, f"caller {number} queued")


async def run_scenario(
    service: Service, sip: SipStack, settings: Settings, sc: Scenario, ticket: str
) -> tuple[Scenario, CallRow]:
    async with LEGS:
        number = caller_number()
        phone = await add_caller(sip, number)
        try:
            call = await phone.dial(dial_uri(settings, MENU_NUMBER))
            await call.wait_answered(10)
            for node, depth, keys in sc.keys:
                await wait_at(service, number, node, depth)
                await call.send_dtmf(ticket + "#" if keys == "<ticket>" else keys)
            if sc.queue is not None:
                await queued(service, number)
            else:
                await wait_for(lambda: service.ivr.app.find(number) is None, 60, "menu end")
            await call.hangup()
            await call.wait_ended(10)
        finally:
            await phone.close()
        return sc, await ended_record(service, number)


def scenarios() -> list[Scenario]:
    # The slow ones first (the silent caller hears every prompt in full, about 95 s), so they
    # hold a call leg from the start while the quick ones share the others.
    out = [
        # A real ticket's status read back, then the operator from the follow-up menu.
        Scenario(
            "zh-ticket",
            [("kind", 1, "5"), ("ticket", 2, "<ticket>"), ("after_lookup", 3, "0")],
            "operator",
            ["welcome:timeout", "kind:5", "ticket-<ticket>-dispatched", "after_lookup:0"],
            "zh",
            "ticket_status",
        ),
        # An unknown ticket, back to the menu with *, then a consultation.
        Scenario(
            "en-ticket-unknown",
            [
                ("welcome", 0, "9"),
                ("kind", 1, "5"),
                ("ticket", 2, "999999#"),
                ("after_lookup", 3, "*"),
                ("kind", 4, "1"),
            ],
            "english",
            ["welcome:9", "kind:5", "ticket-999999-not_found", "after_lookup:*", "kind:1"],
            "en",
            "consultation",
        ),
        # Wrong keys three times: the retries are spent, the operator takes the call.
        Scenario(
            "zh-invalid",
            [("kind", 1, "7"), ("kind", 2, "8"), ("kind", 3, "#")],
            "operator",
            ["welcome:timeout", "kind:invalid-7", "kind:invalid-8", "kind:invalid-#"],
            "zh",
            "operator",
        ),
        # Silence throughout: the welcome times out, the menu is tried three times.
        Scenario(
            "zh-silence",
            [],
            "operator",
            ["welcome:timeout", "kind:timeout", "kind:timeout", "kind:timeout"],
            "zh",
            "operator",
        ),
    ]
    out.reverse()
    return out + [zh(d, k) for d, k in KINDS.items()] + [en(d, k) for d, k in KINDS.items()]


async def test_every_branch_of_the_shipped_menu_in_both_languages(
    service: Service, sip: SipStack, settings: Settings
) -> None:
    ticket = str(await asyncio.to_thread(service.tickets.create, "13900000000", "dispatched"))
    results = await asyncio.gather(
        *(run_scenario(service, sip, settings, sc, ticket) for sc in scenarios())
    )
    failures = []
    for sc, rec in results:
        want_path = [p.replace("<ticket>", ticket) for p in sc.path]
        got = {
            "disposition": rec.disposition,
            "queue": rec.queue,
            "path": rec.ivr_path,
            "language": rec.language,
            "kind": rec.request_kind,
            "ivr": rec.ivr,
        }
        want = {
            "disposition": "abandoned",  # the caller hung up once queued
            "queue": sc.queue,
            "path": want_path,
            "language": sc.language,
            "kind": sc.kind,
            "ivr": "done",
        }
        if got != want:
            failures.append(f"{sc.name}: got {got}, want {want}")
    assert not failures, "\n".join(failures)
    # Priority reaches Queue() (QUEUE_PRIO) and the record: help requests jump the queue.
    help_rec = next(rec for sc, rec in results if sc.name == "zh-2")
    assert help_rec.variables.get("HOTLINE_PRIORITY") == "2"
    assert help_rec.variables.get("HOTLINE_ACTION") == "queue"


async def test_caller_hanging_up_mid_menu_leaves_ivr_hangup_with_path(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone]
) -> None:
    number = caller_number()
    call = await menu_call(service, sip, settings, phones, number)
    await call.send_dtmf("9")
    await wait_at(service, number, "kind", 1)
    await call.hangup()
    await call.wait_ended(10)

    rec = await ended_record(service, number)
    assert rec.disposition == "ivr_hangup"
    assert rec.ivr_path == ["welcome:9"]
    assert rec.language == "en"
    assert rec.queue is None and rec.queue_joined_at is None
    await wait_for(lambda: service.ivr.app.find(number) is None, 10, "the walk to end")
    assert service.ivr.server.stats.hangups >= 1
    # The menu's SET VARIABLE round trips reached the service's histogram (ivr/'s hook).
    timed = service.ivr.server.stats.timed["SET VARIABLE"]
    count = service.registry.get_sample_value(
        "hotline_agi_round_trip_seconds_count", {"command": "SET VARIABLE"}
    )
    assert count == timed >= 1


async def _wait_queued_then_hang_up(service: Service, call: CallHandle, number: str) -> CallRow:
    await call.wait_answered(10)
    await queued(service, number)
    await call.hangup()
    await call.wait_ended(10)
    return await ended_record(service, number)


async def test_with_the_fastagi_server_stopped_calls_reach_the_default_queue(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone]
) -> None:
    await service.ivr.server.stop()
    try:
        number = caller_number()
        phone = await add_caller(sip, number)
        phones.append(phone)
        call = await phone.dial(dial_uri(settings, MENU_NUMBER))
        rec = await _wait_queued_then_hang_up(service, call, number)
    finally:
        await service.ivr.server.start()
    assert rec.queue == "operator"
    assert rec.disposition == "abandoned"
    assert rec.ivr == "skipped"
    assert rec.variables.get("HOTLINE_IVR_ERROR") == "FAILURE"
    assert rec.ivr_path == []


async def test_malformed_fastagi_input_never_blocks_callers(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone]
) -> None:
    host, port = settings.listen.agi_host, settings.listen.agi_port
    stats = service.ivr.server.stats
    bad_before = stats.bad_requests

    async def send_and_close(data: bytes) -> None:
        _, writer = await asyncio.open_connection(host, port)
        writer.write(data)
        await writer.drain()
        writer.close()

    # Half a header then close: panoramisk 1.4 would spin on this forever.
    await send_and_close(b"agi_network: yes\nagi_request: agi://127.0.0.1/ivr/main\nagi_chan")
    await send_and_close(b"\x00\xff\xfe garbage \x07\n\n")  # not AGI at all
    await send_and_close(b"agi_request: x\n" + b"agi_x: " + b"A" * 40_000 + b"\n\n")  # too long
    # A flood of connections that send nothing and stay open during the call below.
    flood = [await asyncio.open_connection(host, port) for _ in range(200)]
    try:
        number = caller_number()
        call = await menu_call(service, sip, settings, phones, number)
        await call.send_dtmf("9")
        await wait_at(service, number, "kind", 1)
        await call.send_dtmf("3")
        rec = await _wait_queued_then_hang_up(service, call, number)
    finally:
        for _, writer in flood:
            writer.close()
    assert rec.ivr == "done" and rec.ivr_path == ["welcome:9", "kind:3"]
    assert rec.queue == "english"
    # Every bad client is counted and its task ends; none became a session.
    await wait_for(lambda: stats.bad_requests >= bad_before + 3 + 200, 30, "bad clients counted")
    await wait_for(lambda: service.ivr.server.active == 0, 10, "no FastAGI task left")


async def test_transfer_and_hangup_actions(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone], carrier_port: int
) -> None:
    carrier = await add_carrier(sip, phones, carrier_port)

    number = caller_number()
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, EXTRA_NUMBER))
    await call.wait_answered(10)
    await wait_at(service, number, "start", 0)
    await call.send_dtmf("1")
    incoming = await carrier.next_incoming(15)
    await incoming.wait_answered(10)
    assert (incoming.request_header("To") or "").startswith("<sip:110@")
    assert number in (incoming.request_header("From") or "")  # the citizen's number goes on
    await call.hangup()
    await incoming.wait_ended(10)
    rec = await ended_record(service, number)
    assert rec.disposition == "transferred"
    assert rec.ivr_path == ["start:1"] and rec.request_kind == "emergency"
    assert rec.variables.get("HOTLINE_TRANSFER") == "110"

    number = caller_number()
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, EXTRA_NUMBER))
    await call.wait_answered(10)
    await wait_at(service, number, "start", 0)
    await call.send_dtmf("2")
    await call.wait_ended(30)  # the menu says goodbye and the PBX hangs up: no hangup here
    rec = await ended_record(service, number)
    assert rec.disposition == "self_service"
    assert rec.ended_by is None or rec.ended_by != "caller"
    assert rec.ivr_path == ["start:2"] and rec.request_kind == "information"


@pytest.fixture(autouse=True)
def _no_walks_left(service: Service) -> None:
    """Each test starts with no caller in a menu (a previous test's calls have ended)."""
    assert service.ivr.app.active == {}, service.ivr.app.active


async def test_caller_with_an_overdue_ticket_is_queued_with_priority(
    service: Service, sip: SipStack, settings: Settings, phones: list[Phone]
) -> None:
    number = caller_number()
    past = datetime.now(UTC) - timedelta(days=2)
    await asyncio.to_thread(service.tickets.create, number, "dispatched", past)
    call = await menu_call(service, sip, settings, phones, number)
    await call.send_dtmf("9")
    await wait_at(service, number, "kind", 1)
    await call.send_dtmf("4")  # a suggestion: priority 0 in the menu
    rec = await _wait_queued_then_hang_up(service, call, number)
    assert rec.queue == "english"
    assert rec.variables.get("HOTLINE_FLAG") == "overdue_ticket"
    assert rec.variables.get("HOTLINE_PRIORITY") == str(settings.flagged_priority) == "5"
