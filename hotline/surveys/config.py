"""The ``surveys:`` section: what triggers a survey callback, when it may ring, how often it is
tried, who is never called, how many run at once, and what the citizen hears."""

from __future__ import annotations

import re
from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from telephony.settings import Strict

WINDOW_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_WINDOW = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_NUMBER = re.compile(r"^\+?[0-9]{2,20}\*?$")

# What one attempt can end in. ``answered`` carries a result; the others drive the retries.
RetryOutcome = Literal["busy", "no_answer", "rejected", "no_input", "failed"]
PROMPT_IDS = ("question", "invalid", "no_input", "comment", "thanks", "goodbye")

DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "question": {
        "zh": "您好，这里是12345政务服务便民热线回访。您反映的问题已经办理完毕。"
        "满意请按1，基本满意请按2，不满意请按3。",
        "en": "Hello, this is the twelve three four five citizen hotline. Your request has "
        "been handled. If you are satisfied, press 1. Basically satisfied, press 2. "
        "Dissatisfied, press 3.",
    },
    "invalid": {"zh": "输入有误。", "en": "Sorry, that is not a valid choice."},
    "no_input": {"zh": "我们没有收到您的按键。", "en": "We did not receive your answer."},
    "comment": {
        "zh": "很抱歉。请在提示音后说出您不满意的原因，说完请挂机或按井号键。",
        "en": "We are sorry. After the tone, please tell us why you are not satisfied. "
        "Hang up or press the hash key when you are done.",
    },
    "thanks": {"zh": "感谢您的评价，再见。", "en": "Thank you for your answer. Goodbye."},
    "goodbye": {
        "zh": "我们稍后再与您联系，再见。",
        "en": "We will try again later. Goodbye.",
    },
}


def parse_window(text: str) -> tuple[time, time]:
    """``"09:00-20:00"`` → (09:00, 20:00); ValueError naming the problem."""
    m = _WINDOW.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a window like 09:00-20:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{text!r}: not a time of day")
    start = time(h1, m1)
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"{text!r}: the window must end after it starts")
    return start, end


class SurveySip(Strict):
    """The survey user agent: its own PJSIP endpoint on the PBX, registered by each dialling
    process (they take free local ports; a process carries 4 calls, the pjsua2 limit)."""

    user: str = "survey"
    password_env: str = "HOTLINE_SURVEY_SIP_SECRET"
    # The PBX's SIP address (host:port) to register with; None: the embedded PBX.
    registrar: str | None = None
    bind: str = "127.0.0.1"


class SurveySettings(Strict):
    enabled: bool = True
    # This instance places the calls (dialling processes, 4 calls each). False: it schedules
    # and shows surveys, another instance dials them (the claim keeps it to one).
    dial: bool = True
    # Triggers: a ticket reaching "resolved" (once per ticket, whatever happens to it later);
    # optionally answered calls whose IVR request kind is listed (once per call, no ticket).
    ticket_resolved: bool = True
    call_kinds: list[str] = []
    delay_minutes: float = Field(30.0, ge=0, le=10080)
    # Local-time calling window per weekday ("09:00-20:00"; absent or null: no calls that day).
    # Holidays (statutory and the city's own) come from tickets.calendar and use
    # holiday_window (null: no calls); weekend days worked instead (调休) use the Monday window.
    window: dict[str, str | None] = {
        **{d: "09:00-20:00" for d in WINDOW_DAYS[:5]},
        "sat": "10:00-18:00",
        "sun": "10:00-18:00",
    }
    holiday_window: str | None = None
    max_attempts: int = Field(3, ge=1, le=10)
    # Minutes after an unsuccessful attempt before the next one (moved into the window).
    retry_minutes: dict[RetryOutcome, float] = {
        "busy": 30.0,
        "no_answer": 120.0,
        "rejected": 1440.0,
        "no_input": 240.0,
        "failed": 60.0,
    }
    # Numbers never called: exact, or a prefix ending in "*" (e.g. "110", "+8610*").
    do_not_call: list[str] = []
    ring_timeout: int = Field(30, ge=5, le=120)  # seconds the citizen's phone rings
    max_concurrent: int = Field(10, ge=1, le=500)
    rate_per_minute: float = Field(30.0, gt=0, le=6000)  # survey calls started, at most
    caller_id: str = "12345"
    digit_timeout: float = Field(6.0, gt=0, le=60)  # after the question, for a key
    max_repeats: int = Field(2, ge=0, le=5)  # the question again after invalid or no input
    comment_seconds: float = Field(30.0, ge=3, le=300)
    poll_seconds: float = Field(1.0, gt=0, le=60)
    # A dialler renews its claim on a live call every third of this; a calling survey whose
    # dialler has not renewed it for this long (the process is gone) ends interrupted.
    lease_seconds: float = Field(20.0, ge=3, le=600)
    # jobs.engine redis: a call handed to the queue that no survey worker has started within
    # this is put back on the schedule (never dialled, attempt not counted).
    dispatch_seconds: float = Field(300.0, ge=2, le=86400)
    recordings_dir: str = "var/recordings/surveys"
    prompts: dict[str, dict[str, str]] = DEFAULT_PROMPTS
    sip: SurveySip = SurveySip()

    @field_validator("window")
    @classmethod
    def _window(cls, v: dict[str, str | None]) -> dict[str, str | None]:
        for day, text in v.items():
            if day not in WINDOW_DAYS:
                raise ValueError(f"{day!r} is not a weekday ({', '.join(WINDOW_DAYS)})")
            if text is not None:
                parse_window(text)
        return v

    @field_validator("holiday_window")
    @classmethod
    def _holiday(cls, v: str | None) -> str | None:
        if v is not None:
            parse_window(v)
        return v

    @field_validator("do_not_call")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        for n in v:
            if not _NUMBER.match(n):
                raise ValueError(f"{n!r} is not a number or a prefix ending in *")
        return v

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        missing = [p for p in PROMPT_IDS if p not in v]
        if missing:
            raise ValueError(f"survey prompts missing: {', '.join(missing)}")
        unknown = [p for p in v if p not in PROMPT_IDS]
        if unknown:
            raise ValueError(f"unknown survey prompts: {', '.join(unknown)}")
        return v

    @model_validator(mode="after")
    def _some_window(self) -> SurveySettings:
        if not any(self.window.get(d) for d in WINDOW_DAYS):
            raise ValueError("window: no day has calling hours, no survey could ever be made")
        return self

    def blocked(self, number: str) -> bool:
        """On the do-not-call list (exact number or prefix)."""
        for entry in self.do_not_call:
            if (entry.endswith("*") and number.startswith(entry[:-1])) or number == entry:
                return True
        return False
