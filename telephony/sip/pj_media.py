"""The audio of a call on the pjsip thread: its conference port, WAV players and recorders."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from telephony.sip.errors import CallFailed, SipError, SipStackError
from telephony.sip.pj_util import describe_pj_error, destroy_now
from telephony.sip.ports import PjsipServices

log = logging.getLogger(__name__)

_RECORDING_FLUSH_TIMEOUT_S = 2.0


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


class WavPlayer(pj.AudioMediaPlayer):  # type: ignore[misc]
    """WAV player whose EOF (reported on a pjmedia thread) is forwarded to the pjsip thread."""

    def __init__(
        self,
        services: PjsipServices,
        player_id: int,
        looping: bool,
        on_done: Callable[[bool], None] | None,
        on_eof: Callable[[WavPlayer], None],
    ) -> None:
        super().__init__()
        self.services = services
        self.player_id = player_id
        self.looping = looping
        self.on_done = on_done
        self.on_eof = on_eof

    def onEof2(self) -> None:
        # Runs on pjmedia's event thread: never touch pjsua2 here, and never destroy
        # the player from inside this callback.
        if self.looping:
            return
        try:
            self.services.post(lambda: self.on_eof(self), "finish playback")
        except SipStackError:
            log.debug("playback EOF after the stack stopped")
        except Exception:
            log.exception("cannot forward playback EOF")


class CallMedia:
    """The audio of one call (pjsip thread only).

    ``label`` names the call in messages; ``on_recording(path)`` is told of each
    recording started.
    """

    def __init__(
        self, services: PjsipServices, label: str, on_recording: Callable[[Path], None]
    ) -> None:
        self.services = services
        self.label = label
        self.on_recording = on_recording
        self.audio: Any = None
        self.port: int | None = None
        self.players: list[WavPlayer] = []
        self.recorders: list[tuple[Any, Path]] = []

    def __repr__(self) -> str:
        return self.label

    def attach(self, audio: Any) -> bool:
        """Use the call's active ``AudioMedia``; True the first time audio is up.

        When the conference port moved, players and recorders follow it.
        """
        first = self.port is None
        port = int(audio.getPortId())
        moved = not first and port != self.port
        self.audio, self.port = audio, port
        # Like a real phone's microphone in a quiet room: the (null) capture device sends
        # silence all the time. Without a steady RTP stream Asterisk's strict-RTP learning may
        # not have accepted our address yet when the first DTMF event arrives, and drops it.
        self.services.endpoint.audDevManager().getCaptureDevMedia().startTransmit(audio)
        if moved:
            for player in self.players:
                player.startTransmit(audio)
            for recorder, _ in self.recorders:
                audio.startTransmit(recorder)
        return first

    def detach(self) -> None:
        """Forget the call's ``AudioMedia`` (pjsua2 has deleted it, or is about to)."""
        self.audio, self.port = None, None

    # ---------------------------------------------------------------- players

    def start_player(
        self, path: Path, looping: bool, on_done: Callable[[bool], None] | None
    ) -> int:
        """Start transmitting ``path`` into the call; return the player id."""
        if self.audio is None:
            raise CallFailed(f"cannot play on {self!r}: no active audio media")
        if not path.is_file():
            raise FileNotFoundError(f"WAV file to play not found: {path}")
        services = self.services
        player = WavPlayer(services, services.new_key(), looping, on_done, self._player_eof)
        try:
            player.createPlayer(str(path), 0 if looping else pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self.audio)
        except pj.Error as exc:
            raise SipError(f"cannot play {path} on {self!r}: {describe_pj_error(exc)}") from exc
        self.players.append(player)
        return player.player_id

    def _player_eof(self, player: WavPlayer) -> None:
        self.finish_player(player, reached_end=True)

    def stop_player(self, player_id: int) -> None:
        for player in list(self.players):
            if player.player_id == player_id:
                self.finish_player(player, reached_end=False)

    def stop_players(self) -> None:
        for player in list(self.players):
            self.finish_player(player, reached_end=False)

    def finish_player(self, player: WavPlayer, *, reached_end: bool) -> None:
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
        self.services.retire(player)

    # ------------------------------------------------------------- recorders

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
        self.on_recording(path)

    def drop_recorders_then(self, then: Callable[[list[Path]], None]) -> None:
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
                self.services.call_later(0.02, check, "wait for recordings to flush")
                return
            if pending:
                log.warning("recordings %s of %r not finalised in time", pending, self)
            then(paths)

        check()
