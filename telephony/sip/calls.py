"""Calls: ``CallHandle`` (asyncio side) and ``PjCall`` (its pjsua2 object on the pjsip thread).

A ``CallHandle`` never holds a pjsua2 object: it refers to its call by an integer
key, and every operation is sent to the pjsip thread, which looks the call up.
This keeps every pjsua2 object on the pjsip thread and lets the stack drop all of
them before ``libDestroy()`` however long the application keeps handles around.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pjsua2 as pj

from telephony.sip._aio import Waitable, resolve
from telephony.sip.config import IncomingAction, IncomingPolicy
from telephony.sip.errors import CallFailed, SipError, SipStackError
from telephony.sip.stack import PjTimer, describe_pj_error, destroy_now

if TYPE_CHECKING:
    from telephony.sip.phones import PjAccount
    from telephony.sip.stack import SipStack

log = logging.getLogger(__name__)

Direction = Literal["outgoing", "incoming"]
DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")
_RECORDING_FLUSH_TIMEOUT_S = 2.0


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
        stack: SipStack,
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
        await self._stack._on_call(self.key, lambda c: c.respond(status), f"answer {self}")

    async def reject(self, status: int = 486) -> None:
        """Reject an unanswered incoming call with a final error status (e.g. 486, 603)."""
        if self.direction != "incoming":
            raise CallFailed(f"cannot reject outgoing call {self}")
        if not 300 <= status < 700:
            raise ValueError(f"{status} is not a final error status")
        await self._stack._on_call(self.key, lambda c: c.end_call(status), f"reject {self}")

    async def hangup(self, status: int | None = None) -> None:
        """Hang up (BYE, CANCEL or a final response); a no-op if already ended.

        Returns once the request is sent; use ``wait_ended()`` for the outcome.
        """
        if self.ended:
            return
        try:
            await self._stack._on_call(self.key, lambda c: c.end_call(status), f"hang up {self}")
        except CallFailed:
            log.debug("hangup of %s: call already ended", self)

    async def send_dtmf(self, digits: str) -> None:
        """Queue ``digits`` for sending as RFC 4733 events (about 0.2 s per digit)."""
        bad = set(digits) - DTMF_DIGITS
        if bad or not digits:
            raise ValueError(f"invalid DTMF digits {digits!r}")
        await self._stack._on_call(
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
            stack._notify(resolve, done, reached_end)

        player_id = await stack._on_call(
            self.key, lambda c: c.start_player(path, loop, on_done), f"play {path} on {self}"
        )
        try:
            return await done
        except asyncio.CancelledError:
            if stack.running:
                stack.post(lambda: self._stop_player(player_id), f"stop playback on {self}")
            raise

    def _stop_player(self, player_id: int) -> None:
        core = self._stack._calls.get(self.key)
        if core is not None:
            core.stop_player(player_id)

    async def start_recording(self, wav_path: Path | str, *, media_timeout: float = 10.0) -> Path:
        """Record what this phone hears from the remote into ``wav_path`` until the end.

        The file is complete after ``stop_recording()`` or ``wait_ended()`` returns.
        """
        path = Path(wav_path)
        await self.wait_media(media_timeout)
        await self._stack._on_call(
            self.key, lambda c: c.start_recorder(path), f"record {self} into {path}"
        )
        return path

    async def stop_recording(self, timeout: float = 5.0) -> list[Path]:
        """Stop all recordings of this call and wait until the WAV files are complete."""
        done: asyncio.Future[list[Path]] = asyncio.get_running_loop().create_future()
        stack = self._stack

        def on_done(paths: list[Path]) -> None:
            stack._notify(resolve, done, paths)

        await stack._on_call(
            self.key, lambda c: c.stop_recorders(on_done), f"stop recording on {self}"
        )
        try:
            async with asyncio.timeout(timeout):
                return await done
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout} s waiting for recordings of {self} to be flushed"
            ) from None

    # ----------------------------------------- updates from the pjsip thread

    def _on_info(self, sip_call_id: str, remote_uri: str) -> None:
        self.sip_call_id = sip_call_id
        self.remote_uri = remote_uri

    def _on_ringing(self, at: float, status: int) -> None:
        if self.ringing_at is None:
            self.ringing_at = at
        self.last_status = status
        self._wake()

    def _on_answered(self, at: float, status: int) -> None:
        self.answered_at = at
        self.last_status = status
        self._wake()

    def _on_media(self, at: float, codec: str, local_rtp: str) -> None:
        if self.media_at is None:
            self.media_at = at
        self.codec, self.local_rtp = codec, local_rtp
        self._wake()

    def _on_dtmf(self, digit: str) -> None:
        self.dtmf_digits.append(digit)
        self.received_dtmf.put_nowait(digit)

    def _on_recording(self, path: Path) -> None:
        self.recordings.append(path)

    def _on_ended(self, at: float, status: int, reason: str) -> None:
        if self.ended_at is not None:
            return
        self.last_status = status
        self.last_reason = reason
        self.ended_at = at
        self._wake()


def wav_is_finalized(path: Path) -> bool:
    """True once pjmedia's WAV writer has written the final RIFF length on close."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(8)
    except FileNotFoundError:
        return True
    if len(header) < 8:
        return False
    (riff_len,) = struct.unpack_from("<I", header, 4)
    return bool(riff_len == size - 8)


class _Player(pj.AudioMediaPlayer):  # type: ignore[misc]
    """WAV player whose EOF (reported on a pjmedia thread) is forwarded to the pjsip thread."""

    def __init__(
        self,
        stack: SipStack,
        player_id: int,
        looping: bool,
        on_done: Callable[[bool], None] | None,
        on_eof: Callable[[_Player], None],
    ) -> None:
        super().__init__()
        self.stack = stack
        self.player_id = player_id
        self.looping = looping
        self.on_done = on_done
        self._on_eof = on_eof

    def onEof2(self) -> None:
        # Runs on pjmedia's event thread: never touch pjsua2 here, and never destroy
        # the player from inside this callback.
        if self.looping:
            return
        try:
            self.stack.post(lambda: self._on_eof(self), "finish playback")
        except SipStackError:
            log.debug("playback EOF after the stack stopped")
        except Exception:
            log.exception("cannot forward playback EOF")


class PjCall(pj.Call):  # type: ignore[misc]
    """The pjsua2 ``Call`` of one ``CallHandle``; lives on the pjsip thread only.

    The stack keeps a strong reference while the call exists (pjsua2 crashes if the
    Python object is collected under a live call) and drops it right after
    DISCONNECTED, before a later call can reuse the pjsua call slot.
    """

    def __init__(
        self,
        stack: SipStack,
        account: PjAccount,
        handle: CallHandle,
        *,
        call_id: int = pj.PJSUA_INVALID_ID,
        policy: IncomingPolicy | None = None,
    ) -> None:
        super().__init__(account, call_id)
        self.stack = stack
        self.handle = handle
        self.key = handle.key
        self.policy = policy
        self.ringing_seen = False
        self.confirmed = False
        self.disconnected = False
        self.finalizing = False
        self.end_notified = False
        self.last_status = 0
        self.end_info: tuple[float, int, str] | None = None
        self.audio: Any = None
        self.audio_port: int | None = None
        self.players: list[_Player] = []
        self.recorders: list[tuple[Any, Path]] = []
        self.timers: list[PjTimer] = []

    def __repr__(self) -> str:
        return f"<PjCall #{self.key} {self.handle.direction} {self.handle.phone_user}>"

    # ------------------------------------------------------------ callbacks

    def onCallState(self, prm: Any) -> None:
        try:
            self._state_changed()
        except Exception:
            log.exception("onCallState failed for %r", self)

    def onCallMediaState(self, prm: Any) -> None:
        try:
            self._media_changed()
        except Exception:
            log.exception("onCallMediaState failed for %r", self)

    def onDtmfDigit(self, prm: Any) -> None:
        try:
            self.stack._notify(self.handle._on_dtmf, str(prm.digit))
        except Exception:
            log.exception("onDtmfDigit failed for %r", self)

    def _state_changed(self) -> None:
        ci = self.getInfo()
        now = time.time()
        status, reason, state = int(ci.lastStatusCode), str(ci.lastReason), ci.state
        self.last_status = status
        if state == pj.PJSIP_INV_STATE_EARLY and self.handle.direction == "outgoing":
            if not self.ringing_seen:
                self.ringing_seen = True
                self.stack._notify(self.handle._on_ringing, now, status)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            log.debug("%r confirmed", self)
            self.stack._notify(self.handle._on_answered, now, status)
            if self.policy is not None and self.policy.hangup_after_s is not None:
                self.later(self.policy.hangup_after_s, lambda: self.end_call(None), "auto hangup")
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
            log.debug("%r disconnected: %s %s", self, status, reason)
            self._disconnected(now, status, reason)

    def _media_changed(self) -> None:
        if self.disconnected:
            return
        ci = self.getInfo()
        index = next(
            (
                int(mi.index)
                for mi in ci.media
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            ),
            None,
        )
        if index is None:
            return  # on hold or no audio: keep players/recorders until media returns
        audio = self.getAudioMedia(index)
        first = self.audio_port is None
        port = int(audio.getPortId())
        moved = not first and port != self.audio_port
        self.audio, self.audio_port = audio, port
        # Like a real phone's microphone in a quiet room: the (null) capture device sends
        # silence all the time. Without a steady RTP stream Asterisk's strict-RTP learning may
        # not have accepted our address yet when the first DTMF event arrives, and drops it.
        self.stack._endpoint.audDevManager().getCaptureDevMedia().startTransmit(audio)
        if first:
            codec = str(self.getStreamInfo(index).codecName)
            local_rtp = str(self.getMedTransportInfo(index).localRtpName)
            self.stack._notify(self.handle._on_media, time.time(), codec, local_rtp)
            self._apply_policy_media()
        elif moved:
            for player in self.players:
                player.startTransmit(audio)
            for recorder, _ in self.recorders:
                audio.startTransmit(recorder)

    def _apply_policy_media(self) -> None:
        policy = self.policy
        if policy is None or policy.action is not IncomingAction.ANSWER:
            return
        if policy.record_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{self.handle.phone_user}-{stamp}-{self.key}.wav"
            try:
                self.start_recorder(policy.record_dir / name)
            except (SipError, OSError):
                log.exception("auto-record failed on %r", self)
        if policy.play is not None:
            try:
                self.start_player(policy.play, policy.loop_play, None)
            except (SipError, OSError):
                log.exception("auto-play failed on %r", self)

    def _disconnected(self, now: float, status: int, reason: str) -> None:
        self.disconnected = True
        self.end_info = (now, status, reason)
        # pjsua2 has already deleted the call's AudioMedia: its slot is gone.
        self.audio, self.audio_port = None, None
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        for player in list(self.players):
            self.finish_player(player, reached_end=False)
        self.finalizing = True

        def finished(_: list[Path]) -> None:
            self.finalizing = False
            self._notify_end(now, status, reason)
            self.stack._schedule_release(self.key)

        self._drop_recorders_then(finished)

    def _notify_end(self, at: float, status: int, reason: str) -> None:
        if not self.end_notified:
            self.end_notified = True
            self.stack._notify(self.handle._on_ended, at, status, reason)

    # ------------------------------------------------------------ operations

    def later(self, delay: float, fn: Callable[[], None], what: str) -> None:
        """Run ``fn`` after ``delay`` s on the pjsip thread unless the call ends first."""

        def run() -> None:
            if not self.disconnected:
                fn()

        self.timers.append(self.stack._call_later(delay, run, f"{what} on {self!r}"))

    def respond(self, status: int) -> None:
        """Send a response to the INVITE (1xx/2xx, or a final error to reject)."""
        prm = pj.CallOpParam()
        prm.statusCode = status
        try:
            self.answer(prm)
        except pj.Error as exc:
            raise CallFailed(
                f"cannot answer {self!r} with {status}: {describe_pj_error(exc)}"
            ) from exc

    def end_call(self, status: int | None) -> None:
        """Hang up: BYE when confirmed, CANCEL when calling out, else a final response."""
        if self.disconnected:
            return
        prm = pj.CallOpParam()
        if status is not None:
            prm.statusCode = status
        try:
            self.hangup(prm)
        except pj.Error as exc:
            raise CallFailed(f"cannot hang up {self!r}: {describe_pj_error(exc)}") from exc

    def dial_dtmf(self, digits: str) -> None:
        if self.audio is None:
            raise CallFailed(f"cannot send DTMF on {self!r}: no active audio media")
        try:
            self.dialDtmf(digits)
        except pj.Error as exc:
            raise CallFailed(f"cannot send DTMF on {self!r}: {describe_pj_error(exc)}") from exc

    def start_player(
        self, path: Path, looping: bool, on_done: Callable[[bool], None] | None
    ) -> int:
        """Start transmitting ``path`` into the call; return the player id."""
        if self.audio is None:
            raise CallFailed(f"cannot play on {self!r}: no active audio media")
        if not path.is_file():
            raise FileNotFoundError(f"WAV file to play not found: {path}")
        player = _Player(self.stack, self.stack._new_key(), looping, on_done, self._player_eof)
        try:
            player.createPlayer(str(path), 0 if looping else pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self.audio)
        except pj.Error as exc:
            raise SipError(f"cannot play {path} on {self!r}: {describe_pj_error(exc)}") from exc
        self.players.append(player)
        return player.player_id

    def _player_eof(self, player: _Player) -> None:
        self.finish_player(player, reached_end=True)

    def stop_player(self, player_id: int) -> None:
        for player in list(self.players):
            if player.player_id == player_id:
                self.finish_player(player, reached_end=False)

    def finish_player(self, player: _Player, *, reached_end: bool) -> None:
        if player not in self.players:
            return
        self.players.remove(player)
        if self.audio is not None:
            try:
                player.stopTransmit(self.audio)
            except pj.Error as exc:
                log.debug("stopTransmit of player on %r: %s", self, describe_pj_error(exc))
        if player.on_done is not None:
            player.on_done(reached_end)
        self.stack._retire(player)

    def start_recorder(self, path: Path) -> None:
        """Record the audio received from the remote party into ``path``."""
        if self.audio is None:
            raise CallFailed(f"cannot record {self!r}: no active audio media")
        path.parent.mkdir(parents=True, exist_ok=True)
        recorder = pj.AudioMediaRecorder()
        try:
            recorder.createRecorder(str(path))
            self.audio.startTransmit(recorder)
        except pj.Error as exc:
            raise SipError(f"cannot record {self!r} into {path}: {describe_pj_error(exc)}") from exc
        self.recorders.append((recorder, path))
        self.stack._notify(self.handle._on_recording, path)

    def stop_recorders(self, on_done: Callable[[list[Path]], None]) -> None:
        self._drop_recorders_then(on_done)

    def _drop_recorders_then(self, then: Callable[[list[Path]], None]) -> None:
        """Destroy the recorders, then call ``then`` once the WAV files are complete."""
        paths: list[Path] = []
        while self.recorders:
            recorder, path = self.recorders.pop()
            if self.audio is not None:
                try:
                    self.audio.stopTransmit(recorder)
                except pj.Error as exc:
                    log.debug("stopTransmit to recorder on %r: %s", self, describe_pj_error(exc))
            # Destroys the pjmedia port; the WAV header is written later on the clock thread.
            destroy_now(recorder)
            paths.append(path)
        deadline = time.monotonic() + _RECORDING_FLUSH_TIMEOUT_S

        def check() -> None:
            pending = [p for p in paths if not wav_is_finalized(p)]
            if pending and time.monotonic() < deadline:
                self.stack._call_later(0.02, check, "wait for recordings to flush")
                return
            if pending:
                log.warning("recordings %s of %r not finalised in time", pending, self)
            then(paths)

        check()

    # -------------------------------------------------------------- shutdown

    def hangup_for_shutdown(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        if not self.disconnected:
            try:
                self.end_call(None)
            except CallFailed as exc:
                log.debug("shutdown hangup: %s", exc)

    def destroy(self) -> None:
        """Delete the pjsua2 Call now (pjsip thread); the Python object becomes inert."""
        self.disconnected = True
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        self.audio = None
        destroy_now(self)

    def force_release(self) -> None:
        """Last step before the stack drops this object: free media, report the end."""
        for player in list(self.players):
            self.finish_player(player, reached_end=False)
        if self.recorders:
            self._drop_recorders_then(lambda _: None)
        self.audio = None
        at, status, reason = self.end_info or (time.time(), self.last_status, "SIP stack stopped")
        self._notify_end(at, status, reason)
