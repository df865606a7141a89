"""The embedded PBX as the service uses it: paths and secrets resolved from the settings."""

from __future__ import annotations

from pathlib import Path

from hotline.settings import Secrets, Settings
from ivr.prompts import PromptLibrary
from telephony.asterisk.process import PrivateAsterisk
from telephony.asterisk.render import OutboundUser, RenderInput
from telephony.asterisk.sounds import build_overlay


def render_input(
    settings: Settings, secrets: Secrets, runtime_dir: Path | None = None
) -> RenderInput:
    pbx = settings.pbx
    return RenderInput(
        runtime_dir=(runtime_dir or pbx.embedded.runtime_dir).resolve(),
        recordings_dir=pbx.recordings_dir.resolve(),
        ami_secret=secrets.ami_secret,
        agent_passwords=secrets.agent_passwords,
        phone_passwords=secrets.phone_passwords,
        outbound=outbound_user(settings, secrets),
        agi_url=agi_url(settings),
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
    """Where the PBX reaches the service's FastAGI server."""
    host = settings.listen.agi_host
    if host in ("0.0.0.0", "::"):  # listening everywhere: the PBX (embedded) is local
        host = "127.0.0.1"
    return f"agi://{host}:{settings.listen.agi_port}"


def embedded_pbx(settings: Settings, secrets: Secrets) -> PrivateAsterisk:
    """The private Asterisk, configured from the settings (use with ``async with``)."""
    inp = render_input(settings, secrets)
    if inp.data_dir is not None:
        # Our languages' sound folders (filled by the prompt build) beside the system's.
        prompts = PromptLibrary(settings.ivr)
        langs = {lang: prompts.pbx_sound_dir(lang) for lang in settings.ivr.pbx_sounds}
        for folder in langs.values():
            folder.mkdir(parents=True, exist_ok=True)
        build_overlay(settings.pbx.embedded.sounds_dir, inp.data_dir, langs)
    return PrivateAsterisk(settings.pbx, inp)
