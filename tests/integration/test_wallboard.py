"""The wallboard in headless Chromium (Debian's, driven by Selenium and chromedriver): a
supervisor signs in, a real caller waits in a queue and appears (its number masked to the last
four digits), then hangs up and disappears; with 200 agents, one with a 200-character name, the
panels stay on the screen at 1920x1080 and 1280x800, and no full caller number reaches the wall
(its page or its socket), only a supervisor's own screen that asks for it (audited).
Screenshots are kept in test-results/."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.core.auth import hash_password
from hotline.supervision.masking import mask_number
from telephony.queue_state import QueueBoard
from telephony.sip import Phone, SipStack
from testkit.support import wait_for
from tests.integration.test_call_records import add_caller, caller_number, dial_uri, ended_record

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


async def test_wallboard_shows_a_waiting_caller_appear_and_disappear(
    service: Service,
    settings: Settings,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
) -> None:
    await asyncio.to_thread(
        lambda: service.agents.upsert(
            "wallsup",
            name="Wall Supervisor",
            extension=None,
            roles=["supervisor"],
            skills={},
            password_hash=hash_password("wallboard-pw"),
        )
    )
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    url = f"http://{settings.listen.api_host}:{settings.listen.api_port}/wallboard"
    wait = WebDriverWait(browser, 20)

    def sign_in() -> None:
        browser.get(url)
        wait.until(ec.visibility_of_element_located((By.ID, "agent_id"))).send_keys("wallsup")
        browser.find_element(By.ID, "password").send_keys("wallboard-pw")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, '[data-queue="q_empty"]')))

    # Selenium blocks: it runs in a thread so the service (same loop) keeps serving the page.
    await asyncio.to_thread(sign_in)

    number = caller_number()
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, "12346"))  # q_empty: its agent never logs in
    await call.wait_answered(10)
    # A wall display (the default view): the number's last four digits only.
    row = f'[data-queue="q_empty"] tr.caller[data-caller="{mask_number(number)}"]'

    def appears() -> tuple[str, str]:
        text = str(wait.until(partial(_row_text, row)))
        browser.save_screenshot(str(RESULTS / "wallboard-caller-waiting.png"))
        return text, str(browser.page_source)

    text, source = await asyncio.to_thread(appears)
    assert mask_number(number) in text and "1" in text  # position 1 in q_empty
    assert number not in source
    await call.hangup()
    await call.wait_ended(10)

    def disappears() -> None:
        wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, row)))
        browser.save_screenshot(str(RESULTS / "wallboard-caller-gone.png"))

    await asyncio.to_thread(disappears)
    assert (await ended_record(service, number)).disposition == "abandoned"
    shot = await asyncio.to_thread((RESULTS / "wallboard-caller-waiting.png").stat)
    assert shot.st_size > 10_000


AGENTS = 200
LONG_NAME = ("Aaron Maximilian Alexander-Christophersen " * 5)[:200]
SIZES = ((1920, 1080), (1280, 800))
PANELS = ("queues-panel", "calls-panel", "agents-panel")
# The page's geometry: the viewport, whether the document overflows it, each panel's box, the
# long name's cell, and the agents' scrolling region.
GEOMETRY = """
const box = (el) => { const r = el.getBoundingClientRect();
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
          width: r.width, height: r.height}; };
const cell = document.querySelector('tr[data-agent="wb-long"] td.agent-name');
const region = document.getElementById("agents-scroll");
const row = document.querySelector("#agents tr");
return {
  width: window.innerWidth, height: window.innerHeight,
  scrollWidth: document.documentElement.scrollWidth,
  scrollHeight: document.documentElement.scrollHeight,
  panels: Object.fromEntries(arguments[0].map((id) => [id, box(document.getElementById(id))])),
  cell: box(cell), cellTitle: cell.title, cellClipped: cell.scrollWidth > cell.clientWidth,
  agentsPanel: box(document.getElementById("agents-panel")),
  region: {clientHeight: region.clientHeight, scrollHeight: region.scrollHeight},
  rowHeight: row.getBoundingClientRect().height,
  rows: document.querySelectorAll("#agents tr").length,
  text: document.body.innerText,
};
"""
# What the wall's own socket sends: the first message of /api/live/ws with the page's token.
FIRST_MESSAGE = """
const done = arguments[arguments.length - 1];
const ws = new WebSocket("ws://" + location.host + "/api/live/ws" + arguments[0]);
ws.onopen = () => ws.send(JSON.stringify({ token: sessionStorage.getItem("token") }));
ws.onmessage = (e) => { ws.close(); done(e.data); };
ws.onerror = () => done("error");
"""


async def test_wallboard_with_200_agents_and_a_long_name_stays_on_screen_and_masks_numbers(
    service: Service,
    settings: Settings,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hotline.audit")

    def staff() -> None:
        service.agents.upsert(
            "wallsup2",
            name="Wall Supervisor 2",
            extension=None,
            roles=["supervisor"],
            skills={},
            password_hash=hash_password("wallboard-pw2"),
        )
        service.agents.upsert("wb-long", name=LONG_NAME, extension=None, roles=["agent"], skills={})
        for i in range(AGENTS - 1):
            service.agents.upsert(
                f"wb-{i:03d}", name=f"Agent {i:03d}", extension=None, roles=["agent"], skills={}
            )

    await asyncio.to_thread(staff)
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    url = f"http://{settings.listen.api_host}:{settings.listen.api_port}/wallboard"
    wait = WebDriverWait(browser, 20)

    # A caller waits (q_empty: no agent), so a number is on the board: waiting and in progress.
    number = caller_number()
    phone = await add_caller(sip, number)
    phones.append(phone)
    call = await phone.dial(dial_uri(settings, "12346"))
    await call.wait_answered(10)
    masked = f'tr.caller[data-caller="{mask_number(number)}"]'

    def sign_in() -> None:
        browser.get(url)
        wait.until(ec.visibility_of_element_located((By.ID, "agent_id"))).send_keys("wallsup2")
        browser.find_element(By.ID, "password").send_keys("wallboard-pw2")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, masked)))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-agent="wb-long"]')))

    await asyncio.to_thread(sign_in)

    def measure(width: int, height: int) -> dict[str, Any]:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        # The next snapshot re-renders at this size (waits on the page, not on a clock).
        wait.until(lambda d: d.execute_script("return window.innerWidth") == width)
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, masked)))
        browser.save_screenshot(str(RESULTS / f"wallboard-200-agents-{width}x{height}.png"))
        geometry: dict[str, Any] = browser.execute_script(GEOMETRY, list(PANELS))
        geometry["source"] = browser.page_source
        return geometry

    for width, height in SIZES:
        g = await asyncio.to_thread(measure, width, height)
        assert (g["width"], g["height"]) == (width, height)
        # Nothing pushes the page past the screen: no page scroll either way.
        assert g["scrollWidth"] <= width and g["scrollHeight"] <= height, (width, g)
        for panel, box in g["panels"].items():
            assert box["left"] >= 0 and box["top"] >= 0, (width, panel, box)
            assert box["right"] <= width and box["bottom"] <= height, (width, panel, box)
            assert box["width"] > 0 and box["height"] > 0, (width, panel, box)
        # The 200-character name is cut with an ellipsis inside its panel; the tooltip has it all.
        assert g["cellTitle"] == LONG_NAME and g["cellClipped"]
        assert g["cell"]["right"] <= g["agentsPanel"]["right"]
        # 200 agents: every row is there, in a region that scrolls, showing a usable number.
        assert g["rows"] >= AGENTS
        region = g["region"]
        assert region["scrollHeight"] > region["clientHeight"]
        assert region["clientHeight"] >= 10 * g["rowHeight"], (width, region, g["rowHeight"])
        # No full caller number on the wall: not in its text, not in its markup's data.
        assert mask_number(number) in g["text"]
        assert number not in g["text"] and number not in g["source"]

    def first_message(query: str) -> dict[str, Any]:
        browser.set_script_timeout(20)
        raw = browser.execute_async_script(FIRST_MESSAGE, query)
        assert raw != "error"
        message: dict[str, Any] = json.loads(raw)
        return message

    # The wall's socket itself carries no full number.
    wall = await asyncio.to_thread(first_message, "")
    assert wall["masked"] is True and number not in json.dumps(wall)
    assert not [r for r in caplog.records if r.name == "hotline.audit"]

    # A supervisor's own screen asks for full numbers: shown, and audited.
    def revealed() -> str:
        browser.get(url + "?reveal=1")
        row = f'tr.caller[data-caller="{number}"]'
        text = str(wait.until(partial(_row_text, row)))
        browser.save_screenshot(str(RESULTS / "wallboard-revealed.png"))
        return text

    assert number in await asyncio.to_thread(revealed)
    audits = [r for r in caplog.records if r.name == "hotline.audit"]
    assert audits and all(getattr(r, "actor", None) == "wallsup2" for r in audits)
    assert "/api/live/ws" in audits[0].getMessage()

    await call.hangup()
    await call.wait_ended(10)
    assert (await ended_record(service, number)).disposition == "abandoned"
    for width, height in SIZES:
        shot = await asyncio.to_thread(
            (RESULTS / f"wallboard-200-agents-{width}x{height}.png").stat
        )
        assert shot.st_size > 10_000


async def test_a_priority_caller_joining_a_queue_of_four_reads_one_to_five_as_asterisk_serves(
    service: Service, settings: Settings, sip: SipStack, phones: list[Phone]
) -> None:
    """Four callers wait in q_empty (no agent), then a fifth joins with QUEUE_PRIO above
    theirs: Asterisk puts it first and moves the four back, sending an event for the newcomer
    only. The board, the live view and the wall read 1..5 in Asterisk's own order."""
    link = service.links[settings.pbx.name]
    ami = link.ami
    assert ami is not None
    numbers = [caller_number() for _ in range(4)]
    calls = []
    for number in numbers:  # one at a time: their join order is their queue order
        phone = await add_caller(sip, number)
        phones.append(phone)
        call = await phone.dial(dial_uri(settings, "12346"))
        calls.append(call)
        await wait_for(partial(_waiting, link.board, number), 10, f"{number} in q_empty")
    # The priority caller: a Local channel straight into the queue's context, with the
    # priority the IVR would set (QUEUE_PRIO, inherited by the Local channel's other half).
    raw = f"prio-{uuid.uuid4().hex[:8]}"
    await ami.send(
        {
            "Action": "Originate",
            "Channel": "Local/s@hotline-queue-q_empty",
            "ChannelId": f"{raw}.1",
            "OtherChannelId": f"{raw}.2",
            "Variable": ["QUEUE_PRIO=5"],
            "Application": "Wait",
            "Data": "30",
            "Timeout": "60000",
            "Async": "true",
        },
        as_list=False,
    )
    try:

        def five() -> list[tuple[int, str]] | None:
            waiting = link.board.callers("q_empty")
            if len(waiting) < 5:
                return None
            return [(w.position, w.uniqueid) for w in waiting]

        board = await wait_for(five, 10, "the priority caller in q_empty")
        status = await link.control.status()  # what Asterisk itself reports (QueueEntry)
        pbx = [(w.position, w.uniqueid) for w in status.callers("q_empty")]
        assert [p for p, _ in board] == [1, 2, 3, 4, 5]
        assert board == pbx
        assert board[0][1] == f"{raw}.2"  # the priority caller is served first
        by_uid = {w.uniqueid: w.caller_number for w in link.board.callers("q_empty")}
        assert [by_uid[uid] for _, uid in board[1:]] == numbers  # the four, moved back
        # The wall shows that order, numbers masked.
        snap = await service.live.snapshot()
        queue = next(q for q in snap.queues if q.name == "q_empty")
        assert [w.position for w in queue.waiting] == [1, 2, 3, 4, 5]
        assert [w.caller_number for w in queue.waiting[1:]] == [mask_number(n) for n in numbers]
    finally:
        await ami.send(
            {"Action": "Hangup", "Channel": "/^Local/s@hotline-queue-q_empty-/"}, as_list=False
        )
        for call in calls:
            await call.hangup()
            await call.wait_ended(10)
    for number in numbers:
        assert (await ended_record(service, number)).disposition == "abandoned"


def _waiting(board: QueueBoard, number: str) -> bool | None:
    return any(w.caller_number == number for w in board.callers("q_empty")) or None


def _row_text(selector: str, driver: webdriver.Chrome) -> str | None:
    """The text of a visible row, read in the page in one step: the board redraws on every
    snapshot, so an element found by one call may be gone by the next."""
    text = driver.execute_script(
        "const el = document.querySelector(arguments[0]);"
        " return el && el.offsetParent !== null ? el.innerText : null;",
        selector,
    )
    return str(text) if text else None
