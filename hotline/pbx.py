"""The embedded PBX as the service uses it: paths and secrets resolved from the settings."""

from __future__ import annotations

from pathlib import Path

from hotline.settings import Secrets, Settings
from telephony.asterisk.process import PrivateAsterisk
from telephony.asterisk.render import RenderInput


def render_input(
    settings: Settings, secrets: Secrets, runtime_dir: Path | None = None
) -> RenderInput:
    pbx = settings.pbx
    return RenderInput(
        runtime_dir=(runtime_dir or pbx.embedded.runtime_dir).resolve(),
        recordings_dir=pbx.recordings_dir.resolve(),
        ami_secret=secrets.ami_secret,
        agent_passwords=secrets.agent_passwords,
    )


def embedded_pbx(settings: Settings, secrets: Secrets) -> PrivateAsterisk:
    """The private Asterisk, configured from the settings (use with ``async with``)."""
    return PrivateAsterisk(settings.pbx, render_input(settings, secrets))
