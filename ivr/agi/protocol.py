"""AGI protocol without I/O: bytes in, requests and replies out; commands to bytes.

The FastAGI server feeds this module what it reads and sends what it returns, so every parsing
rule (and every malformed input) is testable without sockets or an Asterisk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.errors import AgiProtocolError

MAX_HEADER_BYTES = 16 * 1024  # a real header is under 2 KiB; anything larger is not Asterisk
HEADER_END = b"\n\n"
_HEADER_LINE = re.compile(r"^(agi_[a-z0-9_]+): ?(.*)$")
_REPLY = re.compile(r"^(\d{3})(?: result=(-?\S*)(?: \((.*?)\))?)?(.*)$")
REQUIRED = ("agi_request", "agi_channel", "agi_uniqueid")


@dataclass(frozen=True)
class AgiRequest:
    """The header Asterisk sends when a call enters ``AGI(agi://host:port/script)``."""

    headers: dict[str, str]

    @property
    def script(self) -> str:
        """The path of the AGI URL without its leading slash, e.g. ``ivr/main``."""
        return self.headers.get("agi_network_script", "").strip("/")

    @property
    def channel(self) -> str:
        return self.headers["agi_channel"]

    @property
    def uniqueid(self) -> str:
        return self.headers["agi_uniqueid"]

    @property
    def caller_number(self) -> str:
        num = self.headers.get("agi_callerid", "")
        return "" if num == "unknown" else num

    @property
    def dialled(self) -> str:
        return self.headers.get("agi_dnid") or self.headers.get("agi_extension", "")


def parse_request(block: bytes) -> AgiRequest:
    """Parse a complete header block (up to and including the blank line)."""
    if len(block) > MAX_HEADER_BYTES:
        raise AgiProtocolError(f"AGI header longer than {MAX_HEADER_BYTES} bytes")
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgiProtocolError(f"AGI header is not UTF-8 ({exc.reason})") from None
    headers: dict[str, str] = {}
    for line in text.rstrip("\n").split("\n"):
        m = _HEADER_LINE.match(line.rstrip("\r"))
        if m is None:
            raise AgiProtocolError(f"not an AGI header line: {line[:60]!r}")
        headers[m.group(1)] = m.group(2)
    missing = [k for k in REQUIRED if k not in headers]
    if missing:
        raise AgiProtocolError(f"AGI header lacks {', '.join(missing)}")
    return AgiRequest(headers)


@dataclass(frozen=True)
class AgiReply:
    """One reply line, e.g. ``200 result=49 endpos=8000`` or ``200 result= (timeout)``."""

    code: int
    result: str = ""
    data: str = ""  # the parenthesised part: "timeout", "hangup", a variable's value
    rest: str = ""  # anything after, e.g. "endpos=8000"
    usage: str = ""  # the text of a 520 usage error

    @property
    def digit(self) -> str | None:
        """For STREAM FILE / WAIT FOR DIGIT: the key pressed, or None (0 = no key)."""
        try:
            code = int(self.result)
        except ValueError:
            return None
        return chr(code) if code > 0 else None


class ReplyReader:
    """Turns reply lines into ``AgiReply`` objects; tracks the asynchronous ``HANGUP`` notice.

    Feed it one line at a time (without the newline). It returns a reply once one is complete:
    ``100 Trying`` is provisional and ``520-`` starts a multi-line usage text.
    """

    def __init__(self) -> None:
        self.hangup_seen = False
        self._usage: list[str] | None = None

    def feed(self, raw: bytes) -> AgiReply | None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = "\n".join(self._usage), None
                return AgiReply(520, usage=usage)
            self._usage.append(line)
            return None
        if line == "HANGUP":
            # Sent once when the channel hangs up (FastAGI's SIGHUP); the reply still follows.
            self.hangup_seen = True
            return None
        if line.startswith("520-"):
            self._usage = []
            return None
        m = _REPLY.match(line)
        if m is None:
            raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
        code = int(m.group(1))
        if code == 100:
            return None
        return AgiReply(code, m.group(2) or "", m.group(3) or "", (m.group(4) or "").strip())


def format_command(*args: str) -> bytes:
    """One command line; arguments with spaces or quotes are quoted, newlines refused."""
    parts = []
    for arg in args:
        if "\n" in arg or "\r" in arg or "\0" in arg:
            raise ValueError(f"AGI argument contains a line break: {arg!r}")
        if arg == "" or any(c in arg for c in ' "\\\t'):
            arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(arg)
    return (" ".join(parts) + "\n").encode("utf-8")
