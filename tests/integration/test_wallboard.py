"""The wallboard in headless Chromium (Debian's, driven by Selenium and chromedriver): a
supervisor signs in, a real caller waits in a queue and appears, then hangs up and disappears.
Screenshots are kept in test-results/."""

from __future__ import annotations

import asyncio
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from hotline.app.service import Service
from hotline.app.settings import Settings
from hotline.core.auth import hash_password
from telephony.sip import Phone, SipStack
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
    row = f'[data-queue="q_empty"] tr.caller[data-caller="{number}"]'

    def appears() -> str:
        el = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, row)))
        browser.save_screenshot(str(RESULTS / "wallboard-caller-waiting.png"))
        return str(el.text)

    text = await asyncio.to_thread(appears)
    assert number in text and "1" in text  # position 1 in q_empty

    await call.hangup()
    await call.wait_ended(10)

    def disappears() -> None:
        wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, row)))
        browser.save_screenshot(str(RESULTS / "wallboard-caller-gone.png"))

    await asyncio.to_thread(disappears)
    assert (await ended_record(service, number)).disposition == "abandoned"
    shot = await asyncio.to_thread((RESULTS / "wallboard-caller-waiting.png").stat)
    assert shot.st_size > 10_000
