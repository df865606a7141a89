"""The screen-pop, end to end: an agent's page in headless Chromium, a real pjsua2 caller through
the IVR to that agent's pjsua2 phone, the pop with the caller's number, region, language and
IVR path, the ticket filed from the page with the call linked; a second call about the same
kind flagged as a repeat; another agent's page never receiving the pop. Screenshots in
test-results/."""

from __future__ import annotations

import asyncio
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.core.auth import hash_password
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
from tests.integration.test_wallboard import RESULTS

POP_NUMBER = "12352"  # the shipped menu, routed to sk_pop
PASSWORD = "pop-page-pw"


async def pop_agent(service: Service, agent_id: str, ext: str) -> None:
    """An agent with the screen-pop queue's skill (``sk_pop``) and the page's password."""
    await asyncio.to_thread(
        lambda: service.agents.upsert(
            agent_id,
            name=agent_id.title(),
            extension=ext,
            roles=["agent"],
            skills={"pop": 4},
            password_hash=hash_password(PASSWORD),
        )
    )


async def test_pop_reaches_only_its_agent_and_files_the_ticket_with_the_call(
    service: Service,
    settings: Settings,
    secrets: Secrets,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
) -> None:
    await pop_agent(service, "popa", "2017")
    await pop_agent(service, "popb", "2018")
    seat = await add_agent(sip, settings, secrets, "2017")
    phones.append(seat)
    seat.auto_answer(after_ms=300)
    # Agent B is logged in too (paused, so the calls go to A) and its pops are watched.
    await service.desk.login("popb", "2018")
    await service.desk.pause("popb", "training")
    b_pops = service.screenpop.subscribe("popb")
    wait = WebDriverWait(browser, 30)
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    # Selenium blocks: it runs in a thread so the service (same loop) keeps serving the page.
    await asyncio.to_thread(sign_in_and_log_in, browser, settings, "popa", PASSWORD, "2017")
    number = "010" + caller_number()[-8:]  # a Beijing landline: out of town for Jinan

    async def call_about_a_complaint() -> Any:
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(dial_uri(settings, POP_NUMBER))
        await call.wait_answered(10)
        await wait_at(service, number, "kind", 1)  # silence at welcome: Mandarin
        await call.send_dtmf("3")  # complaint
        return call

    def pop_shown(shot: str) -> dict[str, str | bool]:
        wait.until(ec.text_to_be_present_in_element((By.ID, "pop-number"), number))
        fields = (
            "pop-number",
            "pop-region",
            "pop-language",
            "pop-path",
            "pop-kind",
            "pop-queue",
            "pop-wait",
        )
        shown: dict[str, str | bool] = {f: browser.find_element(By.ID, f).text for f in fields}
        shown["out"] = browser.find_element(By.ID, "pop-out").text
        shown["repeat"] = browser.find_element(By.ID, "repeat").is_displayed()
        shown["repeat-why"] = browser.find_element(By.ID, "repeat-why").text
        category = Select(browser.find_element(By.ID, "draft-category"))
        shown["category"] = category.first_selected_option.get_attribute("value") or ""
        browser.save_screenshot(str(RESULTS / shot))
        return shown

    call = await call_about_a_complaint()
    first = await asyncio.to_thread(pop_shown, "agent-pop-first-call.png")
    assert first["pop-region"] == "Beijing" and first["out"] == "out of town"
    assert first["pop-language"] == "zh"
    assert first["pop-path"] == "welcome:timeout / kind:3"
    assert first["pop-kind"] == "complaint" and first["pop-queue"] == "sk_pop"
    assert str(first["pop-wait"]).count(":") == 1
    assert not first["repeat"], "a first call is no repeat"
    pop = service.screenpop.current("popa")
    assert pop is not None and pop.caller.number == number
    call_id = pop.call_id

    # A page that reconnects (here: reloads) gets the current call's pop again.
    await asyncio.to_thread(browser.refresh)
    again = await asyncio.to_thread(pop_shown, "agent-pop-after-reload.png")
    assert again["pop-path"] == first["pop-path"]

    # The transcript, when ready, updates the draft on the page live; the page searches the
    # knowledge base.
    assert service.screenpop.update(call_id, {"transcript": "caller: 路灯坏了"})

    def transcript_and_search() -> str:
        wait.until(ec.text_to_be_present_in_element_value((By.ID, "draft-transcript"), "路灯坏了"))
        browser.find_element(By.ID, "kb-q").send_keys("路灯")
        browser.find_element(By.CSS_SELECTOR, "#kb-form button").click()
        hit = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#kb-results .hit")))
        browser.save_screenshot(str(RESULTS / "agent-kb-search.png"))
        return str(hit.get_attribute("innerHTML"))

    assert "<mark>路灯</mark>" in await asyncio.to_thread(transcript_and_search)

    await call.hangup()
    await call.wait_ended(10)
    await wait_for(lambda: _in_wrap_up(service, "popa"), 15, "agent A in wrap-up after the call")

    def file_ticket() -> str:
        Select(browser.find_element(By.ID, "draft-category")).select_by_value("street_lighting")
        browser.find_element(By.ID, "draft-location").send_keys("Heping Road 12")
        browser.find_element(By.ID, "draft-description").send_keys("路灯不亮一周了")
        browser.find_element(By.ID, "draft-submit").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "saved"), "saved"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "state"), "ready"))
        browser.save_screenshot(str(RESULTS / "agent-ticket-saved.png"))
        return str(browser.find_element(By.ID, "saved").text)

    saved = await asyncio.to_thread(file_ticket)
    ticket_id = int(saved.split("#")[1].split()[0])
    detail = await asyncio.to_thread(service.tickets.get, ticket_id)
    t = detail.ticket
    want = ("open", "complaint", "street_lighting", number)
    assert (t.status, t.kind, t.category, t.caller_number) == want
    assert t.location == "Heping Road 12" and t.caller_language == "zh" and t.repeat_of is None
    assert [c.call_id for c in detail.calls] == [call_id]
    assert detail.history[0].actor == "popa"
    assert not (await service.desk.get("popa")).paused  # filing ended the wrap-up
    record = await ended_record(service, number)
    assert record.agent == "2017" and record.caller_region == "Beijing"  # counted out of town

    # The same caller again about the same kind: the second pop is flagged as a repeat, with
    # the earlier ticket's category in the draft.
    call = await call_about_a_complaint()

    def repeat_shown() -> dict[str, str | bool]:
        wait.until(ec.visibility_of_element_located((By.ID, "repeat")))
        return pop_shown("agent-pop-repeat-call.png")

    second = await asyncio.to_thread(repeat_shown)
    assert second["repeat"] and f"#{ticket_id}" in str(second["repeat-why"])
    assert second["category"] == "street_lighting"
    await call.hangup()
    await call.wait_ended(10)

    # Agent B's pages got nothing of A's two pops.
    assert b_pops.empty() and service.screenpop.current("popb") is None
    service.screenpop.unsubscribe("popb", b_pops)
    for agent_id in ("popa", "popb"):
        await service.desk.logout(agent_id)
    shot = await asyncio.to_thread((RESULTS / "agent-pop-first-call.png").stat)
    assert shot.st_size > 10_000


async def _in_wrap_up(service: Service, agent_id: str) -> bool:
    a = await service.desk.get(agent_id)
    return a.paused and a.pause_reason == "wrap-up"
