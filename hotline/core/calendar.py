"""Working days: China's statutory holidays and adjusted working days (调休), the city's own.

One calendar for ticket deadlines and the survey calling window. Pure: no clock, no database;
the statutory days are the ``chinesecalendar`` package's data, read once when a calendar is
built. A day is, first match wins:

1. one of the configured ``makeup_workdays`` → worked;
2. one of the configured ``holidays`` (the city's own days off) → a holiday;
3. with ``source: china``, a statutory adjusted working day → worked, a statutory holiday →
   a holiday;
4. else worked if its weekday is one of ``weekdays``.

A year the statutory data does not cover (the package is published each year once the State
Council has announced the next one, usually in November) counts by rules 1, 2 and 4 alone, and
the calendar logs a warning the first time it meets that year: the service keeps running and
the operator can list that year's days in the configuration until the package is upgraded.

A deadline of N working days, counted from a moment ``at``, falls at ``day_end`` (local time)
on the N-th working day after ``at``'s local date. The day of ``at`` itself never counts,
working day or not: a ticket dispatched at 17:55 on Friday gets the same deadline as one
dispatched at 09:00 that day, and one dispatched on a Sunday starts counting on Monday.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import Field, field_validator, model_validator

from telephony.settings import Strict

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_MAX_SEARCH = 3 * 366  # days; a calendar with no working day at all is refused by the config

# What a day is: worked on its weekday (``workday``), a weekend day worked instead of a holiday
# (``makeup``), a statutory or configured day off (``holiday``), a plain day of rest (``rest``).
DayKind = Literal["workday", "makeup", "holiday", "rest"]


@dataclass(frozen=True)
class Statutory:
    """A country's published holidays and adjusted working days, for the years its data covers."""

    source: str  # e.g. "chinesecalendar 1.11.0", for messages
    first_year: int
    last_year: int
    holidays: frozenset[date]  # every day off of a holiday period, weekend days included
    workdays: frozenset[date]  # days worked that the week would leave off (调休)

    @classmethod
    def china(cls) -> Statutory:
        # The package is untyped: its tables map each date to the holiday's name.
        holidays: frozenset[date] = frozenset(chinese_calendar.holidays)
        workdays: frozenset[date] = frozenset(chinese_calendar.workdays)
        version: str = chinese_calendar.__version__
        # The package's own range check (it raises NotImplementedError outside it): the years
        # from its first holiday to its last.
        first, last = min(holidays).year, max(holidays).year
        return cls(f"chinesecalendar {version}", first, last, holidays, workdays)

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    @property
    def years(self) -> str:
        return f"{self.first_year}-{self.last_year}"


class Holiday(Strict):
    """Days off, ``start`` to ``end`` inclusive (weekend days inside may be listed)."""

    name: str = ""
    start: date
    end: date

    @model_validator(mode="after")
    def _order(self) -> Holiday:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    def days(self) -> list[date]:
        first, last = self.start.toordinal(), self.end.toordinal()
        return [date.fromordinal(o) for o in range(first, last + 1)]


class CalendarSettings(Strict):
    """Which days are worked (``tickets.calendar``: deadlines count them, the survey window
    tells holidays and make-up days by them)."""

    # china: the statutory holidays and 调休 of chinesecalendar; none: the weekdays alone.
    source: Literal["china", "none"] = "china"
    weekdays: list[str] = ["mon", "tue", "wed", "thu", "fri"]
    # The city's own days off, on top of the source's.
    holidays: list[Holiday] = []
    # Extra working days, on top of the source's (with source none: the 调休 listed by hand).
    makeup_workdays: list[date] = []
    # A deadline falls due at this local time of its last working day ("HH:MM", quoted in
    # YAML: an unquoted 18:00 is read as the number 1080).
    day_end: str = Field("18:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekday(s) {bad}; use {', '.join(WEEKDAYS)}")
        if not v:
            raise ValueError("at least one weekday must be a working day")
        if len(set(v)) != len(v):
            raise ValueError("a weekday is listed twice")
        return v

    @model_validator(mode="after")
    def _makeup(self) -> CalendarSettings:
        off = {d for h in self.holidays for d in h.days()}
        statutory = self.statutory()
        for i, d in enumerate(self.makeup_workdays):
            if d in off:
                raise ValueError(f"makeup_workdays[{i}]: {d} is also a holiday")
            if WEEKDAYS[d.weekday()] not in self.weekdays:
                continue  # a day of rest made a working day: what the list is for
            # A working weekday listed is a mistake, unless the statutory calendar gives it off
            # (or cannot tell: a year its data does not cover).
            if statutory is None or (statutory.covers(d.year) and d not in statutory.holidays):
                raise ValueError(f"makeup_workdays[{i}]: {d} is a working weekday already")
        return self

    @property
    def end_of_day(self) -> time:
        return time.fromisoformat(self.day_end)

    def statutory(self) -> Statutory | None:
        return Statutory.china() if self.source == "china" else None


@dataclass(frozen=True)
class WorkCalendar:
    weekdays: frozenset[int]  # date.weekday() numbers worked
    day_end: time
    tz: ZoneInfo
    days_off: frozenset[date] = frozenset()  # configured: the city's own
    extra_workdays: frozenset[date] = frozenset()  # configured
    statutory: Statutory | None = None  # None: the weekdays and the configured days alone
    # Years met that the statutory data does not cover, each warned about once.
    _uncovered: set[int] = field(default_factory=set, init=False, repr=False, compare=False)

    @classmethod
    def from_settings(cls, cal: CalendarSettings, tz: ZoneInfo) -> WorkCalendar:
        return cls(
            weekdays=frozenset(WEEKDAYS.index(d) for d in cal.weekdays),
            day_end=cal.end_of_day,
            tz=tz,
            days_off=frozenset(d for h in cal.holidays for d in h.days()),
            extra_workdays=frozenset(cal.makeup_workdays),
            statutory=cal.statutory(),
        )

    def covers(self, year: int) -> bool:
        """Whether ``year`` counts with the statutory days (always, without a source)."""
        return self.statutory is None or self.statutory.covers(year)

    def kind(self, d: date) -> DayKind:
        on_week = d.weekday() in self.weekdays
        if d in self.extra_workdays:
            return "workday" if on_week else "makeup"
        if d in self.days_off:
            return "holiday"
        if self.statutory is not None:
            if self.statutory.covers(d.year):
                if d in self.statutory.workdays:
                    return "workday" if on_week else "makeup"
                if d in self.statutory.holidays:
                    return "holiday"
            elif d.year not in self._uncovered:
                self._uncovered.add(d.year)
                log.warning(
                    "tickets.calendar: %s has no statutory holidays for %d (it covers %s): "
                    "%d counts the weekdays and the configured holidays and makeup_workdays "
                    "only; upgrade it or list %d's days in the configuration",
                    self.statutory.source,
                    d.year,
                    self.statutory.years,
                    d.year,
                    d.year,
                )
        return "workday" if on_week else "rest"

    def is_working_day(self, d: date) -> bool:
        return self.kind(d) in ("workday", "makeup")

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
        d, counted = start, 0
        for _ in range(_MAX_SEARCH):
            if counted == days:
                return d
            d += timedelta(days=1)
            if self.is_working_day(d):
                counted += 1
        raise ValueError(f"no {days} working days within {_MAX_SEARCH} days of {start}")

    def deadline(self, at: datetime, days: int) -> datetime:
        """When a ticket handled in ``days`` working days from ``at`` falls due (aware, local)."""
        local = at.astimezone(self.tz).date()
        return datetime.combine(self.add_working_days(local, days), self.day_end, self.tz)

    def describe(self, today: date) -> list[str]:
        """What ``hotline config check`` says of the calendar; ``today``: the local date, to
        warn when the current year is not covered."""
        week = " ".join(WEEKDAYS[i] for i in sorted(self.weekdays))
        own = (
            f"weekdays {week}; {len(self.days_off)} own day(s) off, "
            f"{len(self.extra_workdays)} own working day(s)"
        )
        if self.statutory is None:
            return [f"source none: {own}"]
        s = self.statutory
        lines = [
            f"source china: statutory holidays and adjusted working days {s.years} ({s.source})",
            f"{own}; years outside {s.years}: the weekdays and own days only",
        ]
        if not s.covers(today.year):
            lines.append(
                f"WARNING: no statutory holidays for {today.year}: upgrade chinesecalendar or "
                f"list {today.year}'s days in tickets.calendar"
            )
        return lines
