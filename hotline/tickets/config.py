"""The ``tickets:`` section of the configuration: departments, categories, the working calendar.

Kinds, channels and statuses are fixed by the domain (see ``lifecycle.py``); the taxonomy a
centre uses (which categories, which department handles them, in how many working days) and
its calendar are data.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from telephony.settings import Strict

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()


def _check_id(v: str) -> str:
    if not _ID.match(v):
        raise ValueError("id must be lower-case letters, digits and _ (1 to 40, a letter first)")
    return v


class Department(Strict):
    """A unit that receives dispatched tickets (70+ in a real city, in four levels)."""

    id: str
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    level: Literal["city", "district", "street", "community"]

    _id = field_validator("id")(_check_id)


class Category(Strict):
    """A topic of requests: who handles it by default and its deadline in working days."""

    id: str
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    department: str
    deadline_days: int = Field(ge=1, le=60)

    _id = field_validator("id")(_check_id)


class Holiday(Strict):
    """Public holiday days, ``start`` to ``end`` inclusive (weekend days inside may be listed)."""

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
    """Which days count as working days for deadlines."""

    weekdays: list[str] = ["mon", "tue", "wed", "thu", "fri"]
    holidays: list[Holiday] = []
    # 调休: a weekend day declared a working day (the make-up for a long holiday).
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
        for i, d in enumerate(self.makeup_workdays):
            if d in off:
                raise ValueError(f"makeup_workdays[{i}]: {d} is also a holiday")
            if WEEKDAYS[d.weekday()] in self.weekdays:
                raise ValueError(f"makeup_workdays[{i}]: {d} is a working weekday already")
        return self

    @property
    def end_of_day(self) -> time:
        return time.fromisoformat(self.day_end)


class TicketSettings(Strict):
    departments: list[Department] = []
    categories: list[Category] = []
    calendar: CalendarSettings = CalendarSettings()

    @model_validator(mode="after")
    def _references(self) -> TicketSettings:
        lists = {
            "departments": [d.id for d in self.departments],
            "categories": [c.id for c in self.categories],
        }
        for name, ids in lists.items():
            seen: set[str] = set()
            for i, item_id in enumerate(ids):
                if item_id in seen:
                    raise ValueError(f"{name}[{i}].id: duplicate id {item_id!r}")
                seen.add(item_id)
        known = {d.id for d in self.departments}
        for i, c in enumerate(self.categories):
            if c.department not in known:
                raise ValueError(
                    f"categories[{i}].department: category {c.id!r} names unknown department "
                    f"{c.department!r}"
                )
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)
