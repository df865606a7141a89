"""What the agent did with each drafted field at the ticket's first save (accepted, changed,
emptied, added) and the acceptance rate: the pure comparison of hotline/tickets/acceptance.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from hotline.tickets.acceptance import FieldOutcome, compare, normalise, rate, weeks

DRAFT = {
    "kind": "complaint",
    "category": "street_lighting",
    "location": "湖北路 5 号",
    "description": "路灯不亮 三天了",
}


def outcomes(found: list[FieldOutcome]) -> dict[str, str]:
    return {o.field: o.outcome for o in found}


def test_kept_changed_emptied() -> None:
    saved = {
        "kind": "complaint",
        "category": "noise",
        "location": "",
        "description": " 路灯不亮  三天了 ",  # only whitespace differs: as drafted
    }
    found = compare(DRAFT, saved)
    assert outcomes(found) == {
        "kind": "accepted",
        "category": "changed",
        "location": "emptied",
        "description": "accepted",
    }
    by_field = {o.field: o for o in found}
    # Taxonomy ids are kept with the outcome ...
    assert (by_field["category"].draft_value, by_field["category"].saved_value) == (
        "street_lighting",
        "noise",
    )
    # ... the caller's words never are.
    assert by_field["location"].draft_value is None and by_field["location"].saved_value is None
    assert by_field["description"].draft_value is None
    assert by_field["description"].saved_value is None


def test_case_and_whitespace_do_not_count_as_a_change() -> None:
    assert normalise("  Hubei   Road\n5 ") == normalise("hubei road 5") == "hubei road 5"
    found = compare({"location": "Hubei Road 5"}, {"location": "hubei  road 5"})
    assert outcomes(found) == {"location": "accepted"}


def test_added_where_the_draft_had_nothing_and_nothing_when_both_empty() -> None:
    found = compare({"kind": None, "location": ""}, {"kind": None, "location": "Renmin Road"})
    assert outcomes(found) == {"location": "added"}
    assert found[0].saved_value is None  # a location: no value kept


def test_the_forms_own_prefill_is_not_added_by_the_agent() -> None:
    """Without a suggestion, a kind equal to the IVR's (already on the form) is no ``added``;
    another one is."""
    prefilled = {"kind": "consultation", "category": None}
    assert compare({}, {"kind": "consultation"}, prefilled) == []
    found = compare({}, {"kind": "complaint"}, prefilled)
    assert found == [FieldOutcome("kind", "added", None, "complaint")]


def test_other_fields_are_ignored() -> None:
    """Only the fields the agent page fills from a draft; never a phone number."""
    found = compare({**DRAFT, "phones": "13900000001"}, {**DRAFT, "caller_number": "139"})
    assert {o.field for o in found} == {"kind", "category", "location", "description"}
    assert all("139" not in str(o) for o in found)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"accepted": 3, "changed": 1, "emptied": 0, "added": 5}, 0.75),
        ({"accepted": 0, "changed": 1, "emptied": 1}, 0.0),
        ({"added": 2}, None),  # no suggestion shown: no rate
        ({}, None),
    ],
)
def test_rate(counts: dict[str, int], expected: float | None) -> None:
    assert rate(counts) == expected


def test_weeks_start_on_local_mondays_and_are_cut_by_the_period() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    since = datetime(2026, 11, 1, tzinfo=shanghai)  # a Sunday
    until = datetime(2026, 12, 1, tzinfo=shanghai)  # a Tuesday
    found = weeks(since, until, shanghai)
    assert [w.monday for w in found] == [
        date(2026, 10, 26),
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    assert (found[0].since, found[0].until) == (since, datetime(2026, 11, 2, tzinfo=shanghai))
    assert (found[-1].since, found[-1].until) == (datetime(2026, 11, 30, tzinfo=shanghai), until)
    assert all(a.until == b.since for a, b in pairwise(found))
    # A whole week is one week; a day is one week.
    monday = datetime(2026, 11, 2, tzinfo=shanghai)
    assert len(weeks(monday, datetime(2026, 11, 9, tzinfo=shanghai), shanghai)) == 1
    assert len(weeks(monday, datetime(2026, 11, 3, tzinfo=shanghai), shanghai)) == 1


def test_a_week_is_seven_local_days_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks back on Sunday 2026-10-25
    since = datetime(2026, 10, 19, tzinfo=berlin)
    found = weeks(since, datetime(2026, 11, 2, tzinfo=berlin), berlin)
    assert [w.until for w in found] == [
        datetime(2026, 10, 26, tzinfo=berlin),
        datetime(2026, 11, 2, tzinfo=berlin),
    ]
    hours = (found[0].until.astimezone(UTC) - found[0].since.astimezone(UTC)) / timedelta(hours=1)
    assert hours == 7 * 24 + 1  # the hour the clocks went back
