"""The rule: no test depends on the date, weekday or hour it runs (testkit/clock.py).

Checked here: test code does not read the machine's clock (``datetime.now()``,
``date.today()``, ``time.time()``...) to build what it expects, but takes its "now" from
``frozen_now``/``fixed_now`` and injects it. A read of the real clock is allowed on a line
marked ``# real time: <why>``, or in the modules below, whose parts run in real time by
nature (the PBX's call timings, the job queue's workers and leases, ``hotline`` processes).
And the frozen instants keep their promise: a Thursday, a Sunday night, a Monday morning, a
Saturday, a month's end, a local day that UTC still calls yesterday.
"""

from __future__ import annotations

import ast
from datetime import UTC, timedelta
from pathlib import Path

from testkit.clock import INSTANTS, SHANGHAI, label

TESTS = Path(__file__).resolve().parents[1]  # both tiers
MARK = "# real time"
# Modules whose tests measure real calls, real workers or real processes against the real
# clock (time.time() beside the PBX's event times, jobs due "now" for workers that poll in
# real time). Their expectations hold at any date.
REAL_TIME_MODULES = {
    "test_call_records.py": "call timings against the PBX's real event times",
    "test_metrics_calls.py": "metrics of real calls, bracketed by the real clock",
    "test_multi_pbx.py": "records of real calls on several PBXes, bracketed by the real clock",
    "test_ivr_calls.py": "the session service's IVR checks overdue tickets on the real clock",
    "test_jobs.py": "transcription jobs: workers claim what is due in real time",
    "test_transcription_jobs.py": "transcription jobs: workers, leases and retries in real time",
    "test_redis_workers.py": "worker processes on Redis: leases and heartbeats in real time",
    "test_surveys_redis.py": "survey worker processes record their attempts in real time",
}
REAL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
}


def real_clock_reads(path: Path) -> list[str]:
    """``file:line: code`` of each unmarked read of the real clock in ``path``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in REAL_CLOCK:
            span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            if not any(MARK in line for line in span):
                found.append(f"{path.name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_tests_take_now_from_the_frozen_clock() -> None:
    modules = sorted(p for p in TESTS.rglob("*.py") if p.name not in REAL_TIME_MODULES)
    found = [hit for path in modules for hit in real_clock_reads(path)]
    assert not found, (
        "tests read the machine's clock: take `frozen_now` (fast tests, each instant) or "
        "`fixed_now` (slow ones) from tests/conftest.py and inject it (clock=...), or mark the "
        f"line `{MARK}: <why>` if real time is the point:\n" + "\n".join(found)
    )
    names = {p.name for p in TESTS.rglob("*.py")}
    assert set(REAL_TIME_MODULES) <= names  # none left stale


def test_the_checker_sees_a_read(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from datetime import UTC, date, datetime\nimport time\n"
        "a = datetime.now(UTC)\nb = date.today()\nc = time.time()  # real time: timing\n"
        'd = datetime.fromisoformat("2026-12-10T19:30:00+08:00")\n',
        encoding="utf-8",
    )
    assert [hit.split(":")[1] for hit in real_clock_reads(probe)] == ["3", "4"]


def test_the_instants_cover_the_awkward_times() -> None:
    local = [at.astimezone(SHANGHAI) for at in INSTANTS]
    weekdays = {at.weekday() for at in local}
    assert {0, 3, 5, 6} <= weekdays  # Monday, Thursday, Saturday, Sunday
    assert any(at.weekday() == 6 and at.hour >= 22 for at in local)  # Sunday night
    assert any(at.weekday() == 3 and at.hour >= 17 for at in local)  # Thursday evening
    assert any((at + timedelta(days=1)).day == 1 for at in local)  # a month's last day
    assert any(at.date() != at.astimezone(UTC).date() for at in local)  # yesterday in UTC
    assert len({label(at) for at in INSTANTS}) == len(INSTANTS)  # distinct test ids
