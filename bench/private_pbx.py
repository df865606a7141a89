"""The ``pbx`` settings every benchmark's private Asterisk shares: free ports on loopback, an
RTP range below the kernel's ephemeral range (where ``free_port`` finds the other ports) and
above the simulated phones' 21000-30000, files under ``workdir``."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from testkit.support import free_port


def private_pbx(workdir: Path, **extra: Any) -> dict[str, Any]:
    """The ``pbx:`` section, with ``extra`` keys (agents, phones, queues, inbound...)."""
    rtp = 30000 + (free_port() % 10) * 200
    return {
        "mode": "embedded",
        "ami": {"port": free_port()},
        "embedded": {
            "sip_port": free_port(socket.SOCK_DGRAM),
            "rtp_start": rtp,
            "rtp_end": rtp + 399,
            "runtime_dir": str(workdir / "ast"),
        },
        "recordings_dir": str(workdir / "rec"),
        **extra,
    }
