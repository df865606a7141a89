"""The layering contract (pyproject.toml, [tool.importlinter]) holds, and it would catch a
forbidden import: telephony, ivr and asr never import hotline; nothing imports hotline.app;
features sit above the shared infrastructure; no cycle between hotline's packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("hotline", "telephony", "ivr", "asr", "drafting")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # No cache: a copied tree must be read afresh. PYTHONPATH: the tree checked is cwd's.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(dest: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", dest)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_lower_layer_importing_the_application_breaks_it(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    tracker = tmp_path / "telephony" / "tracker.py"
    tracker.write_text(tracker.read_text() + "\nimport hotline.core.errors  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "telephony, ivr, asr and drafting never import the application BROKEN" in result.stdout
    assert "telephony.tracker -> hotline.core.errors" in result.stdout


def test_a_feature_importing_the_wiring_or_a_cycle_breaks_it(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    kb = tmp_path / "hotline" / "kb" / "service.py"
    kb.write_text(kb.read_text() + "\nimport hotline.app.service  # noqa\n")
    store = tmp_path / "hotline" / "calls" / "store.py"  # calls <-> tickets: a cycle
    store.write_text(store.read_text() + "\nimport hotline.tickets.store  # noqa\n")
    tickets = tmp_path / "hotline" / "tickets" / "store.py"
    tickets.write_text(tickets.read_text() + "\nimport hotline.calls.store  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "The wiring (hotline.app) is imported by nothing BROKEN" in result.stdout
    assert "No import cycle between the packages of hotline BROKEN" in result.stdout
