"""Drafts that learn from the desk: per ticket field, what the agent did with the system's
suggestion when saving the ticket (accepted as it was, changed, emptied, or added where the
draft had none). Pure: the ticket service records the outcomes in the same transaction as the
ticket; the reports count them per field.

The fields are those the agent page fills from a draft (``SUGGESTED`` in
``hotline/screenpop/static/agent.html``): kind, category, location, description (the summary).
Phones, dates and urgency are shown as evidence only and the department follows the category,
so the agent never accepts or changes them on the form. Only the first save counts: the
outcomes are written when the ticket is created, never by a later edit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

DRAFT_FIELDS = ("kind", "category", "location", "callback_number", "description")
# Taxonomy ids, no personal data: their values are kept with the outcome. Location and
# description are the caller's words (addresses, names, numbers): only the outcome is kept.
VALUE_FIELDS = frozenset({"kind", "category"})
OUTCOMES = ("accepted", "changed", "emptied", "added")
Outcome = Literal["accepted", "changed", "emptied", "added"]


@dataclass(frozen=True)
class ShownDraft:
    """The draft as the agent's form showed it: the system's suggestions (a field without
    one: None) and what the form held before them (the IVR's kind, an earlier ticket's
    category, ...)."""

    suggested: Mapping[str, str | None]
    prefilled: Mapping[str, str | None]


@dataclass(frozen=True)
class FieldOutcome:
    field: str
    outcome: Outcome
    draft_value: str | None  # only for VALUE_FIELDS
    saved_value: str | None  # only for VALUE_FIELDS


def normalise(value: object) -> str:
    """Whitespace runs to one space, trimmed, case folded: "Hu Bei  Road" == "hu bei road"."""
    if value is None:
        return ""
    return " ".join(str(value).split()).casefold()


def compare(
    suggested: Mapping[str, str | None],
    saved: Mapping[str, object],
    prefilled: Mapping[str, str | None] | None = None,
) -> list[FieldOutcome]:
    """The outcome of each draft field. ``suggested``: the draft's values as the page showed
    them (a field the draft left empty: None or absent); ``saved``: the ticket as stored;
    ``prefilled``: what the form held without a suggestion (the IVR's kind, an earlier
    ticket's category) — a saved value equal to it was not typed by the agent, so it is no
    ``added``. No outcome when the draft and the saved ticket are both empty."""
    out: list[FieldOutcome] = []
    for name in DRAFT_FIELDS:
        draft, kept = normalise(suggested.get(name)), normalise(saved.get(name))
        outcome: Outcome | None
        if draft:
            outcome = "accepted" if draft == kept else "changed" if kept else "emptied"
        elif kept and kept != normalise((prefilled or {}).get(name)):
            outcome = "added"
        else:
            outcome = None
        if outcome is None:
            continue
        keep = name in VALUE_FIELDS
        out.append(
            FieldOutcome(
                name,
                outcome,
                _text(suggested.get(name)) if keep else None,
                _text(saved.get(name)) if keep else None,
            )
        )
    return out


def rate(counts: Mapping[str, int]) -> float | None:
    """accepted / (accepted + changed + emptied): how often a suggestion was kept; ``added``
    (no suggestion) is not in it. None without any suggestion."""
    shown = sum(counts.get(k, 0) for k in ("accepted", "changed", "emptied"))
    return counts.get("accepted", 0) / shown if shown else None


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


@dataclass(frozen=True)
class Week:
    """One ISO week of a period: its Monday (local date) and the part of the period in it,
    [since, until) — a week cut by the period's edges has only the period's days."""

    monday: date
    since: datetime
    until: datetime


def weeks(since: datetime, until: datetime, tz: tzinfo) -> list[Week]:
    """The ISO weeks (from Monday 00:00 local time in ``tz``) that [since, until) touches, in
    order. The edges are local midnights, so a week is 7 local days whatever the zone's
    daylight saving does."""
    out: list[Week] = []
    first = since.astimezone(tz).date()
    monday = first - timedelta(days=first.weekday())
    start = since
    while start < until:
        nxt = monday + timedelta(days=7)
        end = min(until, datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz))
        out.append(Week(monday, start, end))
        monday, start = nxt, end
    return out
