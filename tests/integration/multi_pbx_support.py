"""Two private Asterisk instances ("east" and "west") and one service connected to both.

Built with the same machinery as the session's PBX (tests/integration/conftest.py): the settings are
rendered into each private Asterisk, which runs on its own free loopback ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.app.pbx import embedded_pbx
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings, parse_settings, resolve_secrets
from telephony.asterisk.process import PrivateAsterisk
from telephony.sip import Phone, PhoneConfig, SipStack, allocate_ports
from testkit.support import free_port, wait_for

# PBX name → its agents' extensions (the same queue on each PBX: one skill group).
SEATS = {"east": ["2101", "2102"], "west": ["2201", "2202"]}
QUEUE = "help"
MENU_NUMBER, PLAIN_NUMBER = "12345", "12346"  # the one with the IVR menu, the one without
# A short menu: a greeting, then (no key pressed) the queue; exercises the one FastAGI server
# both PBXes call.
MINI_MENU = {
    "entry": "hello",
    "nodes": {
        "hello": {
            "prompt": ["mp_hello"],
            "options": {"1": {"queue": QUEUE, "kind": "complaint"}},
            "timeout": 1,
            "retries": 0,
            "on_exhausted": {"queue": QUEUE, "kind": "consultation"},
        }
    },
}


def pbx_section(name: str, root: Path, rtp_start: int) -> dict[str, Any]:
    return {
        "name": name,
        "mode": "embedded",
        "ami": {
            "port": free_port(),
            "heartbeat_interval": 2,
            "heartbeat_timeout": 2,
            "reconnect_min": 0.1,
            "reconnect_max": 1,
        },
        "embedded": {
            "sip_port": free_port(socket.SOCK_DGRAM),
            "rtp_start": rtp_start,
            "rtp_end": rtp_start + 99,
            "runtime_dir": str(root / name),  # short: Asterisk's socket path has a limit
        },
        "recordings_dir": str(root / "rec"),  # shared: the file names carry the PBX's name
        "agents": [{"extension": e, "name": f"Seat {e}"} for e in SEATS[name]],
        "queues": [{"name": QUEUE, "skill": QUEUE, "ring_timeout": 5, "language": "zh"}],
        "inbound": [
            {"number": MENU_NUMBER, "queue": QUEUE, "menu": "mini"},
            {"number": PLAIN_NUMBER, "queue": QUEUE},
        ],
    }


def two_pbx_settings(root: Path, database_url: str | None = None) -> Settings:
    # RTP in 30000-30999: the session PBX uses 31000-32699, test phones 21000-30000.
    rtp = 30000 + (free_port() % 4) * 200
    data = {
        "service_number": MENU_NUMBER,
        "pbxes": [pbx_section("east", root, rtp), pbx_section("west", root, rtp + 100)],
        "ivr": {
            "prompts_dir": str(root / "prompts"),
            "prompts": {"mp_hello": {"zh": "您好。"}},
            "menus": {"mini": MINI_MENU},
        },
        "asr": {"enabled": False},
        "surveys": {"enabled": False},
        "database": {"url": database_url or f"sqlite:///{root / 'multi.db'}"},
        "listen": {"api_port": free_port(), "agi_port": free_port()},
    }
    return parse_settings(data, "two-PBX test settings")


@dataclass
class TwoPbx:
    settings: Settings
    secrets: Secrets
    service: Service
    asterisks: dict[str, PrivateAsterisk]

    def sip_port(self, pbx: str) -> int:
        return self.settings.pbx_named(pbx).embedded.sip_port

    def dial_uri(self, pbx: str, number: str) -> str:
        return f"sip:{number}@127.0.0.1:{self.sip_port(pbx)}"

    async def add_agent_phone(self, sip: SipStack, pbx: str, ext: str) -> Phone:
        ports = allocate_ports(1, low=21000, high=30000)[0]
        phone = await sip.add_phone(
            PhoneConfig(
                ext,
                sip_port=ports.sip_port,
                rtp_port=ports.rtp_port,
                registrar=f"sip:127.0.0.1:{self.sip_port(pbx)}",
                auth_user=ext,
                password=self.secrets.agent_passwords[ext],
            )
        )
        await phone.wait_registered(10)
        return phone


@contextlib.asynccontextmanager
async def two_pbxes(root: Path, database_url: str | None = None) -> AsyncIterator[TwoPbx]:
    """Both private Asterisks up, the service connected to both and ready."""
    settings = two_pbx_settings(root, database_url)
    secrets = resolve_secrets(settings, env={})
    async with contextlib.AsyncExitStack() as stack:
        asterisks = {}
        for pbx in settings.all_pbxes:
            asterisks[pbx.name] = await stack.enter_async_context(
                embedded_pbx(settings, secrets, pbx)
            )
        svc = await Service.build(settings, secrets)
        task = asyncio.create_task(svc.run(), name="two-PBX service")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(stop)
        for link in svc.links.values():
            assert link.ami is not None
            await asyncio.wait_for(link.ami.connected.wait(), 15)
        await asyncio.wait_for(svc.ivr.server.listening.wait(), 15)
        await wait_for(lambda: svc.web.started, 15, "the web server")
        await asyncio.wait_for(svc.desk.reconciled.wait(), 15)
        yield TwoPbx(settings, secrets, svc, asterisks)
