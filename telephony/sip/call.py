"""``CallHandle``: the asyncio side of one call (its pjsua2 side is ``pj_call.PjCall``).

A ``CallHandle`` never holds a pjsua2 object: it refers to its call by an integer
key, and every operation is sent to the pjsip thread, which looks the call up.
This keeps every pjsua2 object on the pjsip thread and lets the stack drop all of
them before ``libDestroy()`` however long the application keeps handles around.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from telephony.sip._aio import Waitable, resolve
from telephony.sip.errors import CallFailed
from telephony.sip.ports import CallHost, Direction

log = logging.getLogger(__name__)

DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")


@dataclass(frozen=True)
class CallEnd:
    """How a call ended: wall-clock time and the last SIP status code/reason."""

    ended_at: float
    status: int
    reason: str


class CallHandle(Waitable):
    """Asyncio-side view of one call (outgoing from ``Phone.dial`` or incoming).

    Timestamps are ``time.time()`` values taken on the pjsip thread when the event
    happened. ``received_dtmf`` is a queue of digits received via RFC 4733;
    ``dtmf_digits`` keeps all of them in order.
    """

    def __init__(
        self,
        stack: CallHost,
        key: int,
        *,
        direction: Direction,
        phone_user: str,
        remote_uri: str = "",
    ) -> None:
        super().__init__()
        self._stack = stack
        self.key = key
        self.direction: Direction = direction
        self.phone_user = phone_user
        self.remote_uri = remote_uri
        self.sip_call_id = ""
        self.ringing_at: float | None = None
        self.answered_at: float | None = None
        self.media_at: float | None = None
        self.ended_at: float | None = None
        self.last_status = 0
        self.last_reason = ""
        self.received_dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.dtmf_digits: list[str] = []
        self.recordings: list[Path] = []
        self.invite = ""  # raw INVITE text, incoming calls only
        self.codec = ""  # negotiated audio codec, e.g. "PCMU"
        self.local_rtp = ""  # "host:port" of this phone's RTP socket for the call

    def __repr__(self) -> str:
        state = "ended" if self.ended else "answered" if self.answered_at else "setup"
        return (
            f"<CallHandle #{self.key} {self.direction} {self.phone_user}<->"
            f"{self.remote_uri or '?'} {state} last_status={self.last_status}>"
        )

    @property
    def ended(self) -> bool:
        """True once the call is over (and its recordings are flushed)."""
        return self.ended_at is not None

    @property
    def end(self) -> CallEnd | None:
        """The ``CallEnd`` once the call is over."""
        if self.ended_at is None:
            return None
        return CallEnd(self.ended_at, self.last_status, self.last_reason)

    def request_header(self, name: str) -> str | None:
        """Value of header ``name`` in the received INVITE (incoming calls only)."""
        head = self.invite.split("\r\n\r\n", 1)[0]
        for line in head.split("\r\n")[1:]:
            hname, sep, value = line.partition(":")
            if sep and hname.strip().lower() == name.lower():
                return value.strip()
        return None

    # ------------------------------------------------------------- waiting

    async def wait_ringing(self, timeout: float | None = None) -> float:
        """Wait for 180/183 (outgoing) or our 180 (incoming); return its time."""
        await self._wait_until(
            lambda: self.ringing_at is not None or self.ended, timeout, f"ringing of {self}"
        )
        if self.ringing_at is None:
            raise self._failed("ended before ringing")
        return self.ringing_at

    async def wait_answered(self, timeout: float | None = None) -> float:
        """Wait until the call is CONFIRMED; return that time. ``CallFailed`` if it ended."""
        await self._wait_until(
            lambda: self.answered_at is not None or self.ended, timeout, f"answer of {self}"
        )
        if self.answered_at is None:
            raise self._failed("ended without being answered")
        return self.answered_at

    async def wait_media(self, timeout: float | None = None) -> float:
        """Wait until audio media is active; return that time. ``CallFailed`` if it ended."""
        await self._wait_until(
            lambda: self.media_at is not None or self.ended, timeout, f"audio media of {self}"
        )
        if self.media_at is None:
            raise self._failed("ended before audio media was active")
        return self.media_at

    async def wait_ended(self, timeout: float | None = None) -> CallEnd:
        """Wait for the end of the call (recordings are complete files by then)."""
        await self._wait_until(lambda: self.ended, timeout, f"end of {self}")
        end = self.end
        assert end is not None
        return end

    def _failed(self, what: str) -> CallFailed:
        return CallFailed(
            f"call {self} {what}: {self.last_status} {self.last_reason}".rstrip(),
            self.last_status,
            self.last_reason,
        )

    # ------------------------------------------------------------- actions

    async def answer(self, status: int = 200) -> None:
        """Answer an incoming call (2xx) or send a provisional response (1xx)."""
        if self.direction != "incoming":
            raise CallFailed(f"cannot answer outgoing call {self}")
        if not 100 < status < 300:
            raise ValueError(f"{status} is not a provisional or success status")
        await self._stack.run_on_call(self.key, lambda c: c.respond(status), f"answer {self}")

    async def reject(self, status: int = 486) -> None:
        """Reject an unanswered incoming call with a final error status (e.g. 486, 603)."""
        if self.direction != "incoming":
            raise CallFailed(f"cannot reject outgoing call {self}")
        if not 300 <= status < 700:
            raise ValueError(f"{status} is not a final error status")
        await self._stack.run_on_call(self.key, lambda c: c.end_call(status), f"reject {self}")

    async def hangup(self, status: int | None = None) -> None:
        """Hang up (BYE, CANCEL or a final response); a no-op if already ended.

        Returns once the request is sent; use ``wait_ended()`` for the outcome.
        """
        if self.ended:
            return
        try:
            await self._stack.run_on_call(self.key, lambda c: c.end_call(status), f"hang up {self}")
        except CallFailed:
            log.debug("hangup of %s: call already ended", self)

    async def send_dtmf(self, digits: str) -> None:
        """Queue ``digits`` for sending as RFC 4733 events (about 0.2 s per digit)."""
        bad = set(digits) - DTMF_DIGITS
        if bad or not digits:
            raise ValueError(f"invalid DTMF digits {digits!r}")
        await self._stack.run_on_call(
            self.key, lambda c: c.dial_dtmf(digits), f"send DTMF {digits!r} on {self}"
        )

    async def play(
        self, wav_path: Path | str, *, loop: bool = False, media_timeout: float = 10.0
    ) -> bool:
        """Transmit a 16-bit mono WAV into the call and wait until it has been played.

        Waits up to ``media_timeout`` for audio media first. Returns True when the
        file was played to the end, False when the call ended first (a looping
        playback only ends with the call). Cancelling the awaiting task stops it.
        """
        path = Path(wav_path)
        await self.wait_media(media_timeout)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        stack = self._stack

        def on_done(reached_end: bool) -> None:
            stack.notify(resolve, done, reached_end)

        player_id = await stack.run_on_call(
            self.key, lambda c: c.start_player(path, loop, on_done), f"play {path} on {self}"
        )
        try:
            return await done
        except asyncio.CancelledError:
            if stack.running:
                stack.post_on_call(
                    self.key, lambda c: c.stop_player(player_id), f"stop playback on {self}"
                )
            raise

    async def start_recording(self, wav_path: Path | str, *, media_timeout: float = 10.0) -> Path:
        """Record what this phone hears from the remote into ``wav_path`` until the end.

        The file is complete after ``stop_recording()`` or ``wait_ended()`` returns.
        """
        path = Path(wav_path)
        await self.wait_media(media_timeout)
        await self._stack.run_on_call(
            self.key, lambda c: c.start_recorder(path), f"record {self} into {path}"
        )
        return path

    async def stop_recording(self, timeout: float = 5.0) -> list[Path]:
        """Stop all recordings of this call and wait until the WAV files are complete."""
        done: asyncio.Future[list[Path]] = asyncio.get_running_loop().create_future()
        stack = self._stack

        def on_done(paths: list[Path]) -> None:
            stack.notify(resolve, done, paths)

        await stack.run_on_call(
            self.key, lambda c: c.stop_recorders(on_done), f"stop recording on {self}"
        )
        try:
            async with asyncio.timeout(timeout):
                return await done
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout} s waiting for recordings of {self} to be flushed"
            ) from None

    # ------------- updates from the pjsip thread (``CallEvents``, run on the loop)

    def on_ringing(self, at: float, status: int) -> None:
        if self.ringing_at is None:
            self.ringing_at = at
        self.last_status = status
        self._wake()

    def on_answered(self, at: float, status: int) -> None:
        self.answered_at = at
        self.last_status = status
        self._wake()

    def on_media(self, at: float, codec: str, local_rtp: str) -> None:
        if self.media_at is None:
            self.media_at = at
        self.codec, self.local_rtp = codec, local_rtp
        self._wake()

    def on_dtmf(self, digit: str) -> None:
        self.dtmf_digits.append(digit)
        self.received_dtmf.put_nowait(digit)

    def on_recording(self, path: Path) -> None:
        self.recordings.append(path)

    def on_ended(self, at: float, status: int, reason: str) -> None:
        if self.ended_at is not None:
            return
        self.last_status = status
        self.last_reason = reason
        self.ended_at = at
        self._wake()
