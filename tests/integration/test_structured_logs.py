"""Structured logs on the running service: a real pjsua2 caller through the private Asterisk to
an agent's phone, the service's log in JSON lines (the handler ``configure_logging`` installs,
on the root logger for the test): every line is one JSON object, and the lines about the call
carry its global call id, its agent and its PBX. The HTTP API echoes request ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.core.logs import LogSettings, make_handler
from hotline.web.request_id import HEADER
from telephony.sip import Phone, SipStack
from tests.integration.test_call_records import connect, ended_record, talk_then_hang_up


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The service's log lines while the test runs, as the JSON format writes them."""
    out = io.StringIO()
    handler = make_handler(LogSettings(format="json"), stream=out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    lines = out.getvalue().splitlines()
    assert lines, "the service logged nothing"
    return [json.loads(line) for line in lines]  # each line one valid JSON object


async def test_the_json_lines_about_a_real_call_carry_its_call_id(
    service: Service,
    sip: SipStack,
    settings: Settings,
    secrets: Secrets,
    sounds: dict[str, Path],
    phones: list[Phone],
    json_log: io.StringIO,
) -> None:
    c = await connect(
        sip,
        settings,
        secrets,
        phones,
        agent_ext="2001",
        dialled="12345",
        after_ms=500,
        play=sounds["agent"],
    )
    await talk_then_hang_up(c.call, sounds["talk3"])
    await c.incoming.wait_ended(10)
    rec = await ended_record(service, c.number)
    assert rec.call_id.startswith(f"{settings.pbx.name}-")

    lines = parsed(json_log)
    about = [line for line in lines if line.get("call_id") == rec.call_id]
    ended = [line for line in about if line["message"].startswith("call ended: ")]
    assert len(ended) == 1, about
    end = ended[0]
    assert end["message"].startswith("call ended: answered, queue q_answer, wait ")
    assert end["agent"] == rec.agent == "2001" and end["pbx"] == settings.pbx.name
    assert end["level"] == "INFO" and end["logger"] == "hotline.calls.feed"
    # Personal data and secrets stay out of the log.
    assert all(c.number not in line["message"] for line in about)
    log_text = json_log.getvalue()
    assert secrets.agent_passwords["2001"] not in log_text
    assert secrets.ami_secret not in log_text


async def test_the_running_service_echoes_a_request_id_or_makes_one(service: Service) -> None:
    base = f"http://{service.web.host}:{service.web.port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        given = await http.get("/healthz", headers={HEADER: "proxy-4f2a"})
        made = await http.get("/healthz")
        hostile = await http.get("/healthz", headers={HEADER.encode(): b"x\xffy z"})
    assert given.status_code == 200 and given.headers[HEADER] == "proxy-4f2a"
    assert made.headers[HEADER] and made.headers[HEADER] != "proxy-4f2a"
    assert hostile.headers[HEADER] not in ("x\u00ffy z", "", made.headers[HEADER])
    assert " " not in hostile.headers[HEADER]
