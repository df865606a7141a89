"""``PjCall``: the pjsua2 call behind one ``CallHandle``; lives on the pjsip thread only.

It reports to its handle through ``CallEvents`` (scheduled on the event loop) and
carries out what the handle asks (``CallOps``); its audio is a ``CallMedia``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from telephony.sip.config import IncomingAction, IncomingPolicy
from telephony.sip.errors import CallFailed, SipError
from telephony.sip.pj_media import CallMedia
from telephony.sip.pj_util import describe_pj_error, destroy_now
from telephony.sip.ports import CallEvents, Direction, PjsipServices, Timer

log = logging.getLogger(__name__)


class PjCall(pj.Call):  # type: ignore[misc]
    """The pjsua2 ``Call`` of one ``CallHandle`` (``events``); pjsip thread only.

    The pjsip thread keeps a strong reference while the call exists (pjsua2 crashes if
    the Python object is collected under a live call) and drops it right after
    DISCONNECTED, before a later call can reuse the pjsua call slot.
    """

    def __init__(
        self,
        services: PjsipServices,
        account: Any,
        events: CallEvents,
        *,
        key: int,
        direction: Direction,
        phone_user: str,
        call_id: int = pj.PJSUA_INVALID_ID,
        policy: IncomingPolicy | None = None,
    ) -> None:
        super().__init__(account, call_id)
        self.services = services
        self.events = events
        self.key = key
        self.direction: Direction = direction
        self.phone_user = phone_user
        self.policy = policy
        self.ringing_seen = False
        self.confirmed = False
        self.disconnected = False
        self.finalizing = False
        self.end_notified = False
        self.last_status = 0
        self.end_info: tuple[float, int, str] | None = None
        self.media = CallMedia(services, repr(self), self._recording_started)
        self.timers: list[Timer] = []

    def __repr__(self) -> str:
        return f"<PjCall #{self.key} {self.direction} {self.phone_user}>"

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
            self.services.notify(self.events.on_dtmf, str(prm.digit))
        except Exception:
            log.exception("onDtmfDigit failed for %r", self)

    def _state_changed(self) -> None:
        ci = self.getInfo()
        now = time.time()
        status, reason, state = int(ci.lastStatusCode), str(ci.lastReason), ci.state
        self.last_status = status
        if state == pj.PJSIP_INV_STATE_EARLY and self.direction == "outgoing":
            if not self.ringing_seen:
                self.ringing_seen = True
                self.services.notify(self.events.on_ringing, now, status)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            log.debug("%r confirmed", self)
            self.services.notify(self.events.on_answered, now, status)
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
        if self.media.attach(self.getAudioMedia(index)):
            codec = str(self.getStreamInfo(index).codecName)
            local_rtp = str(self.getMedTransportInfo(index).localRtpName)
            self.services.notify(self.events.on_media, time.time(), codec, local_rtp)
            self._apply_policy_media()

    def _apply_policy_media(self) -> None:
        policy = self.policy
        if policy is None or policy.action is not IncomingAction.ANSWER:
            return
        if policy.record_dir is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{self.phone_user}-{stamp}-{self.key}.wav"
            try:
                self.start_recorder(policy.record_dir / name)
            except (SipError, OSError):
                log.exception("auto-record failed on %r", self)
        if policy.play is not None:
            try:
                self.start_player(policy.play, policy.loop_play, None)
            except (SipError, OSError):
                log.exception("auto-play failed on %r", self)

    def _recording_started(self, path: Path) -> None:
        self.services.notify(self.events.on_recording, path)

    def _disconnected(self, now: float, status: int, reason: str) -> None:
        self.disconnected = True
        self.end_info = (now, status, reason)
        # pjsua2 has already deleted the call's AudioMedia: its slot is gone.
        self.media.detach()
        self._cancel_timers()
        self.media.stop_players()
        self.finalizing = True

        def finished(_: list[Path]) -> None:
            self.finalizing = False
            self._notify_end(now, status, reason)
            self.services.release_call(self.key)

        self.media.drop_recorders_then(finished)

    def _notify_end(self, at: float, status: int, reason: str) -> None:
        if not self.end_notified:
            self.end_notified = True
            self.services.notify(self.events.on_ended, at, status, reason)

    def _cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    # ------------------------------------------------------------ operations

    def later(self, delay: float, fn: Callable[[], None], what: str) -> None:
        """Run ``fn`` after ``delay`` s on the pjsip thread unless the call ends first."""

        def run() -> None:
            if not self.disconnected:
                fn()

        self.timers.append(self.services.call_later(delay, run, f"{what} on {self!r}"))

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
        if self.media.audio is None:
            raise CallFailed(f"cannot send DTMF on {self!r}: no active audio media")
        try:
            self.dialDtmf(digits)
        except pj.Error as exc:
            raise CallFailed(f"cannot send DTMF on {self!r}: {describe_pj_error(exc)}") from exc

    def start_player(
        self, path: Path, looping: bool, on_done: Callable[[bool], None] | None
    ) -> int:
        """Start transmitting ``path`` into the call; return the player id."""
        return self.media.start_player(path, looping, on_done)

    def stop_player(self, player_id: int) -> None:
        self.media.stop_player(player_id)

    def start_recorder(self, path: Path) -> None:
        """Record the audio received from the remote party into ``path``."""
        self.media.start_recorder(path)

    def stop_recorders(self, on_done: Callable[[list[Path]], None]) -> None:
        self.media.drop_recorders_then(on_done)

    # -------------------------------------------------------------- shutdown

    def hangup_for_shutdown(self) -> None:
        self._cancel_timers()
        if not self.disconnected:
            try:
                self.end_call(None)
            except CallFailed as exc:
                log.debug("shutdown hangup: %s", exc)

    def destroy(self) -> None:
        """Delete the pjsua2 Call now (pjsip thread); the Python object becomes inert."""
        self.disconnected = True
        self._cancel_timers()
        self.media.audio = None
        destroy_now(self)

    def force_release(self) -> None:
        """Last step before the thread drops this object: free media, report the end."""
        self.media.stop_players()
        if self.media.recorders:
            self.media.drop_recorders_then(lambda _: None)
        self.media.audio = None
        at, status, reason = self.end_info or (time.time(), self.last_status, "SIP stack stopped")
        self._notify_end(at, status, reason)
