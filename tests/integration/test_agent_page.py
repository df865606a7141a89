"""The agent's page follows the agent's real state and fills in the system's suggestions, end to
end: headless Chromium signed in as an agent, a real pjsua2 caller speaking an espeak-ng
sentence to the agent's pjsua2 phone through Asterisk. The status badge goes ringing → on call →
wrap-up (straight, no "ready" in between) → ready when the ticket is filed; after hang-up the
transcription worker's draft puts its request kind, category, location and summary into the
form, marked as suggestions, except where the agent already typed. Screenshots in test-results/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import cast

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from telephony.sip import Phone, SipStack
from tests.integration.test_call_records import add_caller, caller_number, dial_uri, seat_agent
from tests.integration.test_transcription_calls import AGENT_SAYS, CALLER_SAYS, speech
from tests.integration.test_wallboard import RESULTS

DESK_NUMBER = "12369"  # sk_desk: English, no menu, 120 s wrap-up (tests/conftest.py)
SEAT = "2020"
PASSWORD = "desk-page-pw"
AGENTS_NOTE = "Caller sounded upset; wants a call back."
# Records every change of the badge's state (the page's own markup, read back at the end).
RECORD_STATES = """
window.__states = [];
new MutationObserver((changes) => {
  for (const c of changes) {
    const now = c.target.dataset.state;
    if (now !== c.oldValue) window.__states.push(now);
  }
}).observe(document.getElementById("state"),
           { attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
"""


def badge_is(state: str) -> Callable[[webdriver.Chrome], bool]:
    def check(driver: webdriver.Chrome) -> bool:
        return driver.find_element(By.ID, "state").get_attribute("data-state") == state

    return check


def sign_in_and_log_in(
    browser: webdriver.Chrome, settings: Settings, agent_id: str, password: str, seat: str
) -> None:
    """On the agent's page: sign in, log in at ``seat``, wait for the badge to say ready."""
    wait = WebDriverWait(browser, 30)
    browser.get(f"http://{settings.listen.api_host}:{settings.listen.api_port}/agent")
    wait.until(ec.visibility_of_element_located((By.ID, "agent_id"))).send_keys(agent_id)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "link"), "live"))
    seat_box = browser.find_element(By.ID, "extension")
    seat_box.clear()
    seat_box.send_keys(seat)
    browser.find_element(By.ID, "btn-login").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "state"), f"ready @ {seat}"))
    wait.until(badge_is("available"))


async def test_the_badge_follows_the_call_and_the_drafts_suggestions_fill_the_form(
    service: Service,
    settings: Settings,
    secrets: Secrets,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    caller_wav = await asyncio.to_thread(speech, CALLER_SAYS, tmp_path / "c.wav")
    agent_wav = await asyncio.to_thread(speech, AGENT_SAYS, tmp_path / "a.wav")
    seat = await seat_agent(
        service,
        sip,
        settings,
        secrets,
        phones,
        agent_id="desk_agent",
        name="Desk Agent",
        seat=SEAT,
        skills={"desk": 4},
        password=PASSWORD,
        after_ms=2500,  # rings a while first: the page shows it ringing
    )
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    wait = WebDriverWait(browser, 30)
    # Selenium blocks: it runs in a thread so the service (same loop) keeps serving the page.
    await asyncio.to_thread(sign_in_and_log_in, browser, settings, "desk_agent", PASSWORD, SEAT)
    await asyncio.to_thread(browser.execute_script, RECORD_STATES)

    number = caller_number()
    caller = await add_caller(sip, number)
    phones.append(caller)
    call = await caller.dial(dial_uri(settings, DESK_NUMBER))
    await call.wait_answered(10)
    incoming = await seat.next_incoming(10)

    def on_call() -> None:
        wait.until(badge_is("on_call"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "pop-number"), number))
        browser.save_screenshot(str(RESULTS / "agent-page-on-call.png"))

    await incoming.wait_answered(10)
    await asyncio.to_thread(on_call)
    assert await call.play(caller_wav)  # the caller speaks first, to the end
    assert await incoming.play(agent_wav)  # then the agent replies
    await call.hangup()
    await call.wait_ended(10)

    def wrap_up_and_a_note() -> str:
        wait.until(badge_is("wrap_up"))
        # The agent writes a note before the transcript is in: the summary must not replace it.
        browser.find_element(By.ID, "draft-description").send_keys(AGENTS_NOTE)
        return str(browser.find_element(By.ID, "state").text)

    assert "wrap-up" in await asyncio.to_thread(wrap_up_and_a_note)

    def suggested() -> dict[str, object]:
        # Transcribing both legs with the real model takes a while on a busy machine.
        category = browser.find_element(By.ID, "draft-category")
        WebDriverWait(browser, 180).until(
            lambda _: "suggested" in str(category.get_attribute("class"))
        )
        browser.save_screenshot(str(RESULTS / "agent-page-suggestions.png"))
        out: dict[str, object] = {}
        for name in ("kind", "category", "location", "description"):
            el = browser.find_element(By.ID, f"draft-{name}")
            hint = browser.find_element(By.CSS_SELECTOR, f'.hint[data-for="draft-{name}"]')
            value = (
                Select(el).first_selected_option.get_attribute("value")
                if el.tag_name == "select"
                else el.get_attribute("value")
            )
            out[name] = (
                value,
                "suggested" in str(el.get_attribute("class")),
                hint.is_displayed(),
                el.get_attribute("title"),
            )
        out["transcript"] = browser.find_element(By.ID, "draft-transcript").get_attribute("value")
        return out

    shown = await asyncio.to_thread(suggested)
    pop = service.screenpop.current("desk_agent")
    assert pop is not None and pop.draft.suggested is not None
    fields = pop.draft.suggested
    assert fields.category == "street_lighting" and fields.location
    assert "Heping Road" in fields.location and fields.description
    category, marked, hint_shown, title = cast(tuple[str, bool, bool, str], shown["category"])
    assert (category, marked, hint_shown) == ("street_lighting", True, True)
    assert "confidence" in title
    assert shown["location"][:3] == (fields.location, True, True)  # type: ignore[index]
    if fields.kind is not None:  # the kind, when the transcript said one
        assert shown["kind"][:3] == (fields.kind, True, True)  # type: ignore[index]
    # The agent's note stays the agent's: not replaced by the summary, not marked.
    assert shown["description"][:3] == (AGENTS_NOTE, False, False)  # type: ignore[index]
    assert "street light" in str(shown["transcript"]).lower()

    def file_it() -> list[str]:
        # Changing a suggestion makes it the agent's own.
        location = browser.find_element(By.ID, "draft-location")
        location.send_keys(", east side")
        assert "suggested" not in str(location.get_attribute("class"))
        browser.find_element(By.ID, "draft-submit").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "saved"), "saved"))
        wait.until(badge_is("available"))
        wait.until(ec.visibility_of_element_located((By.ID, "filed")))  # the "done" message
        assert not browser.find_element(By.ID, "draft-submit").is_enabled()
        browser.save_screenshot(str(RESULTS / "agent-page-filed.png"))
        return list(browser.execute_script("return window.__states"))

    states = await asyncio.to_thread(file_it)
    # Every change the badge went through since the agent was ready, in order: the call rang,
    # was answered, ended in wrap-up (never "ready" in between), and filing ended the wrap-up.
    assert states == ["ringing", "on_call", "wrap_up", "available"], states
    saved = service.screenpop.current("desk_agent")
    assert saved is None  # filed: no current call
    tickets = await asyncio.to_thread(service.tickets.tickets_of_call, pop.call_id)
    detail = await asyncio.to_thread(service.tickets.get, tickets[0])
    t = detail.ticket
    assert (t.category, t.description) == ("street_lighting", AGENTS_NOTE)
    assert t.location == f"{fields.location}, east side" and t.caller_language == "en"
    # What the agent did with the draft, recorded by the filing: the category kept, the
    # location changed, the summary never shown over the agent's own note (changed).
    outcomes = await asyncio.to_thread(service.tickets.acceptance_of, t.id)
    assert outcomes["category"] == "accepted" and outcomes["location"] == "changed"
    assert outcomes["description"] == "changed"
    assert not (await service.desk.get("desk_agent")).paused  # filing ended the wrap-up
    await service.desk.logout("desk_agent")
