"""Prometheus text exposition: live gauges (callers waiting, longest wait, agents by state) and
counters (calls by disposition since start, FastAGI sessions)."""

from __future__ import annotations

from collections.abc import Mapping

from hotline.supervision.schemas import LiveSnapshot
from ivr.agi.server import AgiStats

AGENT_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "logged_out")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(snapshot: LiveSnapshot, ended: Mapping[str, int], agi: AgiStats) -> str:
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    queues = snapshot.queues
    family(
        "hotline_callers_waiting",
        "gauge",
        "Callers waiting in the queue now.",
        [(f'{{queue="{_label(q.name)}"}}', len(q.waiting)) for q in queues],
    )
    family(
        "hotline_longest_wait_seconds",
        "gauge",
        "Longest current wait in the queue.",
        [(f'{{queue="{_label(q.name)}"}}', q.longest_wait) for q in queues],
    )
    family(
        "hotline_pbx_up",
        "gauge",
        "1 while the service is connected to the PBX's AMI.",
        [(f'{{pbx="{_label(p.name)}"}}', 1 if p.connected else 0) for p in snapshot.pbxes],
    )
    states = {s: 0 for s in AGENT_STATES}
    for a in snapshot.agents:
        states[a.state] = states.get(a.state, 0) + 1
    family(
        "hotline_agents",
        "gauge",
        "Agents by state.",
        [(f'{{state="{s}"}}', n) for s, n in states.items()],
    )
    family(
        "hotline_calls_total",
        "counter",
        "Calls ended since the service started.",
        [(f'{{disposition="{_label(d)}"}}', n) for d, n in sorted(ended.items())],
    )
    family(
        "hotline_ivr_sessions_total",
        "counter",
        "FastAGI sessions by outcome.",
        [
            ('{outcome="completed"}', agi.completed),
            ('{outcome="hangup"}', agi.hangups),
            ('{outcome="failed"}', agi.failed),
            ('{outcome="rejected"}', agi.rejected),
            ('{outcome="bad_request"}', agi.bad_requests),
        ],
    )
    today = snapshot.today
    family(
        "hotline_today_calls",
        "gauge",
        "Today's calls so far (local day).",
        [
            ('{kind="offered"}', today.offered),
            ('{kind="answered"}', today.answered),
            ('{kind="abandoned"}', today.abandoned),
        ],
    )
    if today.service_level is not None:
        family(
            "hotline_today_service_level",
            "gauge",
            "Today's service level (0..1).",
            [("", today.service_level)],
        )
    return "\n".join(out) + "\n"
