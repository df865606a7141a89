"""Metrics from the store's per-hour sums, on SQLite and PostgreSQL: a hand-computed day
(wrap-up, breaks, partial hours, a late record, a threshold change) and random traffic
checked against a plain reference computed here from the same calls and agent events."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, bindparam, func, select, text

from hotline.agents.store import AgentStore
from hotline.agents.time import rebuild
from hotline.app.settings import Settings
from hotline.callers.config import CallerSettings, RegionRule
from hotline.callers.history import RegionRules
from hotline.calls.store import CallStore
from hotline.core.errors import Invalid
from hotline.db.engine import make_engine, migrate
from hotline.db.models import AgentHourRow, AgentSegmentRow, CallHourMark, CallRow, UtcDateTime
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from telephony.tracker import CallRecord, Disposition

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second).astimezone(UTC)


def call(
    call_id: str,
    start: datetime,
    wait: float | None,
    talk: float | None,
    agent: str | None = None,
    *,
    queue: str | None = "operator",
    kind: str = "consultation",
    language: str = "zh",
) -> CallRecord:
    t0 = start.timestamp()
    answered = talk is not None
    if queue is None:
        disposition = Disposition.SELF_SERVICE
    else:
        disposition = Disposition.ANSWERED if answered else Disposition.ABANDONED
    return CallRecord(
        call_id=call_id,
        caller_number="13900000000",
        dialled_number="12345",
        started_at=t0,
        queue=queue,
        queue_joined_at=t0 if queue else None,
        answered_at=t0 + (wait or 0) if answered else None,
        ended_at=t0 + (wait or 0) + (talk or 0) + 1,
        agent=agent if answered else None,
        queue_wait=wait,
        talk_time=talk,
        disposition=disposition,
        language=language,
        request_kind=kind,
    )


def settings(sl: float = 20.0) -> Settings:
    return Settings.model_validate({"service_level_seconds": sl})


def metrics(engine: Engine, since: datetime, until: datetime, **kw: Any) -> dict[str, Any]:
    return MetricsService(settings(**kw).metrics_config(), MetricsStore(engine)).compute(
        since, until, ["total", "agent", "hour"]
    )


def test_hand_computed_day(engine: Engine) -> None:
    agents, calls = AgentStore(engine), CallStore(engine)
    agents.upsert("a1", name="A One", extension="1001", roles=["agent"], skills={})

    def state(
        event: str,
        when: datetime,
        paused: bool = False,
        reason: str | None = None,
        call: str | None = None,
    ) -> None:
        ext = None if event == "logout" else "1001"
        agents.set_session(
            "a1", event=event, extension=ext, paused=paused, reason=reason, call=call, now=when
        )

    state("login", at(9, 30))
    calls.save(call("r1", at(9, 40), 10.0, 60.0, "1001"))
    state("pause", at(9, 41, 11), True, "wrap-up", call="r1")  # 30 s on r1
    state("unpause", at(9, 41, 41))
    state("pause", at(10, 0), True, "break")
    state("unpause", at(10, 15))
    calls.save_many(
        [
            call("r3", at(10, 20), 40.0, None),  # abandoned after 40 s
            call("r4", at(10, 21), 2.0, None),  # a short abandon
            call("r5", at(10, 22), None, None, queue=None),  # IVR self-service: not offered
            call("r2", at(10, 50), 30.0, 120.0, "1001", kind="complaint"),
        ]
    )
    # A wrap-up the desk did not tie to a call goes on the extension's latest answered call.
    state("pause", at(10, 53, 1), True, "wrap-up")
    state("unpause", at(10, 53, 21))  # 20 s on r2
    state("logout", at(11, 10))
    now = at(23, 0)
    store = MetricsStore(engine)

    def compute(since: datetime, until: datetime, sl: float = 20.0) -> dict[str, Any]:
        service = MetricsService(settings(sl).metrics_config(), store)
        return service.compute(since, until, ["total", "agent", "hour"], now)

    day = compute(at(0), at(23))
    total = day["groups"]["total"]["total"]
    assert (total["offered"], total["answered"], total["abandoned"]) == (4, 2, 2)
    assert total["short_abandons"] == 1
    assert total["asa"] == 20.0  # (10 + 30) / 2
    assert total["aht"] == 115.0  # (60 + 30 + 120 + 20) / 2
    assert total["service_level"] == round(1 / 3, 4)  # r1 within 20 s / (4 - 1 short)
    assert total["abandonment_rate"] == 0.5
    assert set(day["groups"]["hour"]) == {"2026-11-20 09:00", "2026-11-20 10:00"}
    occ = day["occupancy"]["a1"]
    # Logged in 09:30-11:10 (6000 s), a 900 s break, 50 s of wrap-up, 180 s of talk.
    assert (occ["logged_in_s"], occ["paused_s"], occ["wrap_up_s"], occ["talk_s"]) == (
        6000.0,
        900.0,
        50.0,
        180.0,
    )
    assert occ["occupancy"] == round(230 / 5100, 4)

    # Whole hours 01:00..21:00 were summed into call_hours; the answer is the same from them.
    with engine.connect() as conn:
        built = conn.scalar(select(func.count()).select_from(CallHourMark))
    assert built == 22  # 00:00-22:00 local: 22:00-23:00 is not over by 23:00 + grace
    assert compute(at(0), at(23)) == day

    # Partial hours at both ends: 09:35-10:55 has every call but clips the agent's time.
    part = compute(at(9, 35), at(10, 55))
    assert part["groups"]["total"] == day["groups"]["total"]
    occ = part["occupancy"]["a1"]
    assert (occ["logged_in_s"], occ["paused_s"], occ["wrap_up_s"]) == (4800.0, 900.0, 50.0)
    inner = compute(at(9, 45), at(10, 30))
    assert inner["groups"]["total"]["total"]["offered"] == 2  # r3, r4
    assert inner["occupancy"]["a1"]["logged_in_s"] == 2700.0

    # A late record for an hour already summed (a long call, a delayed write) is counted.
    calls.save(call("r6", at(9, 50), 5.0, 600.0, "1001"))
    late = compute(at(0), at(23))["groups"]["total"]["total"]
    assert (late["offered"], late["answered"]) == (5, 3)
    assert late["aht"] == round((230 + 600) / 3, 4)

    # A different service-level threshold rebuilds the sums with it.
    strict = compute(at(0), at(23), sl=5.0)["groups"]["total"]["total"]
    assert strict["service_level"] == round(1 / 4, 4)  # only r6 (5 s) within 5 s

    # Replaying the state history rebuilds the same agent time and wrap-ups.
    h = AgentHourRow
    hour_sums = select(h.bucket, h.agent_id, h.ready_s, h.paused_s, h.wrap_up_s)
    with engine.connect() as conn:
        hours = sorted(conn.execute(hour_sums))
        wraps = dict(conn.execute(select(CallRow.call_id, CallRow.wrapup_time)).all())
    rebuild(engine, attribute_wrapups=True)
    with engine.connect() as conn:
        assert sorted(conn.execute(hour_sums)) == hours
        assert dict(conn.execute(select(CallRow.call_id, CallRow.wrapup_time)).all()) == wraps
        assert (conn.scalar(select(func.count()).select_from(AgentSegmentRow)) or 0) > 0
    assert wraps["r1"] == 30.0 and wraps["r2"] == 20.0


def test_wrapup_before_its_record_lands_is_kept(engine: Engine) -> None:
    """The desk ends a wrap-up while the call's record still waits in the recorder's queue
    (a slow database): the wrap-up is kept and the record fills in the row later."""
    agents, calls = AgentStore(engine), CallStore(engine)
    agents.upsert("a2", name="", extension="1002", roles=["agent"], skills={})
    agents.set_session("a2", event="login", extension="1002", paused=False, reason=None, now=at(14))
    agents.set_session(
        "a2",
        event="pause",
        extension="1002",
        paused=True,
        reason="wrap-up",
        call="late-1",
        now=at(14, 5),
    )
    agents.set_session(
        "a2", event="unpause", extension="1002", paused=False, reason=None, now=at(14, 5, 15)
    )
    calls.save(call("late-1", at(14, 2), 4.0, 150.0, "1002"))
    got = metrics(engine, at(14), at(15))["groups"]["total"]["total"]
    assert got["answered"] == 1 and got["aht"] == 165.0


# -- random traffic against a reference -----------------------------------------------------------
@dataclass
class Shift:
    agent: str
    ext: str
    events: list[tuple[datetime, str, bool, str | None]]


def make_traffic(rng: random.Random) -> tuple[list[CallRecord], list[Shift]]:
    start = at(6)
    shifts = []
    for i in range(4):
        t = start + timedelta(minutes=rng.randrange(0, 90))
        events: list[tuple[datetime, str, bool, str | None]] = [(t, "login", False, None)]
        for _ in range(rng.randrange(3, 9)):
            if t > at(18):
                break
            t += timedelta(seconds=rng.randrange(300, 5400))
            reason = rng.choice(["break", "meal", "wrap-up"])
            events.append((t, "pause", True, reason))
            t += timedelta(seconds=rng.randrange(10, 1800))
            events.append((t, "unpause", False, None))
        if rng.random() < 0.75:  # the rest are still logged in "now"
            events.append((t + timedelta(seconds=rng.randrange(60, 3600)), "logout", False, None))
        shifts.append(Shift(f"r{i}", f"20{i:02d}", events))
    calls = []
    for n in range(600):
        t = start + timedelta(seconds=rng.uniform(0, 14 * 3600))
        queued = rng.random() < 0.9
        answered = rng.random() < 0.75
        calls.append(
            call(
                f"x{n}",
                t,
                round(rng.uniform(0, 60), 3) if queued else None,
                round(rng.uniform(5, 600), 3) if answered and queued else None,
                f"20{rng.randrange(4):02d}",
                queue=rng.choice(["operator", "english"]) if queued else None,
                kind=rng.choice(["consultation", "complaint", "help_request"]),
                language=rng.choice(["zh", "en"]),
            )
        )
    return calls, shifts


def reference(
    calls: list[CallRecord],
    shifts: list[Shift],
    since: datetime,
    until: datetime,
    now: datetime,
    sl: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Straight from the definitions, per call and per event, without any store."""
    groups: dict[str, dict[str, list[CallRecord]]] = {"total": {}, "agent": {}, "hour": {}}
    for c in calls:
        started = datetime.fromtimestamp(c.started_at, UTC)
        if not (since <= started < until) or c.queue_joined_at is None:
            continue
        hour = started.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:00")
        for g, key in (("total", "total"), ("agent", c.agent or "-"), ("hour", hour)):
            groups[g].setdefault(key, []).append(c)
    out: dict[str, Any] = {}
    for g, keyed in groups.items():
        out[g] = {}
        for key, cs in sorted(keyed.items()):
            ans = [c for c in cs if c.disposition == Disposition.ANSWERED]
            ab = [c for c in cs if c.disposition == Disposition.ABANDONED]
            short = [c for c in ab if (c.queue_wait or 0) < 5.0]
            waits = [c.queue_wait or 0.0 for c in ans]
            out[g][key] = {
                "offered": len(cs),
                "answered": len(ans),
                "abandoned": len(ab),
                "short_abandons": len(short),
                "asa": round(sum(waits) / len(ans), 4) if ans else None,
                "service_level": round(sum(w <= sl for w in waits) / (len(cs) - len(short)), 4)
                if len(cs) > len(short)
                else None,
                "talk_hours": round(sum(c.talk_time or 0 for c in ans) / 3600, 4),
            }
    occupancy: dict[str, Any] = {}
    for s in shifts:
        logged = paused = 0.0
        state_at: tuple[datetime, str] | None = None
        for when, event, is_paused, reason in [*s.events, (now, "end", False, None)]:
            if state_at is not None:
                a, b = max(state_at[0], since), min(when, until, now)
                seconds = max(0.0, (b - a).total_seconds())
                logged += seconds
                paused += seconds if state_at[1] == "paused" else 0.0
            if event in ("logout", "end"):
                state_at = None
            else:
                kind = "paused" if is_paused and reason != "wrap-up" else "other"
                state_at = (when, kind)
        if logged:
            talk = sum(
                c.talk_time or 0.0
                for c in calls
                if c.agent == s.ext
                and c.disposition == Disposition.ANSWERED
                and since <= datetime.fromtimestamp(c.started_at, UTC) < until
            )
            occupancy[s.agent] = {
                "logged_in_s": round(logged, 1),
                "paused_s": round(paused, 1),
                "talk_s": round(talk, 1),
            }
    return out, occupancy


def test_random_traffic_matches_reference(engine: Engine) -> None:
    rng = random.Random(5)
    calls, shifts = make_traffic(rng)
    agents = AgentStore(engine)
    for s in shifts:
        agents.upsert(s.agent, name="", extension=s.ext, roles=["agent"], skills={})
    # Interleave writes in time order as the service would make them.
    for s in shifts:
        for when, event, paused, reason in s.events:
            ext = None if event == "logout" else s.ext
            agents.set_session(
                s.agent, event=event, extension=ext, paused=paused, reason=reason, now=when
            )
    store = CallStore(engine)
    for i in range(0, len(calls), 50):
        store.save_many(calls[i : i + 50])
    now = at(20, 17, 33)
    ms = MetricsStore(engine)
    ranges = [
        (at(0), at(23)),
        (at(6), at(20)),
        (at(7, 13, 5), at(15, 59, 59)),
        (at(9, 30), at(9, 45)),
        (at(12), at(13)),
    ]
    ranges += [
        (a, a + timedelta(seconds=rng.randrange(60, 9 * 3600)))
        for a in (at(6) + timedelta(seconds=rng.randrange(0, 14 * 3600)) for _ in range(8))
    ]
    for sl in (20.0, 10.0):
        cfg = settings(sl)
        for since, until in ranges:
            result = MetricsService(cfg.metrics_config(), ms).compute(
                since, until, ["total", "agent", "hour"], now
            )
            got = result["groups"]
            want, want_occ = reference(calls, shifts, since, until, now, sl)
            for g, keyed in want.items():
                assert set(got[g]) == set(keyed), (since, until, g)
                for key, figures in keyed.items():
                    for name, value in figures.items():
                        assert got[g][key][name] == pytest.approx(value, abs=1e-3), (
                            since,
                            until,
                            g,
                            key,
                            name,
                        )
            occ = result["occupancy"]
            flat = {
                (a, k): o[k]
                for a, o in occ.items()
                if o["logged_in_s"]
                for k in ("logged_in_s", "paused_s", "talk_s")
            }
            want_flat = {(a, k): v for a, o in want_occ.items() for k, v in o.items()}
            assert flat == pytest.approx(want_flat, abs=0.11), (since, until)


def test_hot_desk_talk_goes_to_whoever_sat_there(engine: Engine) -> None:
    """Two shifts share one extension: each agent gets the talk of its own hours."""
    agents, calls = AgentStore(engine), CallStore(engine)
    for agent_id in ("day", "late"):
        agents.upsert(agent_id, name="", extension="1003", roles=["agent"], skills={})
    shifts = [
        ("day", "login", at(9)),
        ("day", "logout", at(10)),
        ("late", "login", at(10)),
        ("late", "logout", at(12)),
    ]
    for agent_id, event, when in shifts:
        ext = None if event == "logout" else "1003"
        agents.set_session(
            agent_id, event=event, extension=ext, paused=False, reason=None, now=when
        )
    calls.save_many(
        [call("h1", at(9, 30), 3.0, 100.0, "1003"), call("h2", at(11), 3.0, 200.0, "1003")]
    )
    for since, until in ((at(8), at(13)), (at(9, 10), at(11, 50))):
        occ = metrics(engine, since, until)["occupancy"]
        assert (occ["day"]["talk_s"], occ["late"]["talk_s"]) == (100.0, 200.0), (since, until)


def test_migration_fills_agent_time_from_existing_history(blank_url: str) -> None:
    """A database from before the roll-ups (each kind): upgrading replays its state history."""
    url = blank_url
    migrate(url, "0004")
    # The columns' own type writes the times as the store does on each database.
    times = [bindparam(k, type_=UtcDateTime()) for k in ("at", "started", "ended", "joined", "now")]
    engine = make_engine(url)
    events = [
        ("login", None, at(9)),
        ("pause", "wrap-up", at(9, 10)),
        ("unpause", None, at(9, 10, 25)),
        ("logout", None, at(10, 30)),
    ]
    with engine.begin() as conn:
        for event, reason, when in events:
            conn.execute(
                text(
                    "INSERT INTO agent_events (agent_id, event, reason, extension, at) "
                    "VALUES ('old', :e, :r, '1009', :at)"
                ).bindparams(times[0]),
                {"e": event, "r": reason, "at": when},
            )
        old_call = {
            "call_id": "o1",
            "started": at(9, 5),
            "joined": at(9, 5, 1),
            "ended": at(9, 9, 4),
            "now": at(9, 10),
        }
        conn.execute(
            text(
                # Schema 0004: the id column is still called linkedid (0013 renames it).
                "INSERT INTO calls (linkedid, caller_number, caller_name, dialled_number, "
                "started_at, ended_at, queue, queue_joined_at, agent, queue_wait, talk_time, "
                "disposition, recordings, ivr_path, variables, resynced, updated_at) VALUES "
                "(:call_id, '139', '', '12345', :started, :ended, 'operator', :joined, "
                "'1009', 3.0, 240.0, 'answered', '{}', '[]', '{}', :no, :now)"
            ).bindparams(*times[1:]),
            {**old_call, "no": False},
        )
    migrate(url)
    got = metrics(engine, at(9), at(11))
    assert got["groups"]["total"]["total"]["aht"] == 265.0  # 240 s talk + 25 s wrap-up
    occ = got["occupancy"]["old"]
    assert (occ["logged_in_s"], occ["wrap_up_s"], occ["talk_s"]) == (5400.0, 25.0, 240.0)
    engine.dispose()


def test_illegal_ranges_are_refused(engine: Engine) -> None:
    service = MetricsService(settings().metrics_config(), MetricsStore(engine))
    year_and_more = at(0) + timedelta(days=401)
    cases = [(at(10), at(9), "metrics.bad_range"), (at(0), year_and_more, "metrics.range_too_long")]
    for since, until, code in cases:
        with pytest.raises(Invalid) as err:
            service.compute(since, until, ["total"])
        assert err.value.code == code
    with engine.connect() as conn:  # nothing was built for the refused ranges
        assert conn.scalar(select(func.count()).select_from(CallHourMark)) == 0


def test_out_of_town_callers_are_counted_by_region(engine: Engine) -> None:
    rules = RegionRules(
        CallerSettings(
            home_region="Jinan",
            regions=(
                RegionRule(prefix="0531", region="Jinan"),
                RegionRule(prefix="010", region="Beijing"),
            ),
        )
    )
    calls = CallStore(engine, lambda number: rules.classify(number).name)
    numbers = ["053188880001", "01066660001", "01066660002", "+4930123456"]
    calls.save_many(
        [
            replace(call(f"g{i}", at(15, i), 3.0, 60.0, "1001"), caller_number=n)
            for i, n in enumerate(numbers)
        ]
    )
    metrics = MetricsService(settings().metrics_config(), MetricsStore(engine))
    got = metrics.compute(at(15), at(16), ["region"])
    offered = {k: v["offered"] for k, v in got["groups"]["region"].items()}
    assert offered == {"Jinan": 1, "Beijing": 2, "unknown": 1}
    assert rules.classify("01066660001").out_of_town and not rules.classify("0531").out_of_town
