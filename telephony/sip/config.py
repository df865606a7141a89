"""Plain configuration values for phones and incoming-call behaviour, and port allocation."""

from __future__ import annotations

import errno
import random
import socket
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from pathlib import Path
from typing import NamedTuple


@dataclass(frozen=True)
class PhoneConfig:
    """One SIP phone (= pjsua account) with its own SIP UDP port and RTP port range.

    The phone is always reachable directly at ``contact_uri`` =
    ``sip:{user}@{bind}:{sip_port}``; its From/account URI is ``sip:{user}@{domain}``.
    With ``registrar`` it also registers there. ``auth_user`` (default ``user``) and
    ``password`` answer digest challenges to REGISTER and to INVITE alike.
    """

    user: str
    _: KW_ONLY
    sip_port: int
    rtp_port: int
    display_name: str | None = None
    rtp_port_range: int = 40
    registrar: str | None = None
    auth_user: str | None = None
    password: str | None = None
    domain: str = "127.0.0.1"
    bind: str = "127.0.0.1"
    reg_timeout_s: int = 300

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("PhoneConfig.user must not be empty")
        for name in ("sip_port", "rtp_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ValueError(f"PhoneConfig.{name}={port} is not a valid UDP port")
        if self.rtp_port_range < 2:
            raise ValueError("PhoneConfig.rtp_port_range must be >= 2 (RTP + RTCP)")

    @property
    def contact_uri(self) -> str:
        """Direct SIP URI of this phone (usable without a registrar)."""
        return f"sip:{self.user}@{self.bind}:{self.sip_port}"

    @property
    def aor(self) -> str:
        """Address of record: the account id used in From headers."""
        return f"sip:{self.user}@{self.domain}"

    @property
    def id_uri(self) -> str:
        """Account id URI including the display name, if any."""
        if self.display_name:
            return f'"{self.display_name}" <{self.aor}>'
        return self.aor


class IncomingAction(Enum):
    """What a phone does with a new incoming call (it always sends 180 Ringing first)."""

    RING = "ring"  # keep ringing until answered via the CallHandle or the caller gives up
    ANSWER = "answer"
    REJECT = "reject"


@dataclass(frozen=True)
class IncomingPolicy:
    """Automatic handling of incoming calls; see ``Phone.auto_answer``/``auto_reject``."""

    action: IncomingAction = IncomingAction.RING
    after_ms: int = 0
    reject_status: int = 486
    play: Path | None = None
    loop_play: bool = False
    hangup_after_s: float | None = None
    record_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.after_ms < 0:
            raise ValueError("after_ms must be >= 0")
        if self.action is IncomingAction.REJECT and not 300 <= self.reject_status < 700:
            raise ValueError(f"reject status {self.reject_status} is not a final error code")
        if self.hangup_after_s is not None and self.hangup_after_s < 0:
            raise ValueError("hangup_after_s must be >= 0")


class PortAllocation(NamedTuple):
    """A SIP port and the first port of a disjoint RTP range."""

    sip_port: int
    rtp_port: int


def _udp_port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def allocate_ports(
    n: int,
    *,
    rtp_port_range: int = 40,
    host: str = "127.0.0.1",
    low: int = 20000,
    high: int = 30000,
) -> list[PortAllocation]:
    """Find ``n`` free SIP ports and ``n`` non-overlapping free RTP ranges on ``host``.

    Ports come from ``[low, high)`` (above Asterisk's default RTP range 10000-20000 and
    below Linux's ephemeral range) at a random offset
    so that concurrent processes rarely pick the same ones; each RTP range starts on
    an even port and is checked port by port. The ports are only probed, not held, so
    use them promptly.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.SystemRandom()
    taken: set[int] = set()
    result: list[PortAllocation] = []

    def pick(width: int) -> int:
        for _ in range(500):
            base = rng.randrange(low, high - width) & ~1
            span = range(base, base + width)
            if taken.isdisjoint(span) and all(_udp_port_free(host, p) for p in span):
                taken.update(span)
                return base
        raise RuntimeError(f"no free UDP port block of {width} in [{low}, {high}) on {host}")

    for _ in range(n):
        sip_port = pick(1)
        rtp_port = pick(rtp_port_range)
        result.append(PortAllocation(sip_port, rtp_port))
    return result
