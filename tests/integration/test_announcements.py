"""Queue announcements in the caller's language: Asterisk plays our synthesised Mandarin sounds
to a Mandarin caller and its own English ones to an English caller (read off Asterisk's log)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotline.app.service import Service
from hotline.app.settings import Settings
from telephony.asterisk.process import PrivateAsterisk
from telephony.sip import Phone, SipStack
from testkit.support import wait_for
from tests.integration.test_call_records import add_caller, caller_number, dial_uri


async def test_position_announcement_in_the_callers_language(
    service: Service,
    pbx: PrivateAsterisk,
    sip: SipStack,
    settings: Settings,
    phones: list[Phone],
    tmp_path: Path,
) -> None:
    log = tmp_path / "verbose.log"
    await pbx.cli(f"logger add channel {log} verbose(3)")
    await pbx.cli("core set verbose 3")
    try:
        for number, dialled in ((caller_number(), "12366"), (caller_number(), "12367")):
            phone = await add_caller(sip, number)
            phones.append(phone)
            call = await phone.dial(dial_uri(settings, dialled))
            await call.wait_answered(10)
            lang = "zh" if dialled == "12366" else "en"

            def heard(lang: str = lang) -> bool:
                text = log.read_text(errors="replace") if log.exists() else ""
                return "Playing 'queue-youarenext" in text and f"(language '{lang}')" in text

            await wait_for(heard, 15, f"the position announcement in {lang}")
            await call.hangup()
            await call.wait_ended(10)
        text = await asyncio.to_thread(log.read_text, errors="replace")
        # Mandarin: our 8 kHz WAV (Asterisk names its format "slin") from the overlay, not the
        # English GSM file Asterisk would fall back to.
        assert "Playing 'queue-youarenext.slin' (language 'zh')" in text
        assert "Playing 'queue-youarenext.gsm' (language 'en')" in text
    finally:
        await pbx.cli("core set verbose 0")
        await pbx.cli(f"logger remove channel {log}")
