"""The AMI wire protocol without I/O: bytes in, typed messages out; actions in, bytes out.

Organised like h11: one ``AmiProtocol`` object per TCP connection holds the parsing state and
the actions awaiting replies, and never touches a socket, a clock it was not given or an event
loop. The transport (``telephony.ami.connection``) hands it whatever it reads
(``receive_data``) and takes out what is complete (``next_event`` until ``NEED_DATA``); it
writes the bytes ``send_action`` returns. The recorded streams of the replay tests go through
this same object, so the tests parse exactly as production does.

What comes out (``Received``):

* ``AmiBanner``: the ``Asterisk Call Manager/<version>`` line a PBX sends first (optional: a
  recorded stream has none);
* ``AmiEvent``: an event nobody asked for (the call tracker's input);
* ``AmiResponse``: the whole answer to one action, matched by ``ActionID``; a list answer
  (``EventList: start``, e.g. ``CoreShowChannels``) comes out once, when its ``...Complete``
  event has arrived, with the listed events in ``events``; ``Response: Follows`` (the
  ``Command`` action of Asterisk 13 and older) keeps its text in ``body``; an answer whose
  ``ActionID`` is not ours comes out too (nothing is dropped silently);
* ``AmiMalformed``: bytes that are not an AMI message (garbage, a line without ``Key: value``
  inside a message, a message larger than ``max_message_size``, a stream cut inside a
  message). Parsing goes on with the next message: one bad message never costs another.

Framing rules: a message is ``Key: Value`` lines ending in CRLF, closed by an empty line. A
message whose blank line is missing runs into the next one; a second ``Event:`` line (or a
second ``Response:`` line in a response) therefore starts a new message. Text is UTF-8; bytes
that are not (a carrier's GBK caller name) become U+FFFD instead of failing the message. Of a
key repeated in one message the last value wins in ``headers``; an ``AmiResponse`` keeps every
line in ``pairs`` (``Output`` lines of ``Command``).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from telephony.ami.events import AmiEvent, AmiResponse
from telephony.errors import AmiProtocolError

# The smallest unit Asterisk frames with, and what ends every message.
EOL: Final = "\r\n"
END: Final = b"\r\n\r\n"
_END_TEXT: Final = "\r\n\r\n"
BANNER_PREFIX: Final = b"Asterisk Call Manager/"
# What closes the body of ``Response: Follows`` (Asterisk <= 13's Command output).
END_COMMAND: Final = "--END COMMAND--"
_FOLLOWS: Final = "Response: Follows"
# A real AMI message is a few KiB; a CoreShowChannels list is many messages, not one big one.
MAX_MESSAGE_SIZE: Final = 1024 * 1024
MAX_BANNER: Final = 256  # a greeting line is about 30 bytes
# How much of offending bytes an ``AmiMalformed`` keeps (enough to recognise them in a log).
EXCERPT: Final = 200

ActionValue = str | list[str] | tuple[str, ...]  # a list: the header repeated (Originate Variable)


class NeedData:
    """``next_event``'s answer when nothing complete is buffered: feed more bytes."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


@dataclass(frozen=True)
class AmiBanner:
    """The greeting line, e.g. ``Asterisk Call Manager/5.0.2``."""

    text: str

    @property
    def version(self) -> str:
        return self.text.partition("/")[2].strip()


@dataclass(frozen=True)
class AmiMalformed:
    """Bytes that were not an AMI message; they were skipped, nothing else was."""

    reason: str
    data: bytes  # the start of the offending bytes (at most ``EXCERPT``)

    def error(self) -> AmiProtocolError:
        return AmiProtocolError(f"{self.reason}: {self.data!r}")


Received = AmiEvent | AmiResponse | AmiBanner | AmiMalformed


@dataclass
class _Pending:
    """An action sent and not yet wholly answered."""

    action: str
    as_list: bool | None
    response: tuple[str, dict[str, str], tuple[tuple[str, str], ...], float] | None = None
    items: list[AmiEvent] = field(default_factory=list)
    complete: AmiEvent | None = None
    discard: bool = False  # as_list=False but the PBX sent a list: its events are swallowed


class AmiProtocol:
    """One AMI connection's protocol state (a client: we send actions, the PBX answers).

    ``max_message_size`` bounds what is buffered for one message (bytes): a larger message is
    reported (``AmiMalformed``) and skipped up to its blank line. ``id_prefix`` starts the
    ``ActionID`` of every action sent without one.
    """

    def __init__(
        self, *, max_message_size: int = MAX_MESSAGE_SIZE, id_prefix: str = "hotline"
    ) -> None:
        self.max_message_size = max_message_size
        self._id_prefix = id_prefix
        self._ids = itertools.count(1)
        self._buf = bytearray()  # bytes after the last complete message
        self._searched = 0  # how much of _buf is known to hold no blank line
        self._at_start = True  # the banner may still come
        self._skipping = False  # inside an oversized message: drop up to its blank line
        self._follows: list[str] | None = None  # the blocks of an unfinished Response: Follows
        self._follows_size = 0  # their bytes so far
        self._follows_dropped = False  # that Response: Follows was too large: skip to its end
        self._closed = False
        self._pending: dict[str, _Pending] = {}
        self._ready: deque[Received] = deque()
        self.banner: AmiBanner | None = None

    # -- actions out ------------------------------------------------------------------------
    def send_action(
        self, action: Mapping[str, ActionValue], *, as_list: bool | None = None
    ) -> tuple[str, bytes]:
        """The bytes of ``action`` and its ``ActionID`` (given, or made here).

        ``as_list``: None reads from the answer whether a list follows (``EventList: start``,
        or a ``Message`` that says it "will follow"); True waits for a list even without that
        mark; False takes the first response as the whole answer (a list that follows anyway
        is swallowed, never passed on as unsolicited events).
        Raises ``AmiProtocolError`` for what cannot be sent safely: no ``Action``, a key or
        value with CR or LF (header injection), an ``ActionID`` already awaiting its answer.
        """
        name = action.get("Action")
        if not isinstance(name, str) or not name:
            raise AmiProtocolError(f"an action needs an 'Action' header: {dict(action)!r}")
        given = action.get("ActionID")
        if given is not None and not isinstance(given, str):
            raise AmiProtocolError("ActionID must be one string")
        action_id = given or f"{self._id_prefix}-{next(self._ids)}"
        if action_id in self._pending:
            raise AmiProtocolError(f"ActionID {action_id!r} is already awaiting its answer")
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in action.items():
            if key in ("Action", "ActionID"):
                continue
            for one in (value,) if isinstance(value, str) else value:
                lines.append(f"{key}: {one}")
        for line in lines:
            if "\r" in line or "\n" in line:
                raise AmiProtocolError(f"{name}: CR or LF in {line!r} would inject headers")
            if line.startswith(":"):
                raise AmiProtocolError(f"{name}: empty header name in {line!r}")
        self._pending[action_id] = _Pending(name, as_list)
        return action_id, (EOL.join(lines) + EOL + EOL).encode("utf-8")

    @property
    def awaiting(self) -> list[str]:
        """The ActionIDs sent and not yet wholly answered, oldest first."""
        return list(self._pending)

    # -- bytes in ---------------------------------------------------------------------------
    def receive_data(self, data: bytes, received_at: float | None = None) -> None:
        """Take bytes read from the PBX (``b""``: it closed the connection).

        Every message completed by ``data`` is parsed now, stamped ``received_at`` (default:
        now; all of one read arrived together) and queued for ``next_event``. Work is linear
        in the bytes received, however they are split (bytes already searched for a blank
        line are not searched again).
        """
        if self._closed:
            raise AmiProtocolError("data received after the end of the stream")
        now = time.time() if received_at is None else received_at
        if not data:
            self._closed = True
            self._eof()
            return
        buf = self._buf
        buf += data
        if self._at_start and not self._banner():
            return
        start = max(0, self._searched - 3)  # a blank line may straddle two reads
        if self._skipping:
            found = buf.find(END, start)
            if found < 0:
                del buf[:-3]
                self._searched = len(buf)
                return
            self._skipping = False
            del buf[: found + 4]
            start = 0
        end = buf.rfind(END, start)
        if end < 0:
            self._searched = len(buf)
            self._check_size()
            return
        text = buf[:end].decode("utf-8", "replace")
        del buf[: end + 4]
        self._searched = len(buf)  # what is left holds no blank line: rfind found the last
        self._parse(text.split(_END_TEXT), now)
        self._check_size()

    def next_event(self) -> Received | NeedData:
        """The next complete item, oldest first, or ``NEED_DATA``."""
        if self._ready:
            return self._ready.popleft()
        return NEED_DATA

    # -- framing ----------------------------------------------------------------------------
    def _banner(self) -> bool:
        """Take the greeting line off the start of the stream; False: wait for more bytes."""
        buf = self._buf
        if not buf.startswith(BANNER_PREFIX[: len(buf)]):
            self._at_start = False  # no greeting (a recorded stream): messages from byte one
            return True
        line_end = buf.find(b"\r\n")
        if line_end < 0:
            if len(buf) <= MAX_BANNER:
                return False  # wait for the rest of the line
            self._at_start = False  # too long for a greeting: framed as a message
            return True
        self._at_start = False
        self.banner = AmiBanner(buf[:line_end].decode("utf-8", "replace"))
        self._ready.append(self.banner)
        del buf[: line_end + 2]
        return True

    def _check_size(self) -> None:
        """An unfinished message over the limit: report it, then drop it up to its end."""
        buf = self._buf
        if len(buf) > self.max_message_size:
            self._oversized(bytes(buf[:EXCERPT]))
            self._skipping = True
            self._follows = None
            del buf[:-3]  # the blank line may straddle this read and the next
            self._searched = len(buf)

    def _oversized(self, head: bytes | str) -> None:
        data = head if isinstance(head, bytes) else head.encode("utf-8", "replace")
        self._ready.append(
            AmiMalformed(
                f"message larger than {self.max_message_size} bytes; skipped to its end",
                data[:EXCERPT],
            )
        )

    def _eof(self) -> None:
        rest = bytes(self._buf)
        self._buf.clear()
        if self._follows is not None:
            text = _END_TEXT.join(self._follows)
            self._follows = None
            if not self._follows_dropped:
                self._malformed("the stream ended inside a Response: Follows", text)
        if rest.strip() and not self._skipping:
            self._ready.append(AmiMalformed("the stream ended inside a message", rest[:EXCERPT]))
        self._skipping = False

    def _malformed(self, reason: str, text: str) -> None:
        self._ready.append(AmiMalformed(reason, text.encode("utf-8", "replace")[:EXCERPT]))

    # -- messages ---------------------------------------------------------------------------
    def _parse(self, blocks: Sequence[str], now: float) -> None:
        """Every complete block; the common case (an event) is kept short and fast."""
        ready = self._ready.append
        pending = self._pending
        limit = self.max_message_size // 4  # characters; above it bytes are counted
        for block in blocks:
            if self._follows is not None:
                self._follows_block(block, now)
                continue
            lines = block.split(EOL)
            first = lines[0]
            if first[:7] == "Event: " and len(block) <= limit:
                try:
                    headers = dict([line.split(": ", 1) for line in lines])
                except ValueError:  # a line without ": ": the careful path says which
                    self._careful(block, now)
                    continue
                if len(headers) != len(lines):  # a repeated key: a lost blank line?
                    self._careful(block, now)
                    continue
                if pending and (aid := headers.get("ActionID")) is not None and aid in pending:
                    self._list_item(aid, self._event(headers, now))
                    continue
                stamp = headers.get("Timestamp")
                try:
                    at = now if stamp is None else float(stamp)
                except ValueError:
                    at = now
                ready(AmiEvent(first[7:], headers, at, now))
            elif block:
                self._careful(block, now)

    def _careful(self, block: str, now: float) -> None:
        """Anything but a well-formed event: responses, Follows, repairs and garbage."""
        if len(block) > self.max_message_size // 4:
            size = len(block.encode("utf-8"))
            if size > self.max_message_size:
                self._oversized(block)
                return
        text = block.lstrip(EOL)  # stray CRLFs before a message (an extra blank line)
        if not text.strip():
            return
        if text.startswith(_FOLLOWS):
            self._follows, self._follows_size, self._follows_dropped = [], 0, False
            self._follows_block(text, now)
            return
        messages, junk = _split_messages(text.split(EOL))
        if junk:
            self._malformed(
                f"{len(junk)} line(s) not 'Key: value' of an Event or Response", EOL.join(junk)
            )
        for kind, pairs in messages:
            headers = dict(pairs)
            if kind == "Event":
                event = self._event(headers, now)
                aid = headers.get("ActionID")
                if aid is not None and aid in self._pending:
                    self._list_item(aid, event)
                else:
                    self._ready.append(event)
            else:
                self._response(headers, tuple(pairs), now)

    def _follows_block(self, block: str, now: float) -> None:
        """One more block of a ``Response: Follows``; it ends with ``--END COMMAND--``."""
        assert self._follows is not None
        if block.rstrip().endswith(END_COMMAND):
            text = _END_TEXT.join([*self._follows, block])
            self._follows = None
            if self._follows_dropped:
                self._follows_dropped = False
                return
            pairs, body = _follows_parts(text)
            self._response(dict(pairs), pairs, now, body)
        elif not self._follows_dropped:
            self._follows.append(block)
            self._follows_size += len(block.encode("utf-8")) + 4
            if self._follows_size > self.max_message_size:
                self._oversized(self._follows[0])
                self._follows = []
                self._follows_dropped = True

    def _event(self, headers: dict[str, str], now: float) -> AmiEvent:
        stamp = headers.get("Timestamp")
        try:
            at = now if stamp is None else float(stamp)
        except ValueError:
            at = now
        return AmiEvent(headers.get("Event", ""), headers, at, now)

    def _response(
        self,
        headers: dict[str, str],
        pairs: tuple[tuple[str, str], ...],
        now: float,
        body: str = "",
    ) -> None:
        status = headers.get("Response", "")
        action_id = headers.get("ActionID", "")
        pending = self._pending.get(action_id)
        if pending is None:  # not ours, or answered already: passed on, the caller decides
            self._ready.append(AmiResponse(status, headers, pairs, body=body, received_at=now))
            return
        listed = status != "Error" and (
            headers.get("EventList", "").lower() == "start"
            or "will follow" in headers.get("Message", "").lower()
            or pending.as_list is True
        )
        if not listed:
            del self._pending[action_id]
            self._ready.append(
                AmiResponse(
                    status,
                    headers,
                    pairs,
                    tuple(pending.items),
                    pending.complete,
                    body=body,
                    received_at=now,
                )
            )
        elif pending.as_list is False:
            pending.discard = True
            self._ready.append(AmiResponse(status, headers, pairs, body=body, received_at=now))
            if pending.complete is not None:
                del self._pending[action_id]
        else:
            pending.response = (status, headers, pairs, now)
            if pending.complete is not None:
                self._finish(action_id, pending)

    def _list_item(self, action_id: str, event: AmiEvent) -> None:
        pending = self._pending[action_id]
        if event.headers.get("EventList", "").lower() == "complete" or event.name.endswith(
            "Complete"
        ):
            pending.complete = event
            if pending.discard:
                del self._pending[action_id]
            elif pending.response is not None:
                self._finish(action_id, pending)
        elif not pending.discard:
            pending.items.append(event)

    def _finish(self, action_id: str, pending: _Pending) -> None:
        assert pending.response is not None
        del self._pending[action_id]
        status, headers, pairs, at = pending.response
        self._ready.append(
            AmiResponse(
                status, headers, pairs, tuple(pending.items), pending.complete, received_at=at
            )
        )


def _split_messages(
    lines: list[str],
) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[str]]:
    """Messages (kind, pairs) and junk lines of a block that the fast path refused.

    A message starts at an ``Event:`` line, or at a ``Response:`` line unless that is a header
    of an ``OriginateResponse`` event (the one event with a ``Response`` header of its own).
    Lines before the first start, and lines without a colon, are junk.
    """
    messages: list[tuple[str, list[tuple[str, str]]]] = []
    junk: list[str] = []
    current: list[tuple[str, str]] | None = None
    kind = name = ""
    for line in lines:
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")  # "Key:" (empty) or "Key:value"
            if not sep or not key.strip():
                junk.append(line)
                continue
        if key == "Event" or (key == "Response" and name != "OriginateResponse"):
            kind, name = key, value if key == "Event" else ""
            current = [(key, value)]
            messages.append((kind, current))
        elif current is None:
            junk.append(line)
        else:
            current.append((key, value))
    return messages, junk


def _follows_parts(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """Headers and body of a ``Response: Follows``: header lines first, then the command's
    output (lines ending in LF only) up to ``--END COMMAND--``."""
    content = text.rstrip()
    content = content[: -len(END_COMMAND)] if content.endswith(END_COMMAND) else content
    lines = content.split(EOL)
    pairs: list[tuple[str, str]] = []
    for n, line in enumerate(lines):
        key, sep, value = line.partition(": ")
        if not sep or "\n" in line:
            return tuple(pairs), EOL.join(lines[n:])
        pairs.append((key, value))
    return tuple(pairs), ""
