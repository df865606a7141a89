"""When a survey may ring and what an attempt's end means. Pure: no clock, no I/O.

Times in and out are aware datetimes; the window is judged in the hotline's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from hotline.core.calendar import WorkCalendar
from hotline.surveys.config import WINDOW_DAYS, SurveySettings, parse_window

# Survey statuses. Final ones are never dialled again by the scheduler.
SCHEDULED, CALLING, PAUSED = "scheduled", "calling", "paused"
COMPLETED, UNREACHABLE, NO_RESPONSE = "completed", "unreachable", "no_response"
CANCELLED, SKIPPED, INTERRUPTED = "cancelled", "skipped", "interrupted"
FINAL = (COMPLETED, UNREACHABLE, NO_RESPONSE, CANCELLED, SKIPPED, INTERRUPTED)
STATUSES = (SCHEDULED, CALLING, PAUSED, *FINAL)

RESULTS = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}


@dataclass(frozen=True)
class CallWindow:
    """The calling hours: per weekday, on holidays, on make-up working days (调休)."""

    days: tuple[tuple[time, time] | None, ...]  # index = date.weekday()
    holiday: tuple[time, time] | None
    calendar: WorkCalendar

    @classmethod
    def from_settings(cls, s: SurveySettings, calendar: WorkCalendar) -> CallWindow:
        days = tuple(parse_window(w) if (w := s.window.get(d)) else None for d in WINDOW_DAYS)
        holiday = parse_window(s.holiday_window) if s.holiday_window else None
        return cls(days, holiday, calendar)

    def hours(self, d: date) -> tuple[time, time] | None:
        kind = self.calendar.kind(d)
        if kind == "makeup":  # a weekend day worked (调休): called like a Monday
            return self.days[0]
        if kind == "holiday":  # statutory or the city's own
            return self.holiday
        return self.days[d.weekday()]

    def inside(self, at: datetime) -> bool:
        local = at.astimezone(self.calendar.tz)
        hours = self.hours(local.date())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_open(self, at: datetime) -> datetime:
        """``at`` if the window is open then, else when it next opens (aware, local time)."""
        tz = self.calendar.tz
        local = at.astimezone(tz)
        if self.inside(local):
            return local
        d = local.date()
        for _ in range(3 * 366):
            hours = self.hours(d)
            if hours is not None:
                opens = datetime.combine(d, hours[0], tz)
                if opens >= local:
                    return opens
            d += timedelta(days=1)
        raise ValueError("no calling hours within three years")  # refused by the config

    def closes(self, at: datetime) -> datetime | None:
        """When the window open at ``at`` closes (None if it is closed)."""
        local = at.astimezone(self.calendar.tz)
        hours = self.hours(local.date())
        if hours is None or not hours[0] <= local.time() < hours[1]:
            return None
        return datetime.combine(local.date(), hours[1], self.calendar.tz)


def outcome_of_status(status: int) -> str:
    """The retry outcome of an unanswered call from its final SIP status (as the PBX relays
    the citizen's side: the dialplan maps Dial's result to these codes)."""
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "no_answer"
    if status in (403, 603):
        return "rejected"
    return "failed"  # 404, 484, 5xx: wrong number, route or trunk trouble


@dataclass(frozen=True)
class Next:
    """What becomes of a survey after an attempt."""

    status: str
    next_at: datetime | None = None
    reason: str = ""


def after_attempt(
    s: SurveySettings, window: CallWindow, outcome: str, attempts: int, ended_at: datetime
) -> Next:
    """``outcome``: "answered" (with a result) or a retry outcome; ``attempts`` made so far."""
    if outcome == "answered":
        return Next(COMPLETED)
    if outcome == "interrupted":  # the citizen may have been rung: never again by itself
        return Next(INTERRUPTED, reason="the dialler stopped during the call; not dialled again")
    if attempts >= s.max_attempts:
        if outcome == "no_input":
            return Next(NO_RESPONSE, reason=f"no answer keyed in {attempts} attempt(s)")
        return Next(UNREACHABLE, reason=f"{outcome} at the last of {attempts} attempt(s)")
    minutes = s.retry_minutes.get(outcome, 60.0)  # type: ignore[call-overload]
    return Next(SCHEDULED, window.next_open(ended_at + timedelta(minutes=minutes)))
