"""The IVR's category level, end to end on the real Asterisk, in one call: a pjsua2 caller keys
求助 (2) and then 噪音 (3) at the test menu's category level; the agent's page (headless
Chromium) pops the category with the call and starts the draft with it, the suggested articles
are the category's, and the stored call record and the call's transcription job carry it."""

from __future__ import annotations

import asyncio

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from telephony.sip import Phone, SipStack
from testkit.support import wait_for
from tests.integration.test_agent_page import sign_in_and_log_in
from tests.integration.test_call_records import (
    add_agent,
    add_caller,
    caller_number,
    dial_uri,
    ended_record,
)
from tests.integration.test_ivr_calls import wait_at
from tests.integration.test_screenpop import PASSWORD, pop_agent
from tests.integration.test_wallboard import RESULTS

CATEGORY_NUMBER = "12353"  # the shipped menu with a category level after 求助, to sk_pop


async def test_the_category_keyed_in_the_ivr_reaches_the_record_and_the_pop(
    service: Service,
    settings: Settings,
    secrets: Secrets,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
) -> None:
    await pop_agent(service, "catpop", "2019")
    seat = await add_agent(sip, settings, secrets, "2019")
    phones.append(seat)
    seat.auto_answer(after_ms=300)
    wait = WebDriverWait(browser, 30)
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    await asyncio.to_thread(sign_in_and_log_in, browser, settings, "catpop", PASSWORD, "2019")

    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, CATEGORY_NUMBER))
    await call.wait_answered(10)
    await wait_at(service, number, "kind", 1)  # silence at welcome: Mandarin
    await call.send_dtmf("2")  # 求助: on to the category level
    await wait_at(service, number, "category", 2)
    await call.send_dtmf("3")  # 噪音

    def pop_shown() -> dict[str, str]:
        wait.until(ec.text_to_be_present_in_element((By.ID, "pop-number"), number))
        shown = {f: browser.find_element(By.ID, f).text for f in ("pop-category", "pop-kind")}
        shown["pop-path"] = browser.find_element(By.ID, "pop-path").text
        category = Select(browser.find_element(By.ID, "draft-category"))
        shown["draft-category"] = category.first_selected_option.get_attribute("value") or ""
        browser.save_screenshot(str(RESULTS / "agent-pop-ivr-category.png"))
        return shown

    shown = await asyncio.to_thread(pop_shown)
    assert shown == {
        "pop-category": "noise",
        "pop-kind": "help_request",
        "pop-path": "welcome:timeout / kind:2 / category:3",
        "draft-category": "noise",
    }
    pop = service.screenpop.current("catpop")
    assert pop is not None and pop.caller.number == number
    assert pop.call.request_category == "noise" and pop.draft.category == "noise"
    # Chosen before any transcript exists: the noise articles, the caller's language first.
    assert [(s.id, s.category) for s in pop.suggestions[:1]] == [
        ("noise-complaint-hours-zh", "noise")
    ]

    await call.hangup()
    await call.wait_ended(10)
    record = await ended_record(service, number)
    assert record.ivr_path == ["welcome:timeout", "kind:2", "category:3"]
    assert (record.request_kind, record.request_category) == ("help_request", "noise")
    # The call's transcription job has the category for the draft's prior.
    transcription = service.transcription
    assert transcription is not None
    job = await wait_for(
        lambda: transcription.jobs.get(record.call_id), 15, "the call's transcription job"
    )
    assert (job.ivr_kind, job.ivr_category) == ("help_request", "noise")
    await service.desk.logout("catpop")
