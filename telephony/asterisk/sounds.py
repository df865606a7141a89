"""A sounds folder for the private Asterisk: the system's sounds plus languages we provide.

Asterisk looks announcements up as ``<astdatadir>/sounds/<channel language>/<name>`` and falls
back to English when the language has no file, so a Mandarin caller would hear English queue
announcements. The overlay links every system entry and adds our own language folders (e.g.
synthesised Mandarin ``queue-thereare.wav``, ``digits/5.wav``) beside them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path


def build_overlay(system: Path, target: Path, languages: Mapping[str, Path]) -> Path:
    """Make ``target`` an astdatadir: links to ``system``'s entries, with ``sounds/<lang>``
    pointing at ``languages[lang]``. Rebuilt from scratch each time (it holds only links)."""
    if target.exists():
        shutil.rmtree(target)
    (target / "sounds").mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name != "sounds":
            os.symlink(entry, target / entry.name)
    system_sounds = system / "sounds"
    if system_sounds.is_dir():
        for entry in system_sounds.iterdir():
            if entry.name not in languages:
                os.symlink(entry, target / "sounds" / entry.name)
    for lang, folder in languages.items():
        os.symlink(folder.resolve(), target / "sounds" / lang)
    return target
