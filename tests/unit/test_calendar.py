"""The working calendar (hotline/core/calendar.py): China's statutory holidays and adjusted
working days from chinesecalendar, the city's own days, the fallback for years the data does
not cover, deadlines and the survey calling window on it. Fixed dates only: nothing here
depends on the day it runs."""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from pydantic import ValidationError

from hotline.core.calendar import CalendarSettings, Statutory, WorkCalendar
from hotline.surveys.config import SurveySettings
from hotline.surveys.policy import CallWindow

TZ = ZoneInfo("Asia/Shanghai")
CHINA = Statutory.china()


def calendar(**settings: Any) -> WorkCalendar:
    return WorkCalendar.from_settings(CalendarSettings(**settings), TZ)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc, arg-type]


def due(cal: WorkCalendar, at: datetime, days: int) -> date:
    deadline = cal.deadline(at, days)
    assert deadline.hour == 18 and deadline.tzinfo == TZ
    return deadline.date()


def test_the_package_covers_what_the_docs_say() -> None:
    # docs/configuration.md names the years of the pinned version; a new release moves them.
    assert CHINA.source == f"chinesecalendar {chinese_calendar.__version__}"
    assert CHINA.first_year == 2004 and CHINA.last_year >= 2026
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(CHINA.first_year - 1, 6, 2))


def test_adjusted_working_days_count_for_a_deadline() -> None:
    cal = calendar()  # source china, the default
    # 2026: Saturday 14 Feb is worked before the Spring Festival (15-23 Feb off).
    assert date(2026, 2, 14).weekday() == 5
    assert chinese_calendar.is_workday(date(2026, 2, 14))
    assert cal.kind(date(2026, 2, 14)) == "makeup"
    assert due(cal, local(2026, 2, 13, 9), 1) == date(2026, 2, 14)
    assert due(cal, local(2026, 2, 13, 9), 2) == date(2026, 2, 24)
    # 2025: Sunday 28 Sep and Saturday 11 Oct were worked around National Day (1-8 Oct off).
    assert chinese_calendar.is_workday(date(2025, 9, 28))
    assert due(cal, local(2025, 9, 26, 17), 1) == date(2025, 9, 28)
    assert due(cal, local(2025, 9, 30, 10), 1) == date(2025, 10, 9)
    assert due(cal, local(2025, 9, 30, 10), 3) == date(2025, 10, 11)


def test_golden_week_is_not_worked() -> None:
    cal = calendar()
    assert date(2026, 10, 2).weekday() == 4  # a Friday
    assert cal.kind(date(2026, 10, 2)) == "holiday" and not cal.is_working_day(date(2026, 10, 2))
    # Dispatched the eve of National Day: 1-7 Oct off, Thu 8 (1), Fri 9 (2), Sat 10 worked (3).
    assert due(cal, local(2026, 9, 30, 8), 1) == date(2026, 10, 8)
    assert due(cal, local(2026, 9, 30, 8), 3) == date(2026, 10, 10)
    assert cal.kind(date(2026, 10, 10)) == "makeup"


def test_agrees_with_the_package_on_every_covered_day() -> None:
    cal = calendar()
    d, last = date(CHINA.first_year, 1, 1), date(CHINA.last_year, 12, 31)
    while d <= last:
        assert cal.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_the_citys_own_days() -> None:
    cal = calendar(
        holidays=[{"name": "City Day", "start": "2026-11-20", "end": "2026-11-20"}],
        makeup_workdays=["2026-11-22", "2026-10-05"],  # a Sunday; a statutory holiday Monday
    )
    # Thu 19 Nov + 1: Fri 20 is the city's day off, the weekend is not worked: Mon 23.
    assert cal.kind(date(2026, 11, 20)) == "holiday"
    assert due(calendar(), local(2026, 11, 19, 9), 1) == date(2026, 11, 20)
    assert due(
        calendar(holidays=[{"start": "2026-11-20", "end": "2026-11-20"}]),
        local(2026, 11, 19, 9),
        1,
    ) == date(2026, 11, 23)
    # The extra working Sunday counts; so does a statutory holiday the city works.
    assert due(cal, local(2026, 11, 19, 9), 1) == date(2026, 11, 22)
    assert cal.kind(date(2026, 11, 22)) == "makeup"
    assert cal.kind(date(2026, 10, 5)) == "workday"
    assert not cal.is_working_day(date(2026, 10, 6))  # the rest of the week stays off
    # The city's day off beats a statutory adjusted working day.
    off = calendar(holidays=[{"start": "2026-02-14", "end": "2026-02-14"}])
    assert off.kind(date(2026, 2, 14)) == "holiday"


def test_source_none_is_todays_hand_made_calendar() -> None:
    cal = calendar(
        source="none",
        holidays=[{"start": "2026-10-01", "end": "2026-10-07"}],
        makeup_workdays=["2026-10-10"],
    )
    assert cal.statutory is None and cal.covers(1999)
    assert not cal.is_working_day(date(2026, 10, 2))
    assert cal.kind(date(2026, 10, 10)) == "makeup"
    # Nothing statutory: Saturday 14 Feb is a plain Saturday, the Spring Festival worked.
    assert cal.kind(date(2026, 2, 14)) == "rest"
    assert cal.is_working_day(date(2026, 2, 16))


def test_a_year_outside_the_data_falls_back_to_the_weekdays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    year = CHINA.first_year - 1  # 2003: before the data, for good
    cal = calendar(makeup_workdays=[f"{year}-10-04"])
    assert not cal.covers(year)
    with caplog.at_level(logging.WARNING, logger="hotline.core.calendar"):
        # National Day 2003 (1-7 Oct) is unknown here: its weekdays are worked...
        assert cal.is_working_day(date(year, 10, 1))
        assert due(cal, local(year, 9, 30, 9), 1) == date(year, 10, 1)
        assert cal.kind(date(year, 10, 5)) == "rest"  # ...a Sunday is not...
        assert cal.kind(date(year, 10, 4)) == "makeup"  # ...and configured days still apply.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per year met, not once per day
    assert f"for {year}" in warnings[0].getMessage()
    assert CHINA.years in warnings[0].getMessage()


def test_a_deadline_runs_past_the_last_covered_year() -> None:
    # A source cut to 2026 alone: a deadline from New Year's Eve runs into a year it does not
    # cover, where Friday 1 January counts as a plain Friday.
    only_2026 = dataclasses.replace(CHINA, first_year=2026, last_year=2026)
    cal = dataclasses.replace(calendar(), statutory=only_2026)
    assert cal.kind(date(2026, 12, 31)) == "workday" and not cal.covers(2027)
    assert due(cal, local(2026, 12, 31, 9), 1) == date(2027, 1, 1)
    assert due(cal, local(2026, 12, 31, 9), 2) == date(2027, 1, 4)


def test_describe_names_the_years_covered() -> None:
    lines = calendar().describe(date(2026, 6, 1))
    assert f"adjusted working days {CHINA.years} ({CHINA.source})" in lines[0]
    assert not any("WARNING" in line for line in lines)
    late = calendar().describe(date(CHINA.last_year + 1, 1, 5))
    assert f"WARNING: no statutory holidays for {CHINA.last_year + 1}" in late[-1]
    assert calendar(source="none").describe(date(2026, 6, 1)) == [
        "source none: weekdays mon tue wed thu fri; 0 own day(s) off, 0 own working day(s)"
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"source": "moon"}, "Input should be 'china' or 'none'"),
        (
            {"holidays": [{"start": "2026-11-20", "end": "2026-11-20"}]}
            | {"makeup_workdays": ["2026-11-20"]},
            "makeup_workdays[0]: 2026-11-20 is also a holiday",
        ),
        # A plain Tuesday is worked already, whichever the source.
        ({"makeup_workdays": ["2026-03-03"]}, "2026-03-03 is a working weekday already"),
        (
            {"source": "none", "makeup_workdays": ["2026-10-05"]},
            "2026-10-05 is a working weekday already",
        ),
    ],
)
def test_bad_calendar_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CalendarSettings(**settings)


# -- the survey calling window on it (defaults: Mon-Fri 09:00-20:00, weekend 10:00-18:00) ----
def test_survey_window_refuses_a_statutory_holiday() -> None:
    w = CallWindow.from_settings(SurveySettings(holiday_window=None), calendar())
    assert not w.inside(local(2026, 10, 2, 11, 0))  # a Friday of Golden Week
    assert w.hours(date(2026, 10, 2)) is None
    assert w.next_open(local(2026, 10, 2, 11, 0)) == local(2026, 10, 8, 9, 0)
    # With source none and nothing configured, the same Friday is an ordinary one.
    plain = CallWindow.from_settings(SurveySettings(), calendar(source="none"))
    assert plain.inside(local(2026, 10, 2, 11, 0))


def test_survey_window_calls_on_an_adjusted_working_day_like_a_weekday() -> None:
    w = CallWindow.from_settings(SurveySettings(), calendar())
    # Saturday 14 Feb 2026 is worked: Monday's 09:00-20:00, not the weekend's 10:00-18:00.
    assert w.inside(local(2026, 2, 14, 9, 30)) and w.inside(local(2026, 2, 14, 19, 0))
    # A plain Saturday keeps the weekend's hours.
    assert not w.inside(local(2026, 3, 7, 9, 30)) and w.inside(local(2026, 3, 7, 10, 0))
    # The Spring Festival's days off, weekend or not, have none.
    assert w.next_open(local(2026, 2, 14, 20, 0)) == local(2026, 2, 24, 9, 0)
