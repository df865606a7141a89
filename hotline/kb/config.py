"""``kb:``: the knowledge base's configuration."""

from __future__ import annotations

from pathlib import Path

from telephony.settings import Strict


class KbSettings(Strict):
    """The knowledge base. ``seed_file``: a YAML file of articles (like config/kb.yaml) loaded
    at start when the knowledge base is still empty, so edits and deletions made later through
    the API are never undone by a restart; ``hotline kb import FILE`` updates from a file."""

    seed_file: Path | None = None
