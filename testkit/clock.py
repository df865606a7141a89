"""The tests' "now": frozen, injected, never read off the machine's clock.

The rule: no test depends on the date, weekday or hour it runs. A test whose expectations
involve the time (calling windows, deadlines in working days, "today" on the wallboard,
report periods, the survey scheduler's look-back) takes its "now" from a fixture of
``tests/integration/conftest.py`` and injects it into the code under test (the ``clock`` of
``TicketService``, also the API's "now", of ``SurveyScheduler``, ``ResultApplier`` and
``LiveView``); that logic reads no real time. ``tests/unit/test_clock_rule.py`` checks that test
modules do not read the real clock where they should not.

- ``frozen_now`` (parametrised): fast clock tests run once per instant of ``INSTANTS``: a
  Monday morning, a Thursday afternoon and evening, a Saturday morning, a Sunday night, a
  Sunday morning that is still the last day of February in UTC, the eve of the National Day
  week, New Year's Eve.
- ``fixed_now`` (one instant): slow tests (real calls on Asterisk) run at ``AWKWARD``, a
  Thursday evening, the time at which the survey window test used to fail.

``HOTLINE_TEST_NOW`` moves both: set to an ISO 8601 time with its UTC offset, every
clock-injected test runs at that instant alone (``frozen_now`` has that one value,
``fixed_now`` is it), e.g. to reproduce a failure seen at some date::

    HOTLINE_TEST_NOW=2026-12-13T23:30:00+08:00 .venv/bin/pytest tests/integration

Instants stay before 2030: some tests park surveys due in 2030 as "never due".
China has no daylight saving time: local days are always 24 hours.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

ENV = "HOTLINE_TEST_NOW"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the hotline's time zone in the tests' settings


def _local(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# Representative instants, Shanghai time (the calendar: config/hotline.yaml's, China's 2026).
INSTANTS: tuple[datetime, ...] = (
    _local(2026, 12, 7, 9, 0),  # Monday morning, the minute the weekday window opens
    _local(2026, 12, 10, 15, 30),  # Thursday afternoon
    _local(2026, 12, 10, 19, 30),  # Thursday evening: Monday 10:00 is 4 days away
    _local(2026, 12, 12, 9, 30),  # Saturday morning, before the weekend window
    _local(2026, 12, 13, 23, 30),  # Sunday night
    _local(2026, 3, 1, 7, 30),  # Sunday 1 March: Saturday 28 February 23:30 in UTC
    _local(2026, 9, 30, 21, 0),  # Wednesday, eve of National Day (1-7 Oct off; 10 Oct worked)
    _local(2026, 12, 31, 23, 30),  # New Year's Eve (a Thursday): month and year end
)
AWKWARD = INSTANTS[2]  # the slow tests' one instant


def label(at: datetime) -> str:
    """A test id: weekday, local date and time, offset (``Thu-2026-12-10T19:30+08:00``)."""
    return f"{at:%a-%Y-%m-%dT%H:%M}{at.isoformat()[-6:]}"


def parse(value: str) -> datetime:
    """An ISO 8601 time with its UTC offset (``Z`` allowed); ValueError otherwise."""
    at = datetime.fromisoformat(value.strip())
    if at.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (e.g. 2026-12-10T19:30:00+08:00)")
    return at


def from_env() -> datetime | None:
    """``HOTLINE_TEST_NOW``, if set (ValueError when it is not an aware ISO time)."""
    value = os.environ.get(ENV, "").strip()
    return parse(value) if value else None


def instants() -> tuple[datetime, ...]:
    """The instants ``frozen_now`` takes: HOTLINE_TEST_NOW alone if set, else INSTANTS."""
    env = from_env()
    return (env,) if env is not None else INSTANTS


def default_now() -> datetime:
    """The one instant of the slow tests: HOTLINE_TEST_NOW if set, else AWKWARD."""
    return from_env() or AWKWARD


class Clock:
    """An injectable clock standing still at ``at``; tests move it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
