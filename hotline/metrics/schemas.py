"""The metrics API's response (the MetricsService's figures; definitions in formulas.py)."""

from __future__ import annotations

from pydantic import BaseModel

Figures = dict[str, float | int | None]  # offered, answered, ..., asa, aht, service_level, ...


class OccupancyOut(BaseModel):
    logged_in_s: float
    paused_s: float
    talk_s: float
    wrap_up_s: float
    occupancy: float | None  # (talk + wrap-up) / (logged in - paused)


class MetricsOut(BaseModel):
    since: str  # ISO 8601
    until: str
    timezone: str
    short_abandon_seconds: float
    service_level_seconds: float
    pbx: str | None  # only this PBX's calls
    groups: dict[str, dict[str, Figures]]  # group → key (agent, queue, hour, ...) → figures
    occupancy: dict[str, OccupancyOut]  # per agent id
