"""Logging for the service and every worker process: readable text (the default) or JSON lines,
and the call, agent, PBX, HTTP request and survey each line is about.

One function, ``configure_logging``, sets up the root logger for every entry point (the CLI,
the transcription and survey workers, the survey-dialling processes): the ``logging:`` section,
overridden by ``HOTLINE_LOG_FORMAT`` / ``HOTLINE_LOG_LEVEL`` in the environment (so a worker
started on its own, or by a tool that only sets the environment, logs the same way).

The context comes from ``contextvars``: the code that works for a call, an agent, a request or
a survey sets it with ``log_context`` (a block) or ``bind`` (the rest of a task or thread of its
own), and ``ContextFilter`` copies it onto each record. asyncio tasks and ``asyncio.to_thread``
start with a copy of the context they were made in, so look-ups a call starts carry its id too;
a plain ``threading.Thread`` does not (run its target in ``contextvars.copy_context()``).

The context variables are module-level by nature (a ``ContextVar`` is a key into each task's
context, not shared state); everything else is built by ``configure_logging``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import IO, Any, Literal

from pydantic import field_validator
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from hotline.core.errors import ConfigError
from telephony.settings import Strict

FORMAT_ENV = "HOTLINE_LOG_FORMAT"
LEVEL_ENV = "HOTLINE_LOG_LEVEL"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# The context a line may carry: record attribute (and JSON key) → its name in text lines.
# ``agent`` is the agent's extension, as the PBX and the call records name it ("1001");
# ``agent_id`` the agent's sign-in name, where the code knows the person (desk, pages, API).
CONTEXT = {
    "call_id": "call",
    "agent": "agent",
    "agent_id": "agent_id",
    "pbx": "pbx",
    "request_id": "req",
    "survey": "survey",
}
_vars: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"hotline.log.{name}", default=None) for name in CONTEXT
}
HANDLER_NAME = "hotline"  # the root handler configure_logging installs (and replaces)


class LogSettings(Strict):
    """``logging:``: how the service and its workers write their log (to standard error)."""

    # text: "time LEVEL logger [call=... agent=...]: message"; json: one JSON object a line.
    format: LogFormat = "text"
    level: LogLevel = "INFO"

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.strip().upper() if isinstance(v, str) else v

    def with_environment(self, environ: Mapping[str, str]) -> LogSettings:
        """These settings with the environment's overrides; a bad value is a ``ConfigError``."""
        fmt = environ.get(FORMAT_ENV, "").strip().lower() or self.format
        level = environ.get(LEVEL_ENV, "").strip().upper() or self.level
        problems = []
        if fmt not in FORMATS:
            problems.append(f"{FORMAT_ENV}: must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if level not in LEVELS:
            problems.append(f"{LEVEL_ENV}: must be one of {', '.join(LEVELS)}, not {level!r}")
        if problems:
            raise ConfigError("environment", problems)
        return self.model_copy(update={"format": fmt, "level": level})


# -- the context ---------------------------------------------------------------------------------
def _given(fields: Mapping[str, object | None]) -> dict[str, str]:
    unknown = set(fields) - set(CONTEXT)
    if unknown:
        raise TypeError(f"no log context field {', '.join(sorted(unknown))}")
    return {k: str(v) for k, v in fields.items() if v is not None and v != ""}


@contextlib.contextmanager
def log_context(**fields: object | None) -> Iterator[None]:
    """Lines logged in the block carry these fields (``CONTEXT``: ``call_id``, ``agent``,
    ``agent_id``, ``pbx``, ``request_id``, ``survey``); None or "" leaves a field as it was.
    Tasks created in the block keep them."""
    tokens = [(_vars[k], _vars[k].set(v)) for k, v in _given(fields).items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind(**fields: object | None) -> None:
    """Set fields for the rest of the current task (or thread): for code that runs in a task
    of its own, such as one FastAGI session, where the server's own lines about it should
    carry them too."""
    for k, v in _given(fields).items():
        _vars[k].set(v)


def current_context() -> dict[str, str]:
    """The fields set here and now."""
    return {k: v for k, var in _vars.items() if (v := var.get()) is not None}


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (on the handler: records of every logger
    pass it). A field the call already gave (``extra={"call_id": ...}``) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for k, v in current_context().items():
            if getattr(record, k, None) is None:
                setattr(record, k, v)
        return True


def _context_of(record: logging.LogRecord) -> dict[str, str]:
    return {k: str(v) for k in CONTEXT if (v := getattr(record, k, None)) not in (None, "")}


# -- the formats ---------------------------------------------------------------------------------
class TextFormatter(logging.Formatter):
    """Today's readable line; the context, when there is some, in brackets after the logger's
    name: ``... INFO hotline.calls.feed [call=pbx1-1763700000.12 agent=1001]: call ended``. The
    PBX is left out when the call id already names it."""

    def __init__(self, process: str = "") -> None:
        # ``process``: a worker process's id, after the time, as the workers always wrote it.
        head = f"%(asctime)s {process} " if process else "%(asctime)s "
        super().__init__(head + "%(levelname)s %(name)s%(_context)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        ctx = _context_of(record)
        call, pbx = ctx.get("call_id", ""), ctx.get("pbx")
        if pbx and call.startswith(pbx + "-"):
            del ctx["pbx"]
        # Underscored: a JSON handler beside this one leaves it out.
        record._context = (
            " [" + " ".join(f"{CONTEXT[k]}={v}" for k, v in ctx.items()) + "]" if ctx else ""
        )
        return super().formatMessage(record)


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: ``time`` (ISO 8601 with the UTC offset, to the microsecond),
    ``level``, ``logger``, ``message``, then the context present (``call_id``, ``agent``,
    ``agent_id``, ``pbx``, ``request_id``, ``survey``), ``worker`` (a worker process's id),
    ``exc_info`` with the traceback, and any ``extra`` fields."""

    def __init__(self, process: str = "") -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            # uvicorn's copy of the message with terminal colours: noise in a JSON line.
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
            json_ensure_ascii=False,  # Chinese text stays readable
        )
        self._process = process

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = iso_time(record.created)
        super().add_fields(log_data, record, message_dict)
        if self._process:
            log_data["worker"] = self._process


def iso_time(created: float) -> str:
    """A record's time as ISO 8601 in the machine's zone, with its offset."""
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="microseconds")


def make_handler(
    settings: LogSettings, *, process: str = "", stream: IO[str] | None = None
) -> logging.Handler:
    """A stream handler (standard error by default) in the settings' format, with the
    context filter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    formatter: logging.Formatter = (
        JsonFormatter(process) if settings.format == "json" else TextFormatter(process)
    )
    handler.setFormatter(formatter)
    return handler


def configure_logging(
    settings: LogSettings,
    *,
    verbose: bool = False,
    process: str = "",
    environ: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> LogSettings:
    """Set up the root logger of this process; returns the settings in force (the
    environment's overrides applied, DEBUG when ``verbose``), for the processes it starts.
    Called again (a worker process, a reload), it replaces its own handler and no other."""
    effective = settings.with_environment(os.environ if environ is None else environ)
    if verbose:
        effective = effective.model_copy(update={"level": "DEBUG"})
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(make_handler(effective, process=process, stream=stream))
    root.setLevel(effective.level)
    # jieba (the drafts' Mandarin word segmenter) logs loading its dictionary at DEBUG through
    # a stderr handler of its own, added when imported: through ours, and warnings only.
    segmenter = logging.getLogger("jieba")
    for own in list(segmenter.handlers):
        segmenter.removeHandler(own)
    segmenter.setLevel(logging.WARNING)
    return effective
