"""``callers:``: callers' regions by number prefix, repeat-call window, history length."""

from __future__ import annotations

from pydantic import Field, field_validator

from telephony.settings import Strict


class RegionRule(Strict):
    """Numbers starting with ``prefix`` (digits, as the PBX presents them) come from ``region``."""

    prefix: str = Field(min_length=1, max_length=16, pattern=r"^\+?[0-9]+$")
    region: str = Field(min_length=1, max_length=64)


class CallerSettings(Strict):
    """``callers:``. The longest matching prefix wins; a number no rule matches is of an
    unknown region (counted apart, never as out of town)."""

    home_region: str = "local"
    regions: tuple[RegionRule, ...] = ()
    # A call is a repeat when the same number had a ticket of the same category (or, before
    # a category is known, of the same request kind) within this many days.
    repeat_window_days: int = Field(30, ge=1, le=366)
    history_limit: int = Field(10, ge=1, le=100)

    @field_validator("regions")
    @classmethod
    def _unique(cls, v: tuple[RegionRule, ...]) -> tuple[RegionRule, ...]:
        seen: dict[str, str] = {}
        for rule in v:
            if rule.prefix in seen and seen[rule.prefix] != rule.region:
                raise ValueError(
                    f"prefix {rule.prefix} is given to both {seen[rule.prefix]} and {rule.region}"
                )
            seen[rule.prefix] = rule.region
        return v
