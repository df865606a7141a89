"""Fast replays of real calls recorded from the test PBX by
``tests/integration/capture_fixtures.py``.

Each scenario is a pair of files in ``data/``: ``<scenario>.ami``, every AMI event of one real call
as our own AMI session received it, and ``<scenario>.expected.json``, the record the live service
stored for that call. The live service's tracker saw exactly these events (same PBX, same
``Timestamp`` headers), so a fresh ``CallTracker`` fed the file must end the call with the same
record, field by field. A difference is a tracker bug (a dependence on when events arrive, or on
events of other calls), never a reason to loosen the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from telephony.ami.events import AmiEvent
from telephony.ami.protocol import NEED_DATA, AmiProtocol
from telephony.tracker import CallRecord, CallTracker, UpdateKind

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED_SUFFIX = ".expected.json"
# The scenarios capture_fixtures.py records; each must be present (a lost file is a failure).
SCENARIOS = (
    "answered",
    "abandoned",
    "ring_no_answer_then_second_agent",
    "agent_hangs_up_first",
    "transfer",
    "ivr_only",
)
# Every column of CallRow that the tracker fills (the store's own id and updated_at are not).
RECORD_FIELDS = (
    "call_id",
    "caller_number",
    "caller_name",
    "dialled_number",
    "started_at",
    "answered_at",
    "ended_at",
    "queue",
    "queue_joined_at",
    "agent",
    "agent_name",
    "queue_wait",
    "ring_time",
    "talk_time",
    "ended_by",
    "disposition",
    "hangup_cause",
    "recordings",
    "ivr_path",
    "ivr",
    "language",
    "request_kind",
    "variables",
    "resynced",
)
# Times and durations come from the same PBX timestamps on both sides; the store keeps
# microseconds, so a stored time read back as a POSIX float may differ by float rounding only.
FLOAT_TOLERANCE = 1e-6


# Bytes per read when a recording is replayed: small, so messages are cut across reads.
REPLAY_READ = 4096


def read_stream(path: Path) -> list[AmiEvent]:
    """The events of a recorded stream, parsed by the production parser (``AmiProtocol``, as
    ``AmiConnection`` feeds it) from the file's bytes in socket-sized reads; anything but an
    event (a malformed message) fails the test."""
    return parse_stream(path.read_bytes(), path.name)


def parse_stream(data: bytes, name: str = "stream") -> list[AmiEvent]:
    ami = AmiProtocol()
    for start in range(0, len(data), REPLAY_READ):
        ami.receive_data(data[start : start + REPLAY_READ])
    ami.receive_data(b"")
    events: list[AmiEvent] = []
    while (item := ami.next_event()) is not NEED_DATA:
        assert isinstance(item, AmiEvent), f"{name}: not an event: {item!r}"
        events.append(item)
    return events


def replay(tracker: CallTracker, events: Iterable[AmiEvent]) -> dict[str, CallRecord]:
    """Feed ``events`` in order; the records of the calls that ended, by call_id."""
    out: dict[str, CallRecord] = {}
    for ev in events:
        for update in tracker.feed(ev):
            if update.kind is UpdateKind.ENDED:
                out[update.record.call_id] = update.record
    return out


def record_fields(rec: CallRecord) -> dict[str, Any]:
    """A tracker record as the store would keep it (the disposition as its text)."""
    out = {name: getattr(rec, name) for name in RECORD_FIELDS}
    out["disposition"] = rec.disposition.value if rec.disposition is not None else None
    return out


def differences(expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """One line per field that differs: ``field: live X, replay Y``."""
    out: list[str] = []
    for name in RECORD_FIELDS:
        want, have = expected.get(name), got.get(name)
        want_n, have_n = _number(want), _number(have)
        if want_n is not None and have_n is not None:
            same = abs(want_n - have_n) <= FLOAT_TOLERANCE
        else:
            same = want == have
        if not same:
            out.append(f"{name}: live {want!r}, replay {have!r}")
    return out


def _number(value: object) -> float | None:
    """A time or duration as a float (JSON may give 3 for 3.0); None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def load_expected(scenario: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (DATA / f"{scenario}{EXPECTED_SUFFIX}").read_text(encoding="utf-8")
    )
    return data


def recorded_scenarios() -> list[str]:
    return sorted(p.name.removesuffix(EXPECTED_SUFFIX) for p in DATA.glob(f"*{EXPECTED_SUFFIX}"))


def test_every_scenario_is_recorded() -> None:
    found = set(recorded_scenarios())
    assert set(SCENARIOS) <= found, f"missing fixtures: {sorted(set(SCENARIOS) - found)}"
    for scenario in found:
        assert (DATA / f"{scenario}.ami").is_file(), f"{scenario}.ami is missing"


@pytest.mark.parametrize("scenario", recorded_scenarios())
def test_replay_gives_the_live_records(scenario: str) -> None:
    expected = load_expected(scenario)
    events = read_stream(DATA / f"{scenario}.ami")
    want = {r["call_id"]: r for r in expected["records"]}
    # The file holds the scenario's calls and nothing else (capture filters by Linkedid).
    assert {e.get("Linkedid") for e in events} == set(want)
    assert set(want[next(iter(want))]) == set(RECORD_FIELDS)

    got = replay(CallTracker(), events)
    assert set(got) == set(want), "the replay ended other calls than the live run"
    problems = [
        f"{call_id} {line}"
        for call_id, record in want.items()
        for line in differences(record, record_fields(got[call_id]))
    ]
    assert not problems, f"{scenario}: replay differs from the live record:\n" + "\n".join(problems)


@pytest.mark.parametrize("scenario", recorded_scenarios())
def test_replaying_twice_changes_nothing(scenario: str) -> None:
    events = read_stream(DATA / f"{scenario}.ami")
    once = replay(CallTracker(), events)
    assert once  # the stream ends its call(s); otherwise the comparisons below prove nothing

    # Every event delivered twice in a row (e.g. a duplicated delivery).
    assert replay(CallTracker(), [e for ev in events for e in (ev, ev)]) == once

    # The whole stream again after the calls ended: nothing reopens, nothing new comes out.
    tracker = CallTracker()
    assert replay(tracker, events) == once
    assert [u for ev in events for u in tracker.feed(ev)] == []
    assert tracker.active == []


@pytest.mark.parametrize(
    "scenario", ["answered", "agent_hangs_up_first", "ring_no_answer_then_second_agent"]
)
def test_record_is_right_without_agentcomplete(scenario: str) -> None:
    """AgentComplete is missing in some hang-up paths: the bridge and hang-up timings alone must
    give the same wait and talk (cross-checked against the live record, which had it)."""
    events = [e for e in read_stream(DATA / f"{scenario}.ami") if e.name != "AgentComplete"]
    assert len(events) < len(read_stream(DATA / f"{scenario}.ami"))  # there was one to drop
    (rec,) = replay(CallTracker(), events).values()
    (expected,) = load_expected(scenario)["records"]
    got = record_fields(rec)
    for name in ("disposition", "queue", "agent", "answered_at", "queue_wait"):
        assert differences({name: expected[name]}, {name: got[name]}) == [], name
    # The talk ends at the first BridgeLeave/Hangup instead of AgentComplete's own stamp: the
    # same moment to within a few milliseconds on the PBX clock.
    assert abs(got["talk_time"] - expected["talk_time"]) < 0.05
    assert got["ended_by"] == expected["ended_by"]
