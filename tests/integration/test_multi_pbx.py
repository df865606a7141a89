"""Several PBXes feeding one service.

The end-to-end tests start two private Asterisk instances ("east" and "west", rendered from one
configuration, each on its own ports) and one service connected to both; real pjsua2 agents
register on each and real calls go into each at the same time. Each call's record names its
PBX, the live view shows both PBXes' calls and agents at once, the metrics count each PBX's
calls, two calls with the same Asterisk Linkedid (forced with Originate's ChannelId) stay two
records, and one PBX going down stops nothing on the other. Fast tests cover the configuration,
the call ids, the rendered files and the store on SQLite and PostgreSQL.

One module on purpose (about 550 lines): the two-PBX world is built once per module, and the
fast checks of its parts sit beside the end-to-end calls they explain.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from hotline.app.pbx import render_input
from hotline.app.settings import ConfigError, parse_settings, resolve_secrets
from hotline.calls.store import CallStore
from hotline.core.auth import hash_password
from hotline.core.errors import Invalid
from hotline.db.models import CallRow
from hotline.metrics.service import MetricsService
from hotline.metrics.store import MetricsStore
from hotline.supervision.masking import mask_number
from telephony.ami.events import AmiEvent
from telephony.asterisk.render import render
from telephony.sip import CallHandle, Phone, SipStack
from telephony.tracker import CallRecord, CallTracker, UpdateKind, global_call_id, scoped
from testkit.support import poll, recorded, supervisor_session, wait_for
from tests.integration.conftest import Databases
from tests.integration.multi_pbx_support import (
    MENU_NUMBER,
    PLAIN_NUMBER,
    QUEUE,
    SEATS,
    TwoPbx,
    two_pbx_settings,
    two_pbxes,
)
from tests.integration.test_call_records import add_caller
from tests.integration.test_wallboard import RESULTS
from tests.unit.test_recorded_streams import DATA, read_stream

ROOT = Path(__file__).resolve().parents[2]
_numbers = itertools.count(13700137001)


# -- configuration ---------------------------------------------------------------------------
def _pbx(name: str, exts: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "mode": "external",
        "ami": {"host": f"pbx-{name}.example", "port": 5038},
        "agents": [{"extension": e} for e in exts],
        "queues": [{"name": "operator"}],
        "inbound": [{"number": "12345", "queue": "operator"}],
        **extra,
    }


def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_settings(data, "test")
    return "\n".join(err.value.problems)


def test_one_pbx_section_stays_valid_and_is_named() -> None:
    settings = parse_settings({"pbx": {"mode": "external"}}, "test")
    assert settings.pbx.name == "pbx1"
    assert settings.all_pbxes == [settings.pbx]
    named = parse_settings({"pbx": {"name": "beijing_1"}}, "test")
    assert named.pbx.name == "beijing_1"


def test_several_pbxes_validate_and_round_trip() -> None:
    data = {"pbxes": [_pbx("east", ["2001"]), _pbx("west", ["3001"])]}
    settings = parse_settings(data, "test")
    assert [p.name for p in settings.all_pbxes] == ["east", "west"]
    assert settings.pbx.name == "east"  # the primary is the first
    assert settings.pbx_named("west").agents[0].extension == "3001"
    # A dump (both keys, pbx = the primary) reads back as the same settings.
    again = parse_settings(settings.model_dump(mode="json"), "dump")
    assert again == settings


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"pbxes": [_pbx("a", ["2001"]), _pbx("a", ["3001"])]},
            "pbxes[1].name: 'a' is also the name of pbxes[0]",
        ),
        (
            {"pbxes": [_pbx("a", ["2001"]), _pbx("b", ["2001"])]},
            "pbxes[1]: agent 2001 is also an endpoint of PBX 'a'",
        ),
        (
            {"pbxes": [_pbx("a", ["2001"]), _pbx("b", [], phones=[{"number": "2001"}])]},
            "pbxes[1]: phone 2001 is also an endpoint of PBX 'a'",
        ),
        (
            {
                "pbxes": [
                    _pbx("a", ["2001"]),
                    {**_pbx("b", ["3001"]), "ami": {"host": "pbx-a.example", "port": 5038}},
                ]
            },
            "pbxes[1].ami: pbx-a.example:5038 is also the AMI of pbxes[0]",
        ),
        (
            {"pbx": _pbx("a", ["2001"]), "pbxes": [_pbx("b", ["3001"]), _pbx("c", ["4001"])]},
            "give either pbx (one PBX) or pbxes (several), not both",
        ),
        ({"pbxes": [_pbx("east-1", ["2001"])]}, "pbxes[0].name: PBX name must be 1-20 letters"),
        (
            {
                "pbxes": [
                    _pbx("a", ["2001"]),
                    {**_pbx("b", ["3001"]), "inbound": [{"number": "9", "queue": "operator"}]},
                ],
                "service_number": "7",
            },
            "service_number 7 has no entry in the inbound of any PBX",
        ),
        # The IVR may send callers to any queue it names: a PBX running a menu needs them all.
        (
            {
                "pbxes": [
                    _pbx("a", ["2001"]),
                    {
                        **_pbx("b", ["3001"]),
                        "inbound": [{"number": "12345", "queue": "operator", "menu": "m"}],
                    },
                ],
                "ivr": {
                    "prompts": {"p": {"zh": "x"}},
                    "menus": {
                        "m": {
                            "entry": "n",
                            "nodes": {"n": {"prompt": ["p"], "on_exhausted": {"queue": "nowhere"}}},
                        }
                    },
                },
            },
            "unknown queue 'nowhere' (pbxes[1])",
        ),
    ],
)
def test_bad_pbx_lists_are_refused_naming_the_field(data: dict[str, Any], message: str) -> None:
    assert message in _problems(data)


def test_private_pbxes_must_not_share_ports_or_folders(tmp_path: Path) -> None:
    emb = {
        "sip_port": 5080,
        "rtp_start": 30000,
        "rtp_end": 30099,
        "runtime_dir": str(tmp_path / "a"),
    }
    a = {**_pbx("a", ["2001"]), "mode": "embedded", "ami": {"port": 6001}, "embedded": emb}
    b = {
        **_pbx("b", ["3001"]),
        "mode": "embedded",
        "ami": {"port": 6002},
        "embedded": {**emb, "rtp_start": 30050, "rtp_end": 30149},
    }
    text = _problems({"pbxes": [a, b]})
    assert "pbxes[1].embedded.runtime_dir: the same folder as pbxes[0]'s" in text
    assert "pbxes[1].embedded: RTP range overlaps pbxes[0]'s" in text
    assert "port clash: pbxes[0].embedded.sip_port and pbxes[1].embedded.sip_port" in text


def test_each_pbx_has_its_own_secret_and_files(tmp_path: Path) -> None:
    settings = two_pbx_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"pbxes\[1\]\.ami\.secret_env"):
        external = settings.model_dump(mode="json")
        external["pbxes"][1]["mode"] = "external"
        external["pbxes"][1]["ami"]["secret_env"] = "WEST_AMI_SECRET"
        del external["pbx"]
        resolve_secrets(parse_settings(external, "test"), env={})
    secrets = resolve_secrets(settings, env={})
    assert secrets.ami_secret_of("east") != secrets.ami_secret_of("west")
    for pbx in settings.all_pbxes:
        files = render(pbx, render_input(settings, secrets, pbx=pbx))
        # The private PBX's uniqueids (so its call ids) start with its name ...
        assert f"systemname = {pbx.name}\n" in files["asterisk.conf"]
        # ... and its calls tell the one FastAGI server which PBX they come from.
        assert f"/ivr/${{HOTLINE_MENU}},{pbx.name})" in files["extensions.conf"]
        assert secrets.ami_secret_of(pbx.name) in files["manager.conf"]
        agents = {a.extension for a in pbx.agents}
        assert agents == set(SEATS[pbx.name])
        for ext in (e for exts in SEATS.values() for e in exts):
            assert (f"\n[{ext}]\n" in files["pjsip.conf"]) == (ext in agents)


# -- call ids ---------------------------------------------------------------------------------
def test_call_ids_are_global_and_left_alone_when_already_so() -> None:
    assert global_call_id("east", "1763700000.12") == "east-1763700000.12"
    assert global_call_id("east", "east-1763700000.12") == "east-1763700000.12"  # systemname = east
    assert global_call_id("", "1763700000.12") == "1763700000.12"  # one PBX, as before
    ev = AmiEvent("Newchannel", {"Linkedid": "1763700000.12", "Uniqueid": "1763700000.12"}, 1.0)
    east = scoped("east")(ev)
    assert east.get("Linkedid") == "east-1763700000.12"
    assert east.get("Uniqueid") == "1763700000.12"  # channel ids keep their PBX's meaning
    native = AmiEvent("Hangup", {"Linkedid": "east-1.2"}, 1.0)
    assert scoped("east")(native) is native  # nothing to do: no copy on the hot path


def _replayed(pbx: str, stream: str) -> list[CallRecord]:
    """The ended records of a recorded real call (a PBX without systemname), as PBX ``pbx``."""
    tracker, scope = CallTracker(pbx), scoped(pbx)
    out = []
    for ev in read_stream(DATA / f"{stream}.ami"):
        for update in tracker.feed(scope(ev)):
            if update.kind is UpdateKind.ENDED:
                out.append(update.record)
    return out


def test_store_keeps_colliding_calls_of_two_pbxes_apart(engine: Engine) -> None:
    """The same recorded calls arrive from two PBXes (same Linkedids): two records each time,
    and every figure by PBX counts its own (SQLite and PostgreSQL)."""
    east = _replayed("east", "answered") + _replayed("east", "abandoned")
    west = _replayed("west", "answered")
    assert east[0].call_id.removeprefix("east-") == west[0].call_id.removeprefix("west-")
    store = CallStore(engine)
    store.save_many(east + west)
    store.save_many(west)  # a replayed write changes nothing
    rows = store.find(limit=10)
    assert sorted((r.pbx, r.call_id.split("-")[0]) for r in rows) == [
        ("east", "east"),
        ("east", "east"),
        ("west", "west"),
    ]
    assert [r.pbx for r in store.find(pbx="west")] == ["west"]
    since = datetime.fromtimestamp(min(r.started_at for r in east + west), UTC) - timedelta(1)
    total, by_pbx = store.summaries(since)
    assert (total.offered, by_pbx["east"].offered, by_pbx["west"].offered) == (3, 2, 1)
    assert (by_pbx["east"].answered, by_pbx["east"].abandoned) == (1, 1)

    settings = parse_settings({"pbxes": [_pbx("east", ["2001"]), _pbx("west", ["3001"])]})
    metrics = MetricsService(settings.metrics_config(), MetricsStore(engine))
    until = since + timedelta(days=2)  # whole hours long over: the per-hour sums are built
    for _ in range(2):  # built from the calls, then read from the sums
        got = metrics.compute(since, until, ["pbx", "total"])["groups"]
        assert got["pbx"]["east"]["offered"] == 2 and got["pbx"]["west"]["offered"] == 1
        assert got["total"]["total"]["offered"] == 3
    only_west = metrics.compute(since, until, ["total"], pbx="west")
    assert only_west["groups"]["total"]["total"]["offered"] == 1
    with pytest.raises(Invalid, match="no PBX 'north'"):
        metrics.compute(since, until, ["total"], pbx="north")


# -- two real PBXes ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def two(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> AsyncIterator[TwoPbx]:
    root = tmp_path_factory.mktemp("mp")
    url = databases.new("multi", root)  # the run's kind (HOTLINE_TEST_DB)
    try:
        async with two_pbxes(root, url) as env:
            svc = env.service
            for pbx, exts in SEATS.items():
                agent_id = f"{pbx}-{exts[0]}"
                await asyncio.to_thread(
                    partial(
                        svc.agents.upsert,
                        agent_id,
                        name=agent_id,
                        extension=exts[0],
                        roles=["agent"],
                        skills={QUEUE: 5},
                    )
                )
                await svc.desk.login(agent_id)
            yield env
    finally:
        databases.drop(url)


def _number() -> str:
    return str(next(_numbers))


async def _ended(
    env: TwoPbx, *, call_id: str | None = None, caller_number: str | None = None
) -> CallRow:
    """The ended record of a call, by its global id or its caller's number."""

    def probe() -> CallRow | None:
        rows = env.service.store.find(limit=50, caller_number=caller_number)
        rows = [r for r in rows if call_id is None or r.call_id == call_id]
        return rows[0] if rows and rows[0].ended_at is not None else None

    what = call_id or caller_number
    return await wait_for(probe, 20, f"the ended record of {what}")


async def test_two_pbxes_feed_one_service(
    two: TwoPbx, sip: SipStack, phones: list[Phone], sounds: dict[str, Path], tmp_path: Path
) -> None:
    svc = two.service
    since = datetime.now(UTC) - timedelta(seconds=1)
    agent = {pbx: await two.add_agent_phone(sip, pbx, exts[0]) for pbx, exts in SEATS.items()}
    phones += agent.values()
    for phone in agent.values():
        phone.auto_answer(after_ms=800, play=sounds["agent"], loop_play=True)

    # One caller into each PBX at the same time, through the IVR menu (one FastAGI server).
    numbers = {pbx: _number() for pbx in SEATS}

    async def call_in(pbx: str) -> tuple[CallHandle, CallHandle]:
        caller = await add_caller(sip, numbers[pbx])
        phones.append(caller)
        call = await caller.dial(two.dial_uri(pbx, MENU_NUMBER))
        await call.wait_answered(10)
        incoming = await agent[pbx].next_incoming(20)
        await incoming.wait_answered(10)
        return call, incoming

    legs = dict(zip(SEATS, await asyncio.gather(*(call_in(p) for p in SEATS)), strict=True))

    # The live view (the API's snapshot, as supervisors get it) shows both PBXes at once.
    async with supervisor_session(svc, two.settings, "mpsup", "multi-pbx-pw") as (http, auth):

        async def both_live() -> dict[str, Any] | None:
            # A supervisor's own screen: full numbers (reveal) to match the calls by number.
            live = await http.get("/api/live", headers=auth, params={"reveal": "true"})
            snap: dict[str, Any] = live.json()
            connected = {
                c["pbx"]: c
                for c in snap["calls"]
                if c["state"] == "connected" and c["caller_number"] in numbers.values()
            }
            on_call = {a["pbx"] for a in snap["agents"] if a["state"] == "on_call"}
            return snap if set(connected) == on_call == set(SEATS) else None

        snap = await wait_for(both_live, 15, "both PBXes' calls and agents in the live view")
        assert {p["name"]: p["connected"] for p in snap["pbxes"]} == {"east": True, "west": True}
        assert all(
            p["calls_in_progress"] >= 1 and p["agents"]["on_call"] == 1 for p in snap["pbxes"]
        )
        for call in snap["calls"]:
            assert call["call_id"].startswith(f"{call['pbx']}-"), call
            assert call["caller_number"] == numbers[call["pbx"]] and call["queue"] == QUEUE
        queue = next(q for q in snap["queues"] if q["name"] == QUEUE)
        assert set(queue["by_pbx"]) == {"east", "west"} and queue["members"] == 2

        # Both callers talk, then hang up: each record is complete and names its PBX.
        async def talk(call: CallHandle) -> None:
            await call.wait_media(5)
            await call.play(sounds["talk3"])
            await call.hangup()
            await call.wait_ended(10)

        await asyncio.gather(*(talk(call) for call, _ in legs.values()))
        for pbx, exts in SEATS.items():
            rec = await _ended(two, caller_number=numbers[pbx])
            assert rec.pbx == pbx and rec.call_id.startswith(f"{pbx}-")
            assert rec.disposition == "answered" and rec.agent == exts[0] and rec.queue == QUEUE
            assert rec.ivr == "done" and rec.request_kind == "consultation"
            assert rec.queue_wait is not None and rec.talk_time is not None
            assert rec.talk_time >= 2.5 and rec.ended_by == "caller"
            assert set(rec.recordings) == {"mix", "caller", "agent"}
            for path in rec.recordings.values():
                assert Path(path).name.startswith(f"{pbx}-"), path  # no clash in a shared folder
                await wait_for(partial(recorded, Path(path)), 10, f"recording {path}")

        # A forced collision: both PBXes start a call with the same Asterisk uniqueid (and so
        # call_id). A Local channel enters the plain number's queue; the agent answers.
        raw = f"collide-{uuid.uuid4().hex[:8]}"

        async def originate(pbx: str) -> None:
            ami = svc.links[pbx].ami
            assert ami is not None
            await ami.send(
                {
                    "Action": "Originate",
                    "Channel": f"Local/{PLAIN_NUMBER}@hotline-inbound",
                    "ChannelId": f"{raw}.1",
                    "OtherChannelId": f"{raw}.2",
                    "Application": "Wait",
                    "Data": "4",
                    "Async": "true",
                },
                as_list=False,
            )

        await asyncio.gather(*(originate(p) for p in SEATS))
        for pbx, exts in SEATS.items():
            rec = await _ended(two, call_id=f"{pbx}-{raw}.1")
            assert rec.pbx == pbx and rec.disposition == "answered" and rec.agent == exts[0]
        collided = [r for r in svc.store.find(limit=20) if r.call_id.endswith(f"-{raw}.1")]
        assert sorted(r.pbx or "" for r in collided) == ["east", "west"]

        # Metrics by PBX: each PBX's two calls, answered; and one PBX alone.
        until = datetime.now(UTC) + timedelta(seconds=1)
        window = [("since", since.isoformat()), ("until", until.isoformat())]
        r = await http.get("/api/metrics", params=[*window, ("group", "pbx")], headers=auth)
        assert r.status_code == 200, r.text
        by_pbx = r.json()["groups"]["pbx"]
        for pbx in SEATS:
            assert (by_pbx[pbx]["offered"], by_pbx[pbx]["answered"]) == (2, 2), by_pbx
        r = await http.get(
            "/api/metrics", headers=auth, params=[*window, ("group", "agent"), ("pbx", "west")]
        )
        assert r.status_code == 200, r.text
        assert set(r.json()["groups"]["agent"]) == {SEATS["west"][0]}
        assert set(r.json()["occupancy"]) == {f"west-{SEATS['west'][0]}"}
        bad = await http.get("/api/metrics", params=[*window, ("pbx", "north")], headers=auth)
        assert bad.status_code == 422 and bad.json()["error"] == "metrics.unknown_pbx"
        events = (await http.get("/api/agents/west-2201/events", headers=auth)).json()
        assert events[0]["event"] == "login" and events[0]["pbx"] == "west"

    # `hotline calls` shows the PBX of each record.
    config = tmp_path / "mp.yaml"
    config.write_text(yaml.safe_dump(two.settings.model_dump(mode="json")), encoding="utf-8")
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotline.app.cli", "-c", str(config), "calls", "--pbx", "west"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines()[1:] if ln.strip()]
    assert len(lines) == 2 and all(" west " in ln for ln in lines), out.stdout
    assert any(numbers["west"] in ln for ln in lines)


async def test_wallboard_shows_both_pbxes(
    two: TwoPbx, sip: SipStack, phones: list[Phone], browser: webdriver.Chrome
) -> None:
    """The supervisors' page (headless Chromium, over the WebSocket): each PBX connected, and
    a caller waiting on each, in the one queue row they share, each marked with its PBX."""
    svc = two.service
    await asyncio.to_thread(
        lambda: svc.agents.upsert(
            "mpwall",
            name="Wall",
            extension=None,
            roles=["supervisor"],
            skills={},
            password_hash=hash_password("multi-wall-pw"),
        )
    )
    await asyncio.to_thread(RESULTS.mkdir, exist_ok=True)
    url = f"http://127.0.0.1:{two.settings.listen.api_port}/wallboard"
    wait = WebDriverWait(browser, 20)

    def sign_in() -> None:
        browser.get(url)
        wait.until(ec.visibility_of_element_located((By.ID, "agent_id"))).send_keys("mpwall")
        browser.find_element(By.ID, "password").send_keys("multi-wall-pw")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        for pbx in SEATS:
            chip = f'#pbxes [data-pbx="{pbx}"][data-connected="true"]'
            wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, chip)))

    await asyncio.to_thread(sign_in)
    # The agents' phones are gone (the earlier test closed them): callers wait in the queue.
    numbers = {pbx: _number() for pbx in SEATS}
    calls = []
    for pbx, number in numbers.items():
        caller = await add_caller(sip, number)
        phones.append(caller)
        calls.append(await caller.dial(two.dial_uri(pbx, PLAIN_NUMBER)))
    await asyncio.gather(*(c.wait_answered(10) for c in calls))

    def both_waiting() -> list[str]:
        texts = []
        for pbx, number in numbers.items():
            # The wall's view: numbers masked to the last four digits.
            masked = mask_number(number)
            row = f'[data-queue="{QUEUE}"] tr.caller[data-caller="{masked}"][data-pbx="{pbx}"]'
            texts.append(wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, row))).text)
        browser.save_screenshot(str(RESULTS / "wallboard-two-pbxes.png"))
        return texts

    texts = await asyncio.to_thread(both_waiting)
    for pbx, text in zip(numbers, texts, strict=True):
        assert pbx in text and mask_number(numbers[pbx]) in text and numbers[pbx] not in text
    for call in calls:
        await call.hangup()
        await call.wait_ended(10)
    for number in numbers.values():
        assert (await _ended(two, caller_number=number)).disposition == "abandoned"


async def test_one_pbx_down_stops_nothing_on_the_other(
    two: TwoPbx, sip: SipStack, phones: list[Phone]
) -> None:
    svc = two.service
    west = two.asterisks["west"]
    await west.stop()
    async with supervisor_session(svc, two.settings, "mpsup2", "multi-pbx-pw2") as (http, auth):

        async def west_is(up: bool) -> dict[str, Any] | None:
            snap: dict[str, Any] = (await http.get("/api/live", headers=auth)).json()
            pbx = next(p for p in snap["pbxes"] if p["name"] == "west")
            return snap if pbx["connected"] is up else None

        async def west_down() -> dict[str, Any] | None:
            return await west_is(False)

        async def west_up() -> dict[str, Any] | None:
            return await west_is(True)

        snap = await wait_for(west_down, 15, "the live view to show west down")
        east = next(p for p in snap["pbxes"] if p["name"] == "east")
        assert east["connected"] is True, snap["pbxes"]

        # East carries on: a call is answered and recorded while west is down.
        agent = await two.add_agent_phone(sip, "east", SEATS["east"][0])
        phones.append(agent)
        agent.auto_answer(after_ms=300)
        number = _number()
        caller = await add_caller(sip, number)
        phones.append(caller)
        call = await caller.dial(two.dial_uri("east", PLAIN_NUMBER))
        await call.wait_answered(10)
        await (await agent.next_incoming(20)).wait_answered(10)
        await call.hangup()
        await call.wait_ended(10)
        rec = await _ended(two, caller_number=number)
        assert (rec.pbx, rec.disposition) == ("east", "answered")

        # West comes back: its connection reconnects by itself and its members are restored.
        svc.desk.reconciled_pbxes.discard("west")
        await west.start()
        await wait_for(west_up, 30, "the live view to show west up again")
        await wait_for(lambda: "west" in svc.desk.reconciled_pbxes, 15, "west reconciled")
        status = await svc.links["west"].control.status()
        assert set(status.members[QUEUE]) == {f"PJSIP/{SEATS['west'][0]}"}
    # The other PBX's view never went stale meanwhile.
    assert poll(lambda: svc.links["east"].connected, 1, "east connected")
