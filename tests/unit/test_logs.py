"""Structured logs (hotline/core/logs.py, hotline/web/request_id.py): the JSON and text
formats, the context a line carries (call, agent, PBX, request, survey) and where the service
sets it (the call feed and its fan-out, FastAGI sessions, HTTP requests), the ``logging:``
section and its environment overrides."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header

from hotline.app.settings import Settings, parse_settings
from hotline.app.web import create_app
from hotline.calls.fanout import CallFanout
from hotline.calls.feed import CallFeed
from hotline.core.errors import ConfigError
from hotline.core.logs import (
    FORMAT_ENV,
    HANDLER_NAME,
    LEVEL_ENV,
    JsonFormatter,
    LogSettings,
    TextFormatter,
    bind,
    configure_logging,
    current_context,
    log_context,
    make_handler,
)
from hotline.fastagi.service import session_context, with_call_context
from hotline.web.request_id import HEADER, MAX_LENGTH, RequestIdMiddleware, accepted
from ivr.agi.protocol import AgiRequest
from ivr.agi.server import AgiChannel
from telephony.tracker import CallTracker, UpdateKind, scoped
from tests.unit.test_call_flow import NullRecorder, a_call, ev
from tests.unit.test_recorded_streams import read_stream

DATA = Path(__file__).resolve().parents[1] / "data"
TODAYS_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the service's format so far


def a_record(msg: str = "call ended: %s", *args: object, created: float = 0.0) -> logging.LogRecord:
    record = logging.LogRecord("hotline.calls.feed", logging.INFO, __file__, 1, msg, args, None)
    if created:
        record.created = created
        record.msecs = (created % 1) * 1000
    return record


def emitted(handler: logging.Handler, record: logging.LogRecord) -> str:
    """What ``handler`` (writing to a StringIO) writes for ``record``, filters included."""
    stream = handler.stream  # type: ignore[attr-defined]
    start = stream.tell()
    handler.handle(record)
    return str(stream.getvalue()[start:])


class Captured:
    """A handler made by ``make_handler`` on the root logger for one test, and its lines."""

    def __init__(self, settings: LogSettings, level: int = logging.DEBUG) -> None:
        self.stream = io.StringIO()
        self.handler = make_handler(settings, stream=self.stream)
        self.handler.setLevel(level)

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)


@pytest.fixture
def captured_json(root_logger: logging.Logger) -> Iterator[Captured]:
    cap = Captured(LogSettings(format="json"))
    root_logger.addHandler(cap.handler)
    root_logger.setLevel(logging.DEBUG)
    yield cap


# -- the JSON format -----------------------------------------------------------------------------
def test_a_json_line_is_one_object_with_time_level_logger_message_and_the_context(
    frozen_now: datetime,
) -> None:
    handler = make_handler(LogSettings(format="json"), stream=io.StringIO())
    record = a_record("call ended: %s", "answered", created=frozen_now.timestamp())
    with log_context(call_id="pbx1-1763700000.12", agent="1001", pbx="pbx1", request_id="r-1"):
        out = emitted(handler, record)
    assert out.endswith("\n") and out.count("\n") == 1  # one line
    line = json.loads(out)
    assert line["level"] == "INFO"
    assert line["logger"] == "hotline.calls.feed"
    assert line["message"] == "call ended: answered"
    assert line["call_id"] == "pbx1-1763700000.12"
    assert line["agent"] == "1001" and line["pbx"] == "pbx1" and line["request_id"] == "r-1"
    at = datetime.fromisoformat(line["time"])
    assert at.utcoffset() is not None  # ISO 8601 with its offset
    assert line["time"][-6] in "+-" and line["time"][-3] == ":"
    assert at == frozen_now  # the same instant, to the microsecond
    assert list(line)[:4] == ["time", "level", "logger", "message"]


def test_a_json_line_has_no_context_keys_without_context_and_keeps_text_readable() -> None:
    handler = make_handler(LogSettings(format="json"), stream=io.StringIO())
    line = json.loads(emitted(handler, a_record("来电结束: %s", "已接听")))
    assert line["message"] == "来电结束: 已接听"
    assert not {"call_id", "agent", "agent_id", "pbx", "request_id", "survey"} & set(line)


def test_a_json_line_carries_the_traceback_the_worker_and_extra_fields() -> None:
    handler = make_handler(LogSettings(format="json"), stream=io.StringIO())
    handler.setFormatter(JsonFormatter(process="host-123"))
    try:
        raise ValueError("bad recording")
    except ValueError:
        record = logging.LogRecord(
            "hotline.transcription.worker",
            logging.ERROR,
            __file__,
            1,
            "job %s failed",
            (7,),
            sys.exc_info(),
        )
    record.attempt = 2
    record.color_message = "job \x1b[1m%s\x1b[0m failed"  # as uvicorn adds to its lines
    line = json.loads(emitted(handler, record))
    assert line["message"] == "job 7 failed" and line["level"] == "ERROR"
    assert "ValueError: bad recording" in line["exc_info"]
    assert line["worker"] == "host-123" and line["attempt"] == 2
    assert "color_message" not in line


# -- the text format -----------------------------------------------------------------------------
def test_a_text_line_without_context_is_exactly_todays(frozen_now: datetime) -> None:
    record = a_record("service running; Ctrl-C stops it", created=frozen_now.timestamp())
    ours = TextFormatter().format(record)
    assert ours == logging.Formatter(TODAYS_TEXT).format(record)
    assert ours.endswith(" INFO hotline.calls.feed: service running; Ctrl-C stops it")


def test_a_text_line_shows_the_context_compactly_in_brackets() -> None:
    handler = make_handler(LogSettings(), stream=io.StringIO())
    with log_context(call_id="pbx1-1763700000.12", agent="1001", pbx="pbx1"):
        out = emitted(handler, a_record("call ended: %s", "answered"))
    # The PBX is in the call id already.
    assert out.rstrip("\n").endswith(
        " INFO hotline.calls.feed [call=pbx1-1763700000.12 agent=1001]: call ended: answered"
    )
    with log_context(pbx="east", request_id="abc"):
        out = emitted(handler, a_record("resync"))
    assert "hotline.calls.feed [pbx=east req=abc]: resync" in out


def test_a_worker_text_line_names_the_worker_after_the_time() -> None:
    line = TextFormatter(process="host-42").format(a_record("ready"))
    assert line.endswith(" host-42 INFO hotline.calls.feed: ready")


def test_a_text_handler_beside_a_json_one_adds_nothing_to_the_json() -> None:
    text = make_handler(LogSettings(), stream=io.StringIO())
    js = make_handler(LogSettings(format="json"), stream=io.StringIO())
    record = a_record("x")
    with log_context(call_id="c-1"):
        emitted(text, record)
        line = json.loads(emitted(js, record))
    assert set(line) == {"time", "level", "logger", "message", "call_id"}


# -- the context ---------------------------------------------------------------------------------
def test_log_context_nests_skips_empty_fields_and_is_undone_after_the_block() -> None:
    with log_context(call_id="c-1", pbx="pbx1"):
        with log_context(agent="1001", call_id="c-2", pbx=None, survey=""):
            assert current_context() == {"call_id": "c-2", "agent": "1001", "pbx": "pbx1"}
        assert current_context() == {"call_id": "c-1", "pbx": "pbx1"}
    assert current_context() == {}
    with pytest.raises(TypeError, match="password"):
        with log_context(password="x"):
            pass


async def test_tasks_and_threads_started_for_a_call_keep_its_context() -> None:
    async def in_task() -> dict[str, str]:
        await asyncio.sleep(0)
        return current_context()

    with log_context(call_id="c-7", agent="1002"):
        task = asyncio.create_task(in_task())
        in_thread = await asyncio.to_thread(current_context)
    assert await task == {"call_id": "c-7", "agent": "1002"}
    assert in_thread == {"call_id": "c-7", "agent": "1002"}
    assert current_context() == {}


def test_bind_sets_the_fields_for_the_rest_of_a_thread_of_its_own() -> None:
    seen: list[dict[str, str]] = []

    def work() -> None:
        bind(survey=7, call_id="c-9")
        seen.append(current_context())

    t = threading.Thread(target=contextvars.copy_context().run, args=(work,))
    t.start()
    t.join()
    assert seen == [{"call_id": "c-9", "survey": "7"}]
    assert current_context() == {}  # the thread's context was a copy


def test_a_field_the_call_gives_itself_is_kept() -> None:
    handler = make_handler(LogSettings(format="json"), stream=io.StringIO())
    record = a_record("x")
    record.call_id = "given"
    with log_context(call_id="from-context", agent="1001"):
        line = json.loads(emitted(handler, record))
    assert line["call_id"] == "given" and line["agent"] == "1001"


# -- configuration ------------------------------------------------------------------------------
def test_the_logging_section_and_its_defaults() -> None:
    assert parse_settings({}, "t.yaml").logging == LogSettings(format="text", level="INFO")
    got = parse_settings({"logging": {"format": "JSON", "level": "debug"}}, "t.yaml").logging
    assert got == LogSettings(format="json", level="DEBUG")
    with pytest.raises(ConfigError, match=r"logging\.format"):
        parse_settings({"logging": {"format": "xml"}}, "t.yaml")
    with pytest.raises(ConfigError, match=r"logging\.colour"):
        parse_settings({"logging": {"colour": True}}, "t.yaml")


def test_the_environment_overrides_the_file() -> None:
    file = LogSettings(format="text", level="INFO")
    env = {FORMAT_ENV: "json", LEVEL_ENV: "warning"}
    assert file.with_environment(env) == LogSettings(format="json", level="WARNING")
    assert file.with_environment({FORMAT_ENV: ""}) == file
    with pytest.raises(ConfigError) as bad:
        file.with_environment({FORMAT_ENV: "xml", LEVEL_ENV: "LOUD"})
    assert [p.split(":")[0] for p in bad.value.problems] == [FORMAT_ENV, LEVEL_ENV]


def test_configure_logging_replaces_its_own_handler_and_no_other(
    root_logger: logging.Logger,
) -> None:
    other = logging.NullHandler()
    root_logger.addHandler(other)
    out = io.StringIO()
    got = configure_logging(LogSettings(), environ={FORMAT_ENV: "json"}, stream=out)
    assert got == LogSettings(format="json", level="INFO")
    got = configure_logging(got, verbose=True, environ={}, stream=out, process="w1")
    assert got.level == "DEBUG" and root_logger.level == logging.DEBUG
    ours = [h for h in root_logger.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1 and other in root_logger.handlers
    with log_context(call_id="c-3"):
        logging.getLogger("hotline.test").debug("claimed")
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["message"] == "claimed" and line["call_id"] == "c-3" and line["worker"] == "w1"

    # jieba's dictionary-loading chatter (DEBUG, on a stderr handler of its own) is silenced,
    # even in --verbose: warnings only, through our handler.
    import jieba  # noqa: F401  (adds its handler when imported)

    configure_logging(got, verbose=True, environ={}, stream=out)
    segmenter = logging.getLogger("jieba")
    assert segmenter.handlers == [] and segmenter.level == logging.WARNING


# -- where the service sets the context ----------------------------------------------------------
def test_every_line_of_a_replayed_call_names_it_and_its_end_line_its_agent(
    captured_json: Captured,
) -> None:
    """A recorded real call through the call feed: the fan-out's steps see the call's id and
    PBX, the update steps its agent too, and the feed says once that it ended."""
    fanout = CallFanout()
    seen: list[tuple[str, dict[str, str]]] = []
    fanout.register("events", on_event=lambda e, pbx: seen.append((e.name, current_context())))
    fanout.register(
        "updates",
        on_update=lambda u, cause: seen.append((str(u.kind), current_context())),
        kinds={UpdateKind.AGENT_CONNECTED},
    )
    feed = CallFeed(CallTracker("pbx1"), NullRecorder(), scope=scoped("pbx1"), fanout=fanout)
    for event in read_stream(DATA / "answered.ami"):
        feed.on_event(event)
    ended = [line for line in captured_json.json() if line["message"].startswith("call ended")]
    assert len(ended) == 1
    end = ended[0]
    assert end["call_id"].startswith("pbx1-") and end["pbx"] == "pbx1"
    assert end["agent"] and end["logger"] == "hotline.calls.feed"
    assert end["message"].startswith("call ended: answered, queue ")
    about_calls = [ctx for name, ctx in seen if "call_id" in ctx]
    assert about_calls and all(ctx["call_id"] == end["call_id"] for ctx in about_calls)
    connected = [ctx for name, ctx in seen if name == str(UpdateKind.AGENT_CONNECTED)]
    assert connected == [{"call_id": end["call_id"], "agent": end["agent"], "pbx": "pbx1"}]
    assert current_context() == {}


def test_a_step_that_fails_is_logged_with_the_call_it_failed_on(captured_json: Captured) -> None:
    fanout = CallFanout()

    def broken(update: Any, cause: Any) -> None:
        raise RuntimeError("a bug")

    fanout.register("broken", on_update=broken, kinds={UpdateKind.AGENT_CONNECTED})
    feed = CallFeed(CallTracker("pbx1"), NullRecorder(), scope=scoped("pbx1"), fanout=fanout)
    for event in a_call("1763700000.5", agent="1003"):
        feed.on_event(event)
    (line,) = [x for x in captured_json.json() if "failed" in x["message"]]
    assert line["call_id"] == "pbx1-1763700000.5" and line["agent"] == "1003"
    assert "RuntimeError: a bug" in line["exc_info"]


def test_an_event_of_no_call_carries_its_pbx_only() -> None:
    fanout = CallFanout()
    seen: list[dict[str, str]] = []
    fanout.register("events", on_event=lambda e, pbx: seen.append(current_context()))
    feed = CallFeed(CallTracker("east"), NullRecorder(), scope=scoped("east"), fanout=fanout)
    feed.on_event(ev("QueueMemberStatus", 0, Queue="operator", Interface="PJSIP/1001"))
    assert seen == [{"pbx": "east"}]


async def test_a_fastagi_session_names_its_call_and_pbx() -> None:
    headers = {
        "agi_network_script": "ivr/main",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_uniqueid": "1763700000.12",
        "agi_arg_1": "pbx1",
    }
    request = AgiRequest(headers)
    assert session_context(request) == {"pbx": "pbx1", "call_id": "pbx1-1763700000.12"}
    seen: list[dict[str, str]] = []

    async def handler(channel: AgiChannel) -> None:
        seen.append(current_context())

    class Channel:
        def __init__(self, request: AgiRequest) -> None:
            self.request = request

    async def session() -> dict[str, str]:  # the server runs each session as its own task
        await with_call_context(handler)(Channel(request))  # type: ignore[arg-type]
        return current_context()  # still set for the server's own lines about the session

    after = await asyncio.create_task(session())
    assert seen == [{"pbx": "pbx1", "call_id": "pbx1-1763700000.12"}] and after == seen[0]
    assert current_context() == {}


# -- HTTP: the request id ------------------------------------------------------------------------
def app_with_request_ids(new_id: str = "generated-1") -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware, new_id=lambda: new_id)
    log = logging.getLogger("hotline.test.web")

    @app.get("/whoami")
    async def whoami(authorization: str | None = Header(default=None)) -> dict[str, str]:
        log.info("asked: %s", "whoami")
        in_thread = await asyncio.to_thread(current_context)
        return {"here": current_context().get("request_id", ""), **in_thread}

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    """The application in this event loop, over ASGI (no server, no thread)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hotline")


async def test_a_given_request_id_is_echoed_and_on_the_requests_lines(
    captured_json: Captured,
) -> None:
    async with client(app_with_request_ids()) as http:
        got = await http.get("/whoami", headers={HEADER: "lb-7f3a.1:2_x"})
    assert got.headers[HEADER] == "lb-7f3a.1:2_x"
    assert got.json() == {"here": "lb-7f3a.1:2_x", "request_id": "lb-7f3a.1:2_x"}
    (line,) = [x for x in captured_json.json() if x["logger"] == "hotline.test.web"]
    assert line["request_id"] == "lb-7f3a.1:2_x" and line["message"] == "asked: whoami"
    assert current_context() == {}  # the request's, not this task's after it


async def test_a_request_without_an_id_gets_a_new_one() -> None:
    async with client(app_with_request_ids("fresh-id")) as http:
        got = await http.get("/whoami")
    assert got.headers[HEADER] == "fresh-id" and got.json()["here"] == "fresh-id"
    real = FastAPI()  # the default maker: a new one per request
    real.add_middleware(RequestIdMiddleware)
    async with client(real) as http:
        first, second = [(await http.get("/nowhere")).headers[HEADER] for _ in range(2)]
    assert first != second and accepted(first) == first and accepted(second) == second


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * (MAX_LENGTH + 1),
        "two words",
        'a"b',
        "a\tb",
        "id]\x1b[31m",
        "../../etc",
        "-leading-dash",
        "",
        "请求",
    ],
)
async def test_a_hostile_request_id_is_replaced(hostile: str, captured_json: Captured) -> None:
    assert accepted(hostile) is None
    async with client(app_with_request_ids("replaced-1")) as http:
        got = await http.get("/whoami", headers={HEADER.encode(): hostile.encode("utf-8")})
    assert got.headers[HEADER] == "replaced-1" and got.json()["here"] == "replaced-1"
    if hostile:  # never copied into a line
        assert all(hostile not in line for line in captured_json.lines)


async def test_the_request_middleware_never_logs_the_authorization_header(
    captured_json: Captured,
) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig"
    async with client(app_with_request_ids()) as http:
        got = await http.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and captured_json.lines  # the request was logged about
    assert all(token not in line and "Bearer" not in line for line in captured_json.lines)


async def test_the_service_app_has_the_request_id_middleware() -> None:
    async with client(create_app(Settings())) as http:
        got = await http.get("/healthz", headers={HEADER: "probe-1"})
    assert got.status_code == 200 and got.headers[HEADER] == "probe-1"
