"""Wiring of the PBXes from the settings: what each PBX's Asterisk files are rendered with, and
the private (embedded) Asterisks the service starts. The running service's view of each PBX
(``PbxLink``) is ``hotline.pbx.link``."""

from __future__ import annotations

from pathlib import Path

from hotline.app.settings import Secrets, Settings
from ivr.prompts import PromptLibrary
from telephony.asterisk.process import PrivateAsterisk
from telephony.asterisk.render import OutboundUser, RenderInput
from telephony.asterisk.sounds import build_overlay
from telephony.settings import PbxSettings


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
