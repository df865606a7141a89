"""The PBXes as the service uses them: each one's link (connection, call tracker, queue state
and control), and the private ones' paths and secrets resolved from the settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.app.settings import Secrets, Settings
from ivr.prompts import PromptLibrary
from telephony.ami.connection import AmiConnection
from telephony.asterisk.process import PrivateAsterisk
from telephony.asterisk.render import OutboundUser, RenderInput
from telephony.asterisk.sounds import build_overlay
from telephony.queue_control import QueueControl
from telephony.queue_state import QueueBoard
from telephony.settings import PbxSettings
from telephony.tracker import CallTracker


@dataclass
class PbxLink:
    """One PBX as the service sees it. Uniqueids, channel names and queue members mean
    something only on their own PBX, so each has its own tracker, board and control; call
    ids are global (``telephony.tracker.call_id``)."""

    settings: PbxSettings
    tracker: CallTracker
    board: QueueBoard
    control: QueueControl
    ami: AmiConnection | None = None  # None: not connected by this process (tests)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def connected(self) -> bool:
        return self.ami is not None and self.ami.connected.is_set()

    def status(self) -> dict[str, Any]:
        """For the live view: is the service connected to it, and since when is it not."""
        ami = self.ami
        down = None if ami is None or self.connected else ami.disconnected_at
        return {
            "name": self.name,
            "mode": self.settings.mode,
            "connected": self.connected,
            "connections": ami.connections if ami is not None else 0,
            "down_for": round(time.time() - down, 1) if down is not None else None,
        }


def render_input(
    settings: Settings,
    secrets: Secrets,
    runtime_dir: Path | None = None,
    pbx: PbxSettings | None = None,
) -> RenderInput:
    """What ``pbx``'s files (default the primary's) are rendered with."""
    pbx = pbx or settings.pbx
    primary = pbx.name == settings.pbx.name
    return RenderInput(
        runtime_dir=(runtime_dir or pbx.embedded.runtime_dir).resolve(),
        recordings_dir=pbx.recordings_dir.resolve(),
        ami_secret=secrets.ami_secret_of(pbx.name),
        agent_passwords=secrets.agent_passwords,
        phone_passwords=secrets.phone_passwords,
        # Survey callbacks go out through the primary PBX only.
        outbound=outbound_user(settings, secrets) if primary else None,
        agi_url=agi_url(settings),
        agi_fallbacks=tuple(f"agi://{a}" for a in settings.ha.agi_addresses[1:]),
        data_dir=(runtime_dir or pbx.embedded.runtime_dir).resolve() / "data"
        if settings.ivr.pbx_sounds
        else None,
    )


def outbound_user(settings: Settings, secrets: Secrets) -> OutboundUser | None:
    """The survey user agent's endpoint (when surveys are on)."""
    s = settings.surveys
    if not s.enabled:
        return None
    return OutboundUser(s.sip.user, secrets.survey_password, s.caller_id, s.ring_timeout)


def agi_url(settings: Settings) -> str:
    """Where the PBX reaches the service's FastAGI server (the first of an active/standby
    pair's when listed)."""
    if settings.ha.agi_addresses:
        return f"agi://{settings.ha.agi_addresses[0]}"
    host = settings.listen.agi_host
    if host in ("0.0.0.0", "::"):  # listening everywhere: the PBX (embedded) is local
        host = "127.0.0.1"
    return f"agi://{host}:{settings.listen.agi_port}"


def embedded_pbx(
    settings: Settings, secrets: Secrets, pbx: PbxSettings | None = None
) -> PrivateAsterisk:
    """A private Asterisk (default the primary PBX), configured from the settings (use with
    ``async with``)."""
    pbx = pbx or settings.pbx
    inp = render_input(settings, secrets, pbx=pbx)
    if inp.data_dir is not None:
        # Our languages' sound folders (filled by the prompt build) beside the system's.
        prompts = PromptLibrary(settings.ivr)
        langs = {lang: prompts.pbx_sound_dir(lang) for lang in settings.ivr.pbx_sounds}
        for folder in langs.values():
            folder.mkdir(parents=True, exist_ok=True)
        build_overlay(pbx.embedded.sounds_dir, inp.data_dir, langs)
    return PrivateAsterisk(pbx, inp)


def embedded_pbxes(settings: Settings, secrets: Secrets) -> list[PrivateAsterisk]:
    """Every PBX in mode ``embedded``, each its own private Asterisk on its own ports."""
    return [embedded_pbx(settings, secrets, p) for p in settings.all_pbxes if p.mode == "embedded"]
