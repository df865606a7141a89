"""The transcription errors, documented once; callers translate them at their boundary.

- ``AsrError``: base class.
  - ``AudioError``: the recording cannot be transcribed (missing, empty, truncated, not a
    WAV, wrong format); ``reason`` says which, in words fit for a job's failure reason.
  - ``ModelError``: the model for a language is missing or fails to load.
  - ``NoModel``: no model is configured for the language (skipped visibly, not an error of
    the recording).
"""

from __future__ import annotations


class AsrError(Exception):
    """Base of transcription errors."""


class AudioError(AsrError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(AsrError):
    pass


class NoModel(AsrError):
    def __init__(self, language: str) -> None:
        super().__init__(f"no speech model configured for language {language!r}")
        self.language = language
