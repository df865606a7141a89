"""The ``tickets:`` section of the configuration: departments, categories, the working calendar.

Kinds, channels and statuses are fixed by the domain (see ``lifecycle.py``); the taxonomy a
centre uses (which categories, which department handles them, in how many working days) and
its calendar are data. The calendar's settings live with the calendar (``hotline.core.calendar``:
surveys use it too); the section keeps its key, ``tickets.calendar``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from hotline.core.calendar import CalendarSettings
from telephony.settings import Strict

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


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
