"""Working-day arithmetic for deadlines: weekdays worked, public holidays, make-up days (调休).

Pure: no clock, no database. A deadline of N working days, counted from a moment ``at``, falls
at ``day_end`` (local time) on the N-th working day after ``at``'s local date. The day of
``at`` itself never counts, working day or not: a ticket dispatched at 17:55 on Friday gets the
same deadline as one dispatched at 09:00 that day, and one dispatched on a Sunday starts
counting on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hotline.tickets.config import WEEKDAYS, CalendarSettings

_MAX_SEARCH = 3 * 366  # days; a calendar with no working day at all is refused by the config


@dataclass(frozen=True)
class WorkCalendar:
    weekdays: frozenset[int]  # date.weekday() numbers worked
    holidays: frozenset[date]
    makeup: frozenset[date]
    day_end: time
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, cal: CalendarSettings, tz: ZoneInfo) -> WorkCalendar:
        return cls(
            weekdays=frozenset(WEEKDAYS.index(d) for d in cal.weekdays),
            holidays=frozenset(d for h in cal.holidays for d in h.days()),
            makeup=frozenset(cal.makeup_workdays),
            day_end=cal.end_of_day,
            tz=tz,
        )

    def is_working_day(self, d: date) -> bool:
        if d in self.makeup:
            return True
        return d.weekday() in self.weekdays and d not in self.holidays

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
