"""A synthesised call's legs (testkit/call_legs.py): turn timing and layout, on made-up PCM."""

from __future__ import annotations

import pytest

from testkit.call_legs import Slot, layout, legs

RATE = 8000


def _clip(value: int, samples: int) -> bytes:
    return value.to_bytes(2, "little", signed=True) * samples


def test_layout_places_turns_one_after_another() -> None:
    slots = layout([("agent", 2.0), ("caller", 3.0), ("caller", 1.0)], gap=0.5, lead=1.0)
    assert slots == [
        Slot("agent", 1.0, 3.0),
        Slot("caller", 3.5, 6.5),
        Slot("caller", 7.0, 8.0),  # the same speaker again: a pause, not one long turn
    ]


def test_layout_refuses_negative_times() -> None:
    with pytest.raises(ValueError):
        layout([("agent", -1.0)])
    with pytest.raises(ValueError):
        layout([("agent", 1.0)], gap=-0.1)


def test_legs_put_each_turn_on_its_speakers_leg_and_silence_on_the_other() -> None:
    agent, caller = _clip(100, 800), _clip(-200, 400)  # 0.1 s and 0.05 s
    out = legs([("agent", agent), ("caller", caller)], RATE, gap=0.5, lead=0.25, tail=0.125)
    # lead 2000 + agent 800 + gap 4000 + caller 400 + tail 1000 samples, both legs alike.
    assert len(out["agent"]) == len(out["caller"]) == 2 * 8200
    a, c = out["agent"], out["caller"]
    assert a[: 2 * 2000] == bytes(4000)
    assert a[2 * 2000 : 2 * 2800] == agent
    assert c[2 * 2000 : 2 * 2800] == bytes(1600)  # the caller listens
    assert c[2 * 6800 : 2 * 7200] == caller
    assert a[2 * 6800 : 2 * 7200] == bytes(800)
    assert a[2 * 2800 :] == bytes(2 * 5400)  # nothing after the agent's turn


def test_legs_of_a_one_sided_call_and_of_no_turns() -> None:
    out = legs([("caller", _clip(5, 10))], RATE, lead=0, tail=0)
    assert out["caller"] == _clip(5, 10)
    assert out["agent"] == bytes(20)
    assert legs([], RATE, lead=0.5, tail=0.5) == {"caller": bytes(16000), "agent": bytes(16000)}


def test_legs_refuse_half_samples() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        legs([("caller", b"\x00\x01\x02")], RATE)
