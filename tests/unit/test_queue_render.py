"""queues.conf as rendered from the queue settings: announcements only to callers who wait."""

from __future__ import annotations

from telephony.asterisk.render import queues_conf
from telephony.settings import PbxSettings, QueueSettings


def _section(text: str, name: str) -> dict[str, str]:
    lines = text.split(f"\n[{name}]\n", 1)[1].split("\n\n[", 1)[0].splitlines()
    return dict(line.split(" = ", 1) for line in lines if " = " in line)


def test_announcing_queue_never_announces_before_the_first_ring() -> None:
    pbx = PbxSettings(
        queues=[
            QueueSettings(name="operator", announce_frequency=60),
            QueueSettings(name="quiet"),
        ]
    )
    text = queues_conf(pbx)
    # Callers offered to free agents side by side: without it Asterisk 16 holds a caller
    # behind the one being rung (and plays them the announcement) with agents free.
    assert _section(text, "general")["autofill"] == "yes"
    operator = _section(text, "operator")
    # Position and wait every 60 s to callers who wait, but none to the caller at the head
    # before an agent is rung (that took 7-9 s off every answered call).
    assert operator["announce-frequency"] == "60"
    assert operator["announce-position"] == "yes"
    assert operator["announce-holdtime"] == "yes"
    assert operator["announce-to-first-user"] == "no"
    assert operator["autofill"] == "yes"
    assert operator["min-announce-frequency"] == "15"
    quiet = _section(text, "quiet")
    assert quiet["announce-frequency"] == "0"
    assert quiet["announce-position"] == "no"
    assert quiet["announce-to-first-user"] == "no"
