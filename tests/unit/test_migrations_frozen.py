"""Every migration is a frozen snapshot: it imports alembic, sqlalchemy and the standard library
only, never application code (``hotline``, the other packages of this repository, anything
else), so a later change to the application or its models cannot change what an old
migration does. A data migration carries its own copy of the logic and tables it needs."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parents[2] / "hotline" / "db" / "migrations" / "versions"
ALLOWED = {"alembic", "sqlalchemy", "__future__"} | set(sys.stdlib_module_names)
# Ways to import a module by name, which an import statement check would not see.
DYNAMIC = {"__import__", "import_module"}


def application_imports(source: str) -> list[str]:
    """What ``source`` imports beyond alembic, sqlalchemy and the standard library, at any
    depth (an import inside ``upgrade()`` counts), as "line: module"."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            names = [f"{called}(...)"] if called in DYNAMIC else []
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if name.split(".")[0] not in ALLOWED]
    return found


def migrations() -> list[Path]:
    found = sorted(VERSIONS.glob("*.py"))
    assert len(found) >= 12, f"no migrations found in {VERSIONS}"
    return found


@pytest.mark.parametrize("path", migrations(), ids=lambda p: p.name)
def test_the_migration_imports_no_application_code(path: Path) -> None:
    assert application_imports(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        (
            "def upgrade():\n    from hotline.agents.time import rebuild_on\n",
            ["2: hotline.agents.time"],
        ),
        ("import hotline.db.models as m\n", ["1: hotline.db.models"]),
        ("from . import helpers\n", ["1: ."]),
        ("from .x import y\n", ["1: .x"]),
        ("import yaml\n", ["1: yaml"]),
        ("import os, telephony.ami\n", ["1: telephony.ami"]),
        ("import importlib\nimportlib.import_module('hotline.db')\n", ["2: import_module(...)"]),
        ("__import__('hotline')\n", ["1: __import__(...)"]),
    ],
)
def test_the_check_catches_an_application_import(source: str, found: list[str]) -> None:
    assert application_imports(source) == found


def test_the_check_lets_the_libraries_of_a_migration_through() -> None:
    source = (
        "from __future__ import annotations\n"
        "import sqlalchemy as sa\nfrom alembic import context, op\n"
        "from sqlalchemy.dialects import postgresql\n"
        "from collections import defaultdict\nfrom datetime import UTC, datetime\n"
        "def upgrade():\n    import json\n"
    )
    assert application_imports(source) == []
