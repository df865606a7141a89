"""Real pjsua2 phones calling each other over 127.0.0.1 (no Asterisk, no mocks).

pjsua2 allows one Endpoint per process, so every test shares the session-scoped
stack (the ``sip`` fixture of conftest.py, used by the other SIP tests as well);
lifecycle tests that need their own stack run in a subprocess.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import math
import re
import shutil
import subprocess
import sys
import textwrap
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest
import pytest_asyncio

from telephony.sip import (
    CallFailed,
    CallHandle,
    Phone,
    PhoneConfig,
    RegistrationFailed,
    SipStack,
    SipStackError,
    allocate_ports,
)

PhoneFactory = Callable[[str], Awaitable[Phone]]
TIMEOUT = 5.0


def _make_tone(path: Path, freq: int, seconds: float) -> Path:
    """8 kHz 16-bit mono sine, with sox as in the brief (pure Python if sox is missing)."""
    sox = shutil.which("sox")
    if sox is not None:
        cmd = [sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(path)]
        subprocess.run([*cmd, "synth", str(seconds), "sine", str(freq)], check=True)
        return path
    samples = array.array(
        "h",
        (int(12000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(int(8000 * seconds))),
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    return path


def _wav_rms(path: Path) -> tuple[int, float]:
    """(frames, RMS) of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getsampwidth(), wav.getnchannels()) == (2, 1)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if not samples:
        return 0, 0.0
    return len(samples), math.sqrt(sum(s * s for s in samples) / len(samples))


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tones")
    return {
        "caller": _make_tone(root / "tone.wav", 440, 2),
        "agent": _make_tone(root / "agent.wav", 880, 1),
    }


@pytest.fixture(scope="session")
def stack(sip: SipStack) -> SipStack:
    """The session's one ``SipStack`` (``sip`` in conftest.py), shared with other test files."""
    return sip


@pytest_asyncio.fixture
async def make_phone(stack: SipStack) -> AsyncIterator[PhoneFactory]:
    """Creates phones on fresh free ports; closes them (hanging up) after the test."""
    phones: list[Phone] = []

    async def factory(user: str) -> Phone:
        (ports,) = allocate_ports(1)
        config = PhoneConfig(user, sip_port=ports.sip_port, rtp_port=ports.rtp_port)
        phone = await stack.add_phone(config)
        phones.append(phone)
        return phone

    yield factory
    for phone in phones:
        await phone.close()


async def test_call_with_delayed_answer_media_dtmf_and_caller_hangup(
    make_phone: PhoneFactory, tones: dict[str, Path], tmp_path: Path
) -> None:
    agent = await make_phone("agent")
    caller = await make_phone("caller")
    agent.auto_answer(
        after_ms=1000, play=tones["agent"], record_dir=tmp_path / "agent", loop_play=True
    )

    call = await caller.dial(agent.uri, headers={"X-Hotline-Case": "T-1"})
    incoming = await agent.next_incoming(TIMEOUT)
    assert incoming.direction == "incoming"
    assert incoming.request_header("X-Hotline-Case") == "T-1"
    assert "caller" in incoming.remote_uri

    answered_at = await call.wait_answered(TIMEOUT)
    await incoming.wait_answered(TIMEOUT)
    assert incoming.ringing_at is not None and incoming.answered_at is not None
    assert 0.95 <= incoming.answered_at - incoming.ringing_at <= 1.4
    assert call.ringing_at is not None and call.last_status == 200
    assert 0.9 <= answered_at - call.ringing_at <= 1.4

    await call.wait_media(TIMEOUT)
    assert call.codec == "PCMU"
    rtp_port = int(call.local_rtp.rsplit(":", 1)[1])
    assert (
        caller.config.rtp_port <= rtp_port < caller.config.rtp_port + caller.config.rtp_port_range
    )
    caller_rec = await call.start_recording(tmp_path / "caller-hears.wav")
    await call.send_dtmf("123#")
    t0 = time.monotonic()
    assert await call.play(tones["caller"]) is True
    assert 1.8 <= time.monotonic() - t0 <= 3.5  # played to the end of the 2 s file

    digits = [await asyncio.wait_for(incoming.received_dtmf.get(), TIMEOUT) for _ in range(4)]
    assert "".join(digits) == "123#"

    await call.hangup()
    caller_end = await call.wait_ended(TIMEOUT)
    agent_end = await incoming.wait_ended(TIMEOUT)
    assert caller_end.status == 200 and agent_end.status == 200
    assert call.ended_at is not None and incoming.ended_at is not None
    assert abs(caller_end.ended_at - agent_end.ended_at) < 1.0

    (agent_rec,) = incoming.recordings
    frames, rms = _wav_rms(agent_rec)
    assert frames >= 8000 * 1.5, f"agent recorded only {frames} frames"
    assert rms > 1000, f"agent recording has no tone energy (rms={rms:.0f})"
    frames, rms = _wav_rms(caller_rec)
    assert frames >= 8000 * 1.5 and rms > 1000, f"caller heard {frames} frames, rms={rms:.0f}"


async def test_agent_hangs_up_after_talk_time(
    make_phone: PhoneFactory, tones: dict[str, Path]
) -> None:
    agent = await make_phone("agent")
    caller = await make_phone("caller")
    agent.auto_answer(after_ms=0, hangup_after_s=0.5)

    call = await caller.dial(agent.uri)
    answered_at = await call.wait_answered(TIMEOUT)
    assert await call.play(tones["caller"]) is False  # 2 s file cut short by the hangup
    end = await call.wait_ended(TIMEOUT)
    assert end.status == 200
    assert 0.4 <= end.ended_at - answered_at <= 1.5
    incoming = await agent.next_incoming(TIMEOUT)
    assert (await incoming.wait_ended(TIMEOUT)).status == 200


async def test_busy_rejection_gives_486(make_phone: PhoneFactory) -> None:
    agent = await make_phone("busy")
    caller = await make_phone("caller")
    agent.auto_reject(486)

    call = await caller.dial(agent.uri)
    with pytest.raises(CallFailed) as failure:
        await call.wait_answered(TIMEOUT)
    assert failure.value.status == 486
    end = await call.wait_ended(TIMEOUT)
    assert end.status == 486 and call.last_status == 486
    assert call.answered_at is None


async def test_unanswered_call_rings_until_caller_gives_up(make_phone: PhoneFactory) -> None:
    agent = await make_phone("noanswer")
    caller = await make_phone("caller")
    agent.ring_forever()

    call = await caller.dial(agent.uri)
    await call.wait_ringing(TIMEOUT)
    with pytest.raises(TimeoutError, match="answer of"):
        await call.wait_answered(0.3)
    incoming = await agent.next_incoming(TIMEOUT)
    await call.hangup()
    assert (await call.wait_ended(TIMEOUT)).status == 487
    await incoming.wait_ended(TIMEOUT)
    assert incoming.answered_at is None


async def test_manual_answer_through_the_handle(make_phone: PhoneFactory) -> None:
    agent = await make_phone("manual")
    caller = await make_phone("caller")

    call = await caller.dial(agent.uri)
    incoming = await agent.next_incoming(TIMEOUT)
    await incoming.answer()
    await call.wait_answered(TIMEOUT)
    await incoming.wait_media(TIMEOUT)
    await incoming.hangup()
    assert (await call.wait_ended(TIMEOUT)).status == 200
    with pytest.raises(CallFailed):
        await call.send_dtmf("1")


async def test_three_phones_run_concurrently(make_phone: PhoneFactory) -> None:
    """Two simultaneous calls into one agent: 4 call legs, the build's PJSUA_MAX_CALLS."""
    alice, bob, carol = [await make_phone(name) for name in ("alice", "bob", "carol")]
    assert len({p.config.sip_port for p in (alice, bob, carol)}) == 3
    bob.auto_answer(after_ms=200, hangup_after_s=1.5)

    async def ring(src: Phone, digit: str) -> CallHandle:
        call = await src.dial(bob.uri)
        await call.wait_answered(TIMEOUT)
        await call.wait_media(TIMEOUT)
        await call.send_dtmf(digit)
        return call

    calls = await asyncio.gather(ring(alice, "1"), ring(carol, "2"))
    incoming = [await bob.next_incoming(TIMEOUT) for _ in calls]
    assert len(bob.calls) == 2
    with pytest.raises(CallFailed, match="cannot call"):
        await alice.dial(carol.uri)  # a fifth leg exceeds the per-process call limit
    heard = {h.remote_uri: await asyncio.wait_for(h.received_dtmf.get(), TIMEOUT) for h in incoming}
    assert sorted(heard.values()) == ["1", "2"]
    for uri, digit in heard.items():
        assert ("alice" if digit == "1" else "carol") in uri
    ends = await asyncio.gather(*(c.wait_ended(TIMEOUT) for c in [*calls, *incoming]))
    assert all(end.status == 200 for end in ends)


async def test_incoming_call_is_routed_by_port_not_user_name(make_phone: PhoneFactory) -> None:
    first, second = await make_phone("agent"), await make_phone("agent")
    caller = await make_phone("caller")
    first.auto_reject(603)
    second.auto_answer(hangup_after_s=0.2)

    call = await caller.dial(second.uri)
    await call.wait_answered(TIMEOUT)
    assert (await call.wait_ended(TIMEOUT)).status == 200
    assert first.incoming.empty() and not second.incoming.empty()


class _DigestRegistrar(asyncio.DatagramProtocol):
    """A minimal UDP registrar: 401 digest challenge, then 200 (403 on bad credentials)."""

    REALM, NONCE = "hotline", "c0ffee"

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.transport: asyncio.DatagramTransport | None = None
        self.unregistered = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        head = data.decode().split("\r\n\r\n", 1)[0].split("\r\n")
        if not head[0].startswith("REGISTER ") or self.transport is None:
            return
        headers = [line.partition(":") for line in head[1:]]
        values = {name.strip().lower(): value.strip() for name, _, value in headers}
        echo = [
            f"{n}:{v}" for n, _, v in headers if n.lower() in ("via", "from", "call-id", "cseq")
        ]
        echo.append(
            f"To:{values['to']};tag=reg" if "tag=" not in values["to"] else f"To:{values['to']}"
        )
        auth = values.get("authorization")
        if auth is None:
            status = "401 Unauthorized"
            echo.append(f'WWW-Authenticate: Digest realm="{self.REALM}", nonce="{self.NONCE}"')
        elif self._valid(dict(re.findall(r'(\w+)="?([^",]+)"?', auth))):
            status = "200 OK"
            expires = values.get("expires", "300")
            if expires == "0" or "expires=0" in values.get("contact", ""):
                self.unregistered.set()
            else:
                echo += [f"Contact: {values['contact']};expires={expires}", f"Expires: {expires}"]
        else:
            status = "403 Forbidden"
        reply = "\r\n".join([f"SIP/2.0 {status}", *echo, "Content-Length: 0", "", ""])
        self.transport.sendto(reply.encode(), addr)

    def _valid(self, auth: dict[str, str]) -> bool:
        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:{self.REALM}:{self.password}")
        expected = md5(f"{ha1}:{self.NONCE}:{md5('REGISTER:' + auth.get('uri', ''))}")
        return auth.get("username") == self.user and auth.get("response") == expected


@pytest.mark.parametrize("password", ["s3cret", "wrong"])
async def test_registration_with_digest_auth(stack: SipStack, password: str) -> None:
    (registrar_ports, phone_ports) = allocate_ports(2)
    registrar = _DigestRegistrar("1001", "s3cret")
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: registrar, local_addr=("127.0.0.1", registrar_ports.sip_port)
    )
    config = PhoneConfig(
        "agent1",
        sip_port=phone_ports.sip_port,
        rtp_port=phone_ports.rtp_port,
        registrar=f"sip:127.0.0.1:{registrar_ports.sip_port}",
        auth_user="1001",
        password=password,
    )
    phone = await stack.add_phone(config)
    try:
        if password == "wrong":
            with pytest.raises(RegistrationFailed) as failure:
                await phone.wait_registered(TIMEOUT)
            assert failure.value.status == 403 and not phone.registered
        else:
            await phone.wait_registered(TIMEOUT)
            assert phone.registered and phone.reg_status == 200
            await phone.close()  # unregisters
            await asyncio.wait_for(registrar.unregistered.wait(), TIMEOUT)
    finally:
        await phone.close()
        transport.close()


async def test_second_stack_in_process_is_refused(stack: SipStack) -> None:
    with pytest.raises(SipStackError, match="one Endpoint per process"):
        await SipStack().start()
    assert stack.running


_LIFECYCLE_SCRIPT = textwrap.dedent(
    """
    import asyncio, threading
    from telephony.sip import PhoneConfig, SipStack, allocate_ports

    async def phones(stack):
        a, b = allocate_ports(2)
        agent = await stack.add_phone(PhoneConfig("agent", sip_port=a[0], rtp_port=a[1]))
        caller = await stack.add_phone(PhoneConfig("caller", sip_port=b[0], rtp_port=b[1]))
        agent.auto_answer()
        call = await caller.dial(agent.uri)
        await call.wait_answered(5)
        return call

    async def cancelled_owner(in_call):
        async with SipStack() as stack:
            await phones(stack)
            in_call.set()
            await asyncio.Event().wait()  # cancelled below, with a live call

    async def main():
        in_call = asyncio.Event()
        task = asyncio.create_task(cancelled_owner(in_call))
        await asyncio.wait_for(in_call.wait(), 10)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert not any(t.name == "pjsip" for t in threading.enumerate()), "thread left"
        stack = SipStack()  # the Endpoint singleton was released: a new stack works
        await stack.start()
        call = await phones(stack)
        await stack.stop()
        await stack.stop()  # idempotent
        assert call.ended and not any(t.name == "pjsip" for t in threading.enumerate())
        print("LIFECYCLE-OK")

    asyncio.run(main())
    """
)


def test_cancel_and_restart_lifecycle_in_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LIFECYCLE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LIFECYCLE-OK" in result.stdout
