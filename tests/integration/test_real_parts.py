"""In CI a missing real part is a failure: the integration tier run without espeak-ng, sox and
sipp fails. The unit tier needs none of them: it passes with only the virtualenv on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_suite_fails_not_skips_when_real_parts_are_missing(tmp_path: Path) -> None:
    # Only the virtualenv on PATH: espeak-ng, sox and sipp cannot be found.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_ivr_menu.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "real parts missing" in out and "espeak-ng" in out and "sipp" in out
    assert "skipped" not in out


def test_unit_tier_passes_without_any_real_part() -> None:
    # No Asterisk, sipp, espeak-ng, sox or Chromium on PATH: pure code only.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert " passed" in out and "failed" not in out and "error" not in out.lower()
