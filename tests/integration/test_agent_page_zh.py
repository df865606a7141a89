"""A Mandarin caller's ticket draft on the agent's page, end to end: a pjsua2 caller dials a
Mandarin queue through the real Asterisk and says (in a synthesised Mandarin voice Whisper
understands, tests/data/speech/tts/) that the street light at building 3 of 舜耕小区 has been
broken for three days, and gives a call-back number; the agent's pjsua2 phone answers. After
hang-up the service's worker transcribes both legs with Whisper base and drafts the ticket; the
agent's page in headless Chromium shows the kind, category, location and call-back number
filled in as suggestions, in Chinese. Filing the ticket keeps them and records each field as
accepted. Screenshots in test-results/.

What Whisper writes is not what was said: 舜耕小区 comes out as 顺耕小七 or 顺更小其 (sounds
alike, one syllable off), 漆黑 as 七黑, 反映 as 反应; the draft must still name the compound
from the gazetteer and read the number from its digit groups (13 9 12 34 56 78).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from telephony.audio import telephone_copy
from telephony.sip import Phone, SipStack
from tests.integration.test_agent_page import badge_is, sign_in_and_log_in
from tests.integration.test_call_records import call_both_speak, seat_agent
from tests.integration.test_wallboard import RESULTS

NUMBER = "12370"  # sk_desk_zh: Mandarin, no menu, 120 s wrap-up (tests/integration/conftest.py)
SEAT = "2022"
AGENT_ID = "zh_desk_agent"
PASSWORD = "zh-desk-page-pw"
TTS = Path(__file__).resolve().parents[1] / "data" / "speech" / "tts"
CALLER_CLIP = TTS / "zh_street_light_caller.wav"  # scripts/zh_tts_clips.py has the text
AGENT_CLIP = TTS / "zh_street_light_agent.wav"
CALLBACK = "13912345678"  # the number the caller gives (the caller id is another)
FIELDS = {
    "kind": "draft-kind",
    "category": "draft-category",
    "location": "draft-location",
    "callback_number": "draft-callback",
    "description": "draft-description",
}


def read_form(browser: webdriver.Chrome) -> dict[str, tuple[str, str, bool]]:
    """Each draft field as the agent sees it: (value, text shown, marked as a suggestion)."""
    out = {}
    for name, id_ in FIELDS.items():
        el = browser.find_element(By.ID, id_)
        if el.tag_name == "select":
            chosen = Select(el).first_selected_option
            value, shown = str(chosen.get_attribute("value")), chosen.text
        else:
            value = shown = str(el.get_attribute("value"))
        out[name] = (value, shown, "suggested" in str(el.get_attribute("class")))
    return out


async def test_a_mandarin_callers_draft_fills_the_agents_page_in_chinese(
    service: Service,
    settings: Settings,
    secrets: Secrets,
    sip: SipStack,
    phones: list[Phone],
    browser: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    # The caller pauses before speaking and after, as on a real line.
    caller_wav = await asyncio.to_thread(telephone_copy, CALLER_CLIP, tmp_path / "c.wav", 0.5, 0.5)
    agent_wav = await asyncio.to_thread(telephone_copy, AGENT_CLIP, tmp_path / "a.wav", 0.3, 0.3)
    seat = await seat_agent(
        service,
        sip,
        settings,
        secrets,
        phones,
        agent_id=AGENT_ID,
        name="普通话坐席",
        seat=SEAT,
        skills={"desk_zh": 4},
        password=PASSWORD,
        after_ms=300,
    )
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)

    def a_wrong_password_is_told_in_chinese() -> None:
        browser.get(f"http://{settings.listen.api_host}:{settings.listen.api_port}/agent")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda _: browser.find_element(By.ID, "agent_id").is_displayed())
        labels = [el.text for el in browser.find_elements(By.CSS_SELECTOR, "#login label")]
        assert labels == ["坐席工号 Agent ID", "密码 Password"]
        browser.find_element(By.ID, "agent_id").send_keys(AGENT_ID)
        browser.find_element(By.ID, "password").send_keys("not-" + PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        error = browser.find_element(By.ID, "login-error")
        wait.until(lambda _: error.text != "")
        assert error.text == "工号或密码错误 wrong agent ID or password"

    await asyncio.to_thread(a_wrong_password_is_told_in_chinese)
    await asyncio.to_thread(sign_in_and_log_in, browser, settings, AGENT_ID, PASSWORD, SEAT)
    try:
        record = await call_both_speak(
            sip,
            settings,
            service,
            phones,
            seat,
            dialled=NUMBER,
            caller_says=caller_wav,
            agent_says=agent_wav,
        )
        number = record.caller_number
        assert number != CALLBACK

        def suggested() -> dict[str, tuple[str, str, bool]]:
            # Whisper transcribes both legs (about 25 s of call) on a busy 2-core machine.
            WebDriverWait(browser, 180).until(badge_is("wrap_up"))
            category = browser.find_element(By.ID, "draft-category")
            WebDriverWait(browser, 180).until(
                lambda _: "suggested" in str(category.get_attribute("class"))
            )
            browser.save_screenshot(str(RESULTS / "agent-page-zh-suggestions.png"))
            return read_form(browser)

        form = await asyncio.to_thread(suggested)
        pop = service.screenpop.current(AGENT_ID)
        assert pop is not None and pop.draft.transcript, "transcribed"
        print(pop.draft.transcript)
        print(form)
        # Every field the issue names is filled in and marked as the system's suggestion.
        assert form["kind"] == ("help_request", "求助 / help request", True)
        category_id, category_shown, marked = form["category"]
        assert (category_id, marked) == ("street_lighting", True)
        assert category_shown.startswith("路灯照明")  # the centre's name for it, first
        # The gazetteer's compound, whatever characters Whisper chose, with the building.
        assert form["location"] == ("舜耕小区3号楼", "舜耕小区3号楼", True)
        assert form["callback_number"] == (CALLBACK, CALLBACK, True)
        # The summary: the caller's own sentence, in Simplified Chinese.
        summary, _, marked = form["description"]
        assert marked and "路灯" in summary and re.search(r"[\u4e00-\u9fff]{8}", summary)
        assert pop.draft.caller_language == "zh" and pop.draft.caller_number == number

        def file_it() -> None:
            browser.find_element(By.ID, "draft-submit").click()
            WebDriverWait(browser, 30).until(badge_is("available"))
            browser.save_screenshot(str(RESULTS / "agent-page-zh-filed.png"))

        await asyncio.to_thread(file_it)
        [ticket_id] = await asyncio.to_thread(service.tickets.tickets_of_call, pop.call_id)
        ticket = (await asyncio.to_thread(service.tickets.get, ticket_id)).ticket
        assert (ticket.kind, ticket.category, ticket.location) == (
            "help_request",
            "street_lighting",
            "舜耕小区3号楼",
        )
        # The call-back number the caller gave, beside the number they called from.
        assert (ticket.callback_number, ticket.caller_number) == (CALLBACK, number)
        assert ticket.caller_language == "zh" and ticket.description == summary
        # Filed as drafted: every field is recorded as accepted.
        outcomes = await asyncio.to_thread(service.tickets.acceptance_of, ticket_id)
        assert outcomes == dict.fromkeys(FIELDS, "accepted")
    finally:
        await service.desk.logout(AGENT_ID)
