"""Session fixtures: one private Asterisk, one running service, one SIP stack for all tests.

Every real part must be present: a missing Asterisk, pjsua2, espeak-ng, sox, sipp or Chromium
fails the run (it never skips).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from sqlalchemy import Engine

from hotline.app.pbx import embedded_pbx
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings, parse_settings, resolve_secrets
from hotline.db.engine import make_engine, migrate
from telephony.asterisk.process import PrivateAsterisk
from telephony.sip import Phone, SipStack
from testkit.postgres_server import PG_BIN, PrivatePostgres, private_postgres
from testkit.support import NewDbUrl, free_port, wait_for

ASTERISK = Path("/usr/sbin/asterisk")
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# The Vosk model scripts/setup-model.sh installs; its marker is written last, once complete.
VOSK_MODEL = Path(__file__).resolve().parents[2] / "var/models/vosk-model-en-us-0.3.45"
# The Mandarin Whisper model scripts/setup-whisper.sh installs (marker written last too).
WHISPER_MODEL = Path(__file__).resolve().parents[2] / "var/models/whisper-base"

ROOT = Path(__file__).resolve().parents[2]

# Test routing: one number and one queue per scenario, so scenarios run side by side.
AGENTS = {
    "2001": "Answer Agent",
    "2002": "Cut Agent",
    "2003": "Operator Seat",
    "2005": "English Seat",
    "2009": "Never Logged In",
    # Seats for agents who log in (skills-based queues).
    **{f"20{n}": f"Seat {n}" for n in range(11, 25)},
}
QUEUES = {
    "q_answer": (["2001"], "zh"),
    "q_cut": (["2002"], "zh"),
    "q_empty": (["2009"], "zh"),
    # The shipped menu's queues.
    "operator": (["2003"], "zh"),
    "english": (["2005"], "en"),
}
# Queues joined by skill at log-in: name → (skill, language, extra settings)
SKILL_QUEUES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sk_zh": ("zh", "zh", {}),
    "sk_en": ("en", "en", {}),
    "sk_topic": ("complaint", "zh", {}),
    "ovf_a": ("nobody", "zh", {"overflow": {"after": 3, "queue": "ovf_b"}}),
    "ovf_b": ("overflow", "zh", {}),
    "sk_kill": ("kill", "zh", {}),
    "sk_wrap": ("wrap", "zh", {"wrapup": 2}),
    "ann_zh": ("nobody", "zh", {"announce_frequency": 5}),
    "ann_en": ("nobody", "en", {"announce_frequency": 5}),
    # Announcements as shipped, with an agent: only a caller who waits hears them.
    "ann_ring": ("ringnow", "zh", {"announce_frequency": 60}),
    "m_q": ("metrics", "zh", {}),
    "sk_pop": ("pop", "zh", {"wrapup": 120}),  # the screen-pop's agents; filing ends wrap-up
    "sk_desk": ("desk", "en", {"wrapup": 120}),  # the agent page's browser test (English)
    "sk_desk_zh": ("desk_zh", "zh", {"wrapup": 120}),  # …and a Mandarin caller's draft
}
# number → (queue, menu)
NUMBERS = {
    "12345": ("q_answer", None),
    "12346": ("q_empty", None),
    "12347": ("q_cut", None),
    "12350": ("operator", "main"),  # the shipped 12345 menu, as in config/hotline.yaml
    "12351": ("operator", "extra"),  # transfer and hang-up actions
    "12360": ("sk_zh", None),
    "12361": ("sk_en", None),
    "12362": ("sk_topic", None),
    "12363": ("ovf_a", None),
    "12364": ("sk_kill", None),
    "12365": ("sk_wrap", None),
    "12366": ("ann_zh", None),
    "12367": ("ann_en", None),
    "12368": ("m_q", None),
    "12352": ("sk_pop", "pop"),  # the shipped menu, its queues retargeted to sk_pop
    "12353": ("sk_pop", "catpop"),  # the same with a category level after 求助 (key 2)
    "12369": ("sk_desk", None),
    "12370": ("sk_desk_zh", None),
    "12371": ("ann_ring", None),
}
# Citizens' phones registered with the PBX (pbx.phones): the survey callbacks ring them.
CITIZENS = [f"139000000{n:02d}" for n in range(1, 13)]

# A second menu for the actions the shipped one does not use.
EXTRA_MENU = {
    "entry": "start",
    "nodes": {
        "start": {
            "prompt": ["kind_menu"],
            "options": {
                "1": {"transfer": "110", "kind": "emergency"},
                "2": {"hangup": ["goodbye"], "kind": "information"},
            },
            "timeout": 1,
            "retries": 0,
            "on_exhausted": {"queue": "operator"},
        }
    },
}


# The category level the shipped menu leaves out (docs/configuration.md), after 求助 (key 2).
CATEGORIES = {"1": "street_lighting", "2": "water_supply", "3": "noise"}


def with_category_level(menu: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``menu`` whose key 2 (求助) leads to a category level of ``CATEGORIES``."""
    node: dict[str, Any] = {"prompt": ["kind_menu"], "timeout": 5, "retries": 0}
    node["options"] = {k: {"queue": "sk_pop", "category": c} for k, c in CATEGORIES.items()}
    node["on_exhausted"] = {"queue": "sk_pop"}
    kind = menu["nodes"]["kind"]
    options = {**kind["options"], "2": {"goto": "category", "kind": "help_request"}}
    return {
        **menu,
        "nodes": {**menu["nodes"], "kind": {**kind, "options": options}, "category": node},
    }


@pytest.fixture(scope="session", autouse=True)
def real_parts() -> None:
    """The real parts the suite needs; their absence is a failure, not a skip."""
    missing = [name for name in ("espeak-ng", "sox", "sipp") if shutil.which(name) is None]
    missing += [
        str(p) for p in (ASTERISK, CHROMIUM, CHROMEDRIVER, PG_BIN / "initdb") if not p.exists()
    ]
    if not (VOSK_MODEL / ".hotline-model").is_file():
        missing.append(f"the Vosk model {VOSK_MODEL}")
    if not (WHISPER_MODEL / ".hotline-model").is_file():
        missing.append(f"the Whisper model {WHISPER_MODEL}")
    try:
        importlib.import_module("pjsua2")
    except ImportError as exc:
        missing.append(f"pjsua2 ({exc})")
    if missing:
        pytest.fail(f"real parts missing (run scripts/setup.sh): {', '.join(missing)}")


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short path: Asterisk's control socket path must fit in 108 bytes.
    return tmp_path_factory.mktemp("pbx")


def shipped_ivr(prompts_dir: Path) -> dict[str, Any]:
    """The ivr section of config/hotline.yaml, with its prompts written to ``prompts_dir``."""
    data = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    ivr: dict[str, Any] = data["ivr"]
    return {**ivr, "prompts_dir": str(prompts_dir)}


def retarget(node: Any, old: str, new: str) -> Any:
    """A copy of a menu with every ``queue: old`` made ``queue: new``."""
    if isinstance(node, dict):
        return {
            k: new if k == "queue" and v == old else retarget(v, old, new) for k, v in node.items()
        }
    if isinstance(node, list):
        return [retarget(v, old, new) for v in node]
    return node


def shipped_section(name: str) -> Any:
    """One section of config/hotline.yaml as shipped (the ticket taxonomy and calendar, ...)."""
    return yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))[name]


@pytest.fixture(scope="session")
def carrier_port() -> int:
    """The SIP port of the test 'carrier' that receives transferred calls."""
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture(scope="session")
def settings(runtime_dir: Path, carrier_port: int, databases: Databases) -> Settings:
    # Below the kernel's ephemeral range (32768+), where free_port() finds the other ports.
    rtp = 31000 + (free_port() % 17) * 100
    ivr = shipped_ivr(runtime_dir / "prompts")
    pop_menu = retarget(ivr["menus"]["main"], "operator", "sk_pop")
    ivr["menus"] = {**ivr["menus"], "extra": EXTRA_MENU, "pop": pop_menu}
    ivr["menus"]["catpop"] = with_category_level(pop_menu)
    data = {
        "service_number": "12345",
        "pbx": {
            "mode": "embedded",
            "ami": {
                "port": free_port(),
                "heartbeat_interval": 2,
                "heartbeat_timeout": 2,
                "reconnect_min": 0.1,
                "reconnect_max": 2,
            },
            "embedded": {
                "sip_port": free_port(socket.SOCK_DGRAM),
                "rtp_start": rtp,
                "rtp_end": rtp + 99,
                "runtime_dir": str(runtime_dir / "ast"),
            },
            "recordings_dir": str(runtime_dir / "rec"),
            "trunk": {"gateway": f"127.0.0.1:{carrier_port}"},
            "agents": [{"extension": e, "name": n} for e, n in AGENTS.items()],
            "phones": [{"number": n, "name": f"Citizen {n[-2:]}"} for n in CITIZENS],
            "queues": [
                {"name": q, "members": m, "ring_timeout": 10, "language": lang}
                for q, (m, lang) in QUEUES.items()
            ]
            + [
                {"name": q, "skill": skill, "language": lang, "ring_timeout": 5, **extra}
                for q, (skill, lang, extra) in SKILL_QUEUES.items()
            ],
            "inbound": [
                {"number": n, "queue": q, "menu": menu} for n, (q, menu) in NUMBERS.items()
            ],
        },
        "ivr": ivr,
        "tickets": shipped_section("tickets"),
        "callers": shipped_section("callers"),
        "kb": {"seed_file": str(ROOT / "config" / "kb.yaml")},
        # As shipped: English with Vosk, Mandarin with Whisper base. One local worker: the
        # suite's answered calls are transcribed alongside the tests (it loads Whisper, ~400 MB,
        # on its first Mandarin job).
        "asr": {
            "engines": {
                "en": {"engine": "vosk", "model": str(VOSK_MODEL)},
                "zh": {"engine": "whisper", "model": str(WHISPER_MODEL)},
            },
            "workers": 1,
        },
        "draft": shipped_section("draft"),
        # The session service does not dial: survey tests run their own scheduler with an
        # injected clock. Short timings keep those calls short.
        "surveys": {
            "dial": False,
            "delay_minutes": 1,
            "ring_timeout": 6,
            "digit_timeout": 3,
            "max_repeats": 1,
            "comment_seconds": 8,
            "do_not_call": ["13900000012", "110"],
            "recordings_dir": str(runtime_dir / "rec" / "surveys"),
        },
        "database": {"url": databases.new("hotline", runtime_dir)},
        "listen": {"api_port": free_port(), "agi_port": free_port()},
    }
    return parse_settings(data, "test settings")


@pytest.fixture(scope="session")
def secrets(settings: Settings) -> Secrets:
    return resolve_secrets(settings, env={})


@pytest.fixture(scope="session")
async def pbx(settings: Settings, secrets: Secrets) -> AsyncIterator[PrivateAsterisk]:
    async with embedded_pbx(settings, secrets) as asterisk:
        yield asterisk


@pytest.fixture(scope="session")
async def service(
    pbx: PrivateAsterisk, settings: Settings, secrets: Secrets
) -> AsyncIterator[Service]:
    svc = await Service.build(settings, secrets)
    task = asyncio.create_task(svc.run(), name="service")
    await asyncio.wait_for(svc.ami.connected.wait(), 15)
    await asyncio.wait_for(svc.ivr.server.listening.wait(), 15)
    await wait_for(lambda: svc.web.started, 15, "the web server")
    await asyncio.wait_for(svc.desk.reconciled.wait(), 15)
    yield svc
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture(scope="session")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    from telephony.audio import synthesize

    d = tmp_path_factory.mktemp("sounds")
    caller = synthesize(
        "Hello, the street light on Renmin Road has been broken for a week.", d / "caller.wav"
    )
    talk3 = d / "talk3.wav"
    # Exactly 3 s of caller speech: a scenario's talk time is timed by playing it to the end.
    subprocess.run(["sox", str(caller), str(talk3), "pad", "0", "3", "trim", "0", "3"], check=True)
    yield {
        "caller": caller,
        "talk3": talk3,
        "agent": synthesize("Twelve three four five hotline, how can I help you?", d / "agent.wav"),
    }


@pytest.fixture(scope="session")
async def sip() -> AsyncIterator[SipStack]:
    """The one pjsua2 endpoint of this test process (pjsua2 allows one per process)."""
    async with SipStack(log_level=1) as stack:
        yield stack
    assert not stack.running


@pytest.fixture
async def phones(sip: SipStack) -> AsyncIterator[list[Phone]]:
    """Phones a test adds; closed (calls hung up, account removed) after the test."""
    made: list[Phone] = []
    yield made
    for phone in made:
        await phone.close()


@pytest.fixture
async def browser() -> AsyncIterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="wallboard-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1400,900",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    driver = await asyncio.to_thread(
        webdriver.Chrome, service=DriverService(str(CHROMEDRIVER)), options=opts
    )
    yield driver
    await asyncio.to_thread(driver.quit)
    shutil.rmtree(profile, ignore_errors=True)


# -- databases: SQLite files, or databases on one private PostgreSQL server ----------------------
DB_KINDS = ("sqlite", "postgresql")
# The private server runs in the hotline's own time zone, not UTC: SQL that depends on the
# session time zone (naive timestamps, date_trunc on timestamptz) shows up in the tests.
PG_SERVER = {"timezone": "Asia/Shanghai", "max_connections": "300"}


def db_kind() -> str:
    """HOTLINE_TEST_DB: what every test that needs a database gets (default sqlite)."""
    kind = os.environ.get("HOTLINE_TEST_DB", "sqlite")
    if kind not in DB_KINDS:
        raise pytest.UsageError(
            f"HOTLINE_TEST_DB={kind!r}: must be one of {', '.join(DB_KINDS)} (default sqlite)"
        )
    return kind


def pytest_configure(config: pytest.Config) -> None:
    db_kind()  # a wrong value stops the run before any test, with the reason


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"databases: {db_kind()} (HOTLINE_TEST_DB)"]


# scripts/test.sh runs these files' tests a second time with HOTLINE_TEST_DB=postgresql
# (``-m postgresql_pass``): the store, metrics, ticket and call-record tests that go through the
# run's database (the session service's, a ``hotline`` process's, a CLI command's); a test
# whose databases are an ``engine`` or ``blank_url`` of each kind ran on both already.
POSTGRESQL_PASS = {
    "test_agent_page.py",
    "test_agent_routing.py",
    "test_agents_cli.py",
    "test_call_records.py",
    "test_metrics_calls.py",
    "test_metrics_store.py",
    "test_migrations.py",
    "test_reports.py",
    "test_screenpop.py",
    "test_service_restart.py",
    "test_tickets.py",
    "test_transcription_calls.py",
    "test_transcription_calls_zh.py",
}
RUN_DATABASE = {"service", "settings", "db_url"}  # fixtures that lead to the run's database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if item.path.name in POSTGRESQL_PASS and used & RUN_DATABASE:
            item.add_marker(pytest.mark.postgresql_pass)


class Databases:
    """Hands out fresh, empty databases: a SQLite file in the given directory, or a new
    database (CREATE DATABASE, a unique name) on the session's private PostgreSQL server,
    which is only started when one is first asked for."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.kind = db_kind()
        self._request = request
        self._names = itertools.count()

    @property
    def postgres(self) -> PrivatePostgres:
        pg: PrivatePostgres = self._request.getfixturevalue("postgres")
        return pg

    def new(self, label: str, directory: Path, kind: str | None = None) -> str:
        """The URL of a new, empty (not migrated) database; ``kind`` defaults to the run's."""
        kind = kind or self.kind
        n = next(self._names)
        if kind == "sqlite":
            path = directory / f"{label}.db"
            return f"sqlite:///{path if not path.exists() else directory / f'{label}-{n}.db'}"
        assert kind == "postgresql", kind
        return self.postgres.create_database(f"{label.lower()}_{n}")

    def drop(self, url: str) -> None:
        """Drop a PostgreSQL database made by ``new`` (SQLite files go with their directory)."""
        if not url.startswith("sqlite"):
            self.postgres.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    """One private PostgreSQL cluster for the session (each test gets its own database)."""
    with private_postgres(PG_SERVER) as pg:
        yield pg


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest) -> Databases:
    return Databases(request)


@pytest.fixture
def db_url(databases: Databases, tmp_path: Path) -> Iterator[NewDbUrl]:
    """``db_url(label="db")``: the URL of a new, empty database of the run's kind
    (HOTLINE_TEST_DB) for a service, a ``hotline`` subprocess or a CLI command the test
    runs; each call gives another one, dropped after the test."""
    made: list[str] = []

    def new(label: str = "db") -> str:
        made.append(databases.new(label, tmp_path))
        return made[-1]

    yield new
    for url in made:
        databases.drop(url)


@pytest.fixture(params=DB_KINDS)
def blank_url(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[str]:
    """An empty database of each kind (not migrated): migration tests run on both."""
    url = databases.new("blank", tmp_path, request.param)
    yield url
    databases.drop(url)


@pytest.fixture(params=DB_KINDS)
def engine(
    request: pytest.FixtureRequest, databases: Databases, tmp_path: Path
) -> Iterator[Engine]:
    """A fresh, migrated database of each kind: store tests run on both, in either mode."""
    url = databases.new("store", tmp_path, request.param)
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()
    databases.drop(url)
