"""The demo's closing verdict: service level against the configured target, and abandonment."""

from __future__ import annotations

from hotline.app.demo import _service_level_line
from hotline.app.settings import parse_settings
from hotline.calls.store import CallSummary


def _summary(answered: int, abandoned: int, service_level: float | None) -> CallSummary:
    offered = answered + abandoned
    return CallSummary(offered, offered, answered, abandoned, 0, 5.0, 10.0, service_level)


def test_verdict_says_met_or_missed_against_the_target() -> None:
    settings = parse_settings({"service_level_target": 0.8})
    met = _service_level_line(settings, _summary(26, 1, 0.96))
    assert met == (
        "demo: service level 96% answered within 20 s (target 80%: met), abandoned 4% of 27 offered"
    )
    missed = _service_level_line(settings, _summary(33, 16, 0.6))
    assert "service level 60%" in missed and "(target 80%: missed)" in missed
    assert "abandoned 33% of 49 offered" in missed
    assert "no service level" in _service_level_line(settings, _summary(0, 0, None))
