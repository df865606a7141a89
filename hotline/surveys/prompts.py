"""The survey's prompt files, made the way the IVR's are (``ivr.prompts.PromptLibrary``:
synthesised with espeak-ng in each IVR language's voice, only when the text changed, and a
recorded ``<id>.wav`` beside a synthetic one wins)."""

from __future__ import annotations

from pathlib import Path

from hotline.surveys.config import SurveySettings
from hotline.surveys.dialer import SurveyPrompts
from ivr.menu import IvrSettings
from ivr.prompts import PromptLibrary
from telephony.audio import tone


def build_prompts(surveys: SurveySettings, ivr_settings: IvrSettings) -> SurveyPrompts:
    """``surveys``: the texts; ``ivr_settings``: the IVR's languages and prompt folder.
    Blocking (synthesis): run in a thread."""
    base = Path(ivr_settings.prompts_dir) / "survey"
    langs = ivr_settings.languages  # texts in other languages are never played
    texts = {
        pid: {lang: text for lang, text in by_lang.items() if lang in langs}
        for pid, by_lang in surveys.prompts.items()
    }
    ivr = IvrSettings(
        default_language=ivr_settings.default_language,
        languages=ivr_settings.languages,
        prompts_dir=str(base),
        prompts=texts,
    )
    library = PromptLibrary(ivr, base)
    library.build()
    files = {
        pid: {lang: Path(library.path(pid, lang) + ".wav") for lang in by_lang}
        for pid, by_lang in texts.items()
    }
    beep = base.resolve() / "beep.wav"
    if not beep.exists():  # the tone before the comment is recorded
        tone(beep)
    return SurveyPrompts(files, beep, ivr_settings.default_language)
