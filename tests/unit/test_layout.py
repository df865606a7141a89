"""The shape of the tree: ``hotline/`` holds only packages (one per feature, plus ``core``,
``db``, ``web``, ``app``); a module over ~500 lines says at its top why it is one module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("hotline", "telephony", "ivr", "asr", "bench", "testkit", "tests")
LIMIT = 500
REASON = "One module on purpose"


def test_hotline_top_level_holds_only_packages() -> None:
    loose = [p.name for p in (ROOT / "hotline").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    packages = [p for p in (ROOT / "hotline").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert all((p / "__init__.py").is_file() for p in packages)


def test_long_modules_say_why() -> None:
    unexplained = []
    for folder in CHECKED:
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            lines = source.count("\n")
            if lines <= LIMIT:
                continue
            doc = ast.get_docstring(ast.parse(source)) or ""
            if REASON not in doc:
                unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not unexplained, f"split these, or say at their top why not ({REASON}...): " + ", ".join(
        unexplained
    )
