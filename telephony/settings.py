"""Schema of the PBX part of the configuration: the PBX connection, SIP endpoints and queues.

The telephony package owns this section; ``hotline.app.settings`` composes it into the whole file.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Port = Annotated[int, Field(ge=1, le=65535)]
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NUMBER = re.compile(r"^[0-9*#+]{1,32}$")
# A PBX name has no '-': call ids of a PBX are "<name>-<Asterisk Linkedid>" (see telephony.tracker).
_PBX_NAME = re.compile(r"^[A-Za-z0-9_]{1,20}$")
DEFAULT_PBX = "pbx1"


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(Strict):
    """How the service reaches the Asterisk Manager Interface."""

    host: str = "127.0.0.1"
    port: Port = 5038
    user: str = "hotline"
    # The secret itself never lives in the file: only the name of the environment variable.
    secret_env: str = "HOTLINE_AMI_SECRET"
    # Networks (besides the PBX's own address) allowed to log in to the AMI rendered for this
    # PBX: the service's hosts when it runs elsewhere (docker/: the compose network).
    permit: list[str] = []
    heartbeat_interval: float = Field(5.0, gt=0, le=300)
    heartbeat_timeout: float = Field(3.0, gt=0, le=60)
    connect_timeout: float = Field(5.0, gt=0, le=60)
    reconnect_min: float = Field(0.2, gt=0, le=60)
    reconnect_max: float = Field(30.0, gt=0, le=600)

    @field_validator("permit")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        return [ipaddress.ip_network(net, strict=False).with_netmask for net in v]

    @model_validator(mode="after")
    def _backoff_order(self) -> AmiSettings:
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min must not exceed reconnect_max")
        return self


class EmbeddedPbx(Strict):
    """The private Asterisk that the service starts and stops itself."""

    bind: str = "127.0.0.1"
    sip_port: Port = 5080
    rtp_start: Port = 20000
    rtp_end: Port = 20999
    runtime_dir: Path = Path("var/asterisk")
    asterisk_binary: Path = Path("/usr/sbin/asterisk")
    modules_dir: Path = Path("/usr/lib/asterisk/modules")
    sounds_dir: Path = Path("/usr/share/asterisk")
    boot_timeout: float = Field(30.0, gt=0)

    @field_validator("bind")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.ip_address(v)
        return v

    @model_validator(mode="after")
    def _rtp_range(self) -> EmbeddedPbx:
        if self.rtp_end - self.rtp_start < 10:
            raise ValueError("rtp_end must be at least rtp_start + 10")
        if self.rtp_start <= self.sip_port <= self.rtp_end:
            raise ValueError(f"sip_port {self.sip_port} lies inside the RTP range")
        return self


class AgentEndpoint(Strict):
    """A seat's SIP phone: a PJSIP endpoint that registers with the PBX."""

    extension: str
    name: str = ""
    # Name of the environment variable holding the SIP password. The embedded PBX generates a
    # random one when it is unset; an external PBX manages its own endpoints.
    password_env: str | None = None

    @field_validator("extension")
    @classmethod
    def _ext(cls, v: str) -> str:
        if not v.isdigit() or not 2 <= len(v) <= 8:
            raise ValueError("extension must be 2 to 8 digits")
        return v

    @property
    def secret_env(self) -> str:
        return self.password_env or f"HOTLINE_SIP_SECRET_{self.extension}"


class LocalPhone(Strict):
    """A phone on the PBX that is not a seat (a department liaison's desk phone, a test
    citizen): an endpoint that registers by its number, may call the hotline, and is dialled
    by number on the outbound route (survey callbacks) without going out through the trunk."""

    number: str
    name: str = ""
    password_env: str | None = None  # default HOTLINE_SIP_SECRET_<number>

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not v.isdigit() or not 2 <= len(v) <= 20:
            raise ValueError("number must be 2 to 20 digits")
        return v

    @property
    def secret_env(self) -> str:
        return self.password_env or f"HOTLINE_SIP_SECRET_{self.number}"


class TrunkSettings(Strict):
    """Where inbound callers come from: a carrier trunk identified by its source address."""

    match: list[str] = ["127.0.0.1/32"]
    codecs: list[str] = ["ulaw", "alaw"]
    # The carrier's SIP address (host:port) for calls out of the hotline: IVR transfers to
    # other numbers (110, 119, 120, another hotline) and, later, survey callbacks.
    gateway: str | None = None

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str | None) -> str | None:
        if v is not None:
            host, _, port = v.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("gateway must be host:port")
        return v

    @field_validator("match")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            ipaddress.ip_network(net, strict=False)
        return v


class Overflow(Strict):
    """What happens to a caller still waiting ``after`` seconds: moved to another queue, or the
    queue widens to agents up to ``max_penalty`` (lower skill levels)."""

    after: int = Field(ge=1, le=3600)
    queue: str | None = None
    max_penalty: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _one(self) -> Overflow:
        if (self.queue is None) == (self.max_penalty is None):
            raise ValueError("overflow needs exactly one of queue, max_penalty")
        return self


class QueueSettings(Strict):
    """One Asterisk queue (a skill group)."""

    name: str
    strategy: Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear"] = (
        "rrmemory"
    )
    members: list[str] = []  # agent extensions
    ring_timeout: int = Field(15, ge=1, le=600)  # seconds each agent rings
    retry: int = Field(1, ge=0, le=60)
    max_wait: int = Field(600, ge=1, le=86400)  # then the caller leaves as no_agent
    wrapup: int = Field(0, ge=0, le=3600)
    language: str = "zh"
    # Agents with this skill are added when they log in (penalty from their level); ``members``
    # are static seats rendered into the config.
    skill: str | None = None
    # Agents first get only callers within this penalty (best-skilled); overflow may widen it.
    max_penalty: int | None = Field(None, ge=0, le=100)
    overflow: Overflow | None = None
    autopause: bool = True  # an agent who lets a call ring out is paused (reason "no answer")
    # Announcements in the caller's language, every N s (0: none): position, and the
    # estimated wait if announce_holdtime.
    announce_frequency: int = Field(0, ge=0, le=600)
    announce_holdtime: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("queue name must be 1-40 letters, digits, '_' or '-'")
        return v


class InboundRoute(Strict):
    """A dialled number, its IVR menu, and the queue callers reach when there is no menu or the
    IVR is down (the service number 12345 is one)."""

    number: str
    queue: str
    menu: str | None = None  # a menu of the ivr section, run over FastAGI

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not _NUMBER.match(v):
            raise ValueError("number must be digits (and * # +)")
        return v


class PbxSettings(Strict):
    """The PBX: embedded (private Asterisk) or external, plus what is rendered into it.

    Queues, agents' endpoints, phones and inbound numbers belong to one PBX: each Asterisk has
    its own queues and only its own endpoints can be their members. A skill group that spans
    several PBXes is the same queue name on each (metrics by queue add them up, by pbx keep
    them apart)."""

    # Names the PBX in call records, agent history, metrics and the live view. A private PBX
    # gets it as Asterisk's ``systemname``, so its call ids already start with "<name>-".
    name: str = DEFAULT_PBX
    mode: Literal["embedded", "external"] = "embedded"
    ami: AmiSettings = AmiSettings()
    embedded: EmbeddedPbx = EmbeddedPbx()
    recordings_dir: Path = Path("var/recordings")
    trunk: TrunkSettings = TrunkSettings()
    agents: list[AgentEndpoint] = []
    phones: list[LocalPhone] = []
    queues: list[QueueSettings] = [QueueSettings(name="operator")]
    inbound: list[InboundRoute] = [InboundRoute(number="12345", queue="operator")]

    @field_validator("name")
    @classmethod
    def _pbx_name(cls, v: str) -> str:
        if not _PBX_NAME.match(v):
            raise ValueError("PBX name must be 1-20 letters, digits or '_' (no '-')")
        return v

    @model_validator(mode="after")
    def _references(self) -> PbxSettings:
        names = [q.name for q in self.queues]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate queue names: {sorted(dupes)}")
        exts = [a.extension for a in self.agents]
        if len(set(exts)) != len(exts):
            raise ValueError("duplicate agent extensions")
        phones = [p.number for p in self.phones]
        if len(set(phones)) != len(phones) or set(phones) & set(exts):
            raise ValueError("pbx.phones: a number is listed twice or is an agent's extension")
        for q in self.queues:
            unknown = [m for m in q.members if m not in exts]
            if unknown:
                raise ValueError(f"queue {q.name!r} lists unknown agents {unknown}")
        for q in self.queues:
            if q.overflow and q.overflow.queue is not None:
                if q.overflow.queue not in names:
                    raise ValueError(f"queue {q.name!r} overflows to unknown queue")
                # Follow the chain: a cycle would bounce a caller between queues forever.
                seen: list[str] = [q.name]
                cur: str | None = q.overflow.queue
                while cur is not None:
                    if cur in seen:
                        raise ValueError(f"queue {q.name!r}: overflow loop {' -> '.join(seen)}")
                    seen.append(cur)
                    ovf = self.queue(cur).overflow
                    cur = ovf.queue if ovf else None
            if q.overflow and q.overflow.after >= q.max_wait:
                raise ValueError(f"queue {q.name!r}: overflow.after must be below max_wait")
        numbers = [r.number for r in self.inbound]
        if len(set(numbers)) != len(numbers):
            raise ValueError("duplicate inbound numbers")
        for r in self.inbound:
            if r.queue not in names:
                raise ValueError(f"inbound number {r.number} routes to unknown queue {r.queue!r}")
        return self

    def queue(self, name: str) -> QueueSettings:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)


def pbx_problems(pbxes: list[PbxSettings], where: list[str]) -> list[str]:
    """What makes several PBXes unusable together (``where[i]`` names ``pbxes[i]`` in the
    messages): a name twice, one PBX listed twice, an endpoint number on two PBXes (the
    service finds an agent's PBX by its extension), private PBXes sharing ports or folders."""
    problems: list[str] = []
    first: dict[str, str] = {}
    for i, pbx in enumerate(pbxes):
        if pbx.name in first:
            problems.append(f"{where[i]}.name: {pbx.name!r} is also the name of {first[pbx.name]}")
        first.setdefault(pbx.name, where[i])
    owner: dict[str, str] = {}
    for i, pbx in enumerate(pbxes):
        numbers = [("agent", a.extension) for a in pbx.agents]
        numbers += [("phone", p.number) for p in pbx.phones]
        for kind, number in numbers:
            other = owner.get(number)
            if other is not None and other != pbx.name:
                problems.append(
                    f"{where[i]}: {kind} {number} is also an endpoint of PBX {other!r} "
                    "(endpoint numbers must be unique across PBXes)"
                )
            owner.setdefault(number, pbx.name)
    seen_ami: dict[tuple[str, int], str] = {}
    for i, pbx in enumerate(pbxes):
        host = pbx.embedded.bind if pbx.mode == "embedded" else pbx.ami.host
        key = (host, pbx.ami.port)
        if key in seen_ami:
            problems.append(
                f"{where[i]}.ami: {host}:{pbx.ami.port} is also the AMI of {seen_ami[key]} "
                "(the same PBX listed twice?)"
            )
        seen_ami.setdefault(key, where[i])
    private = [(where[i], p) for i, p in enumerate(pbxes) if p.mode == "embedded"]
    for a, (wa, pa) in enumerate(private):
        for wb, pb in private[a + 1 :]:
            ea, eb = pa.embedded, pb.embedded
            if ea.runtime_dir.resolve() == eb.runtime_dir.resolve():
                problems.append(f"{wb}.embedded.runtime_dir: the same folder as {wa}'s")
            if ea.rtp_start <= eb.rtp_end and eb.rtp_start <= ea.rtp_end:
                problems.append(f"{wb}.embedded: RTP range overlaps {wa}'s")
            ports_a = {"embedded.sip_port": ea.sip_port, "ami.port": pa.ami.port}
            ports_b = {"embedded.sip_port": eb.sip_port, "ami.port": pb.ami.port}
            for na, port_a in ports_a.items():
                for nb, port_b in ports_b.items():
                    # The same AMI port on the same address is reported above.
                    same = port_a == port_b and ea.bind == eb.bind
                    if same and not na == nb == "ami.port":
                        problems.append(f"port clash: {wa}.{na} and {wb}.{nb} are both {port_a}")
            for w, e, wo, theirs in ((wa, ea, wb, ports_b), (wb, eb, wa, ports_a)):
                for n, port in theirs.items():
                    if e.rtp_start <= port <= e.rtp_end:
                        problems.append(f"port clash: {wo}.{n} {port} lies in {w}'s RTP range")
    return problems
