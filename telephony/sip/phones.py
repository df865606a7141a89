"""Phones: one pjsua2 account per ``Phone``, each on its own SIP UDP port and RTP range."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from telephony.sip._aio import Waitable
from telephony.sip.calls import CallHandle, PjCall
from telephony.sip.config import IncomingAction, IncomingPolicy, PhoneConfig
from telephony.sip.errors import CallFailed, RegistrationFailed, SipError, SipStackError
from telephony.sip.stack import describe_pj_error, destroy_now

if TYPE_CHECKING:
    from telephony.sip.stack import SipStack

log = logging.getLogger(__name__)

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


class Phone(Waitable):
    """A SIP phone (asyncio side). Create it with ``await stack.add_phone(config)``.

    Incoming calls are answered according to ``policy`` (default: ring until the
    application answers via the ``CallHandle`` or the caller gives up) and are put
    on the ``incoming`` queue.
    """

    def __init__(self, stack: SipStack, config: PhoneConfig) -> None:
        super().__init__()
        self._stack = stack
        self.config = config
        self.incoming: asyncio.Queue[CallHandle] = asyncio.Queue()
        # Read by the pjsip thread when a call arrives; replaced, never mutated.
        self.policy = IncomingPolicy()
        self.registered = False
        self.reg_status = 0
        self.reg_reason = ""
        self._reg_error: RegistrationFailed | None = None
        self._acc_id: int | None = None
        self._handles: list[CallHandle] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"<Phone {self.config.user} {self.config.bind}:{self.config.sip_port}>"

    @property
    def uri(self) -> str:
        """Direct URI of this phone: ``sip:{user}@{bind}:{sip_port}``."""
        return self.config.contact_uri

    @property
    def calls(self) -> list[CallHandle]:
        """Calls of this phone that have not ended yet."""
        self._handles = [h for h in self._handles if not h.ended]
        return list(self._handles)

    # -------------------------------------------------------------- lifecycle

    async def _create(self) -> None:
        self._acc_id = await self._stack.run(self._create_account, f"create phone {self}")

    def _create_account(self) -> int:
        """pjsip thread: UDP transport on ``sip_port`` plus an account bound to it."""
        cfg = self.config
        stack = self._stack
        ep = stack._endpoint
        tcfg = pj.TransportConfig()
        tcfg.port = cfg.sip_port
        if cfg.bind not in ("", "0.0.0.0"):
            tcfg.boundAddress = cfg.bind
        try:
            transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        except pj.Error as exc:
            raise SipError(
                f"cannot open SIP UDP port {cfg.bind}:{cfg.sip_port}: {describe_pj_error(exc)}"
            ) from exc

        acfg = pj.AccountConfig()
        acfg.idUri = cfg.id_uri
        acfg.sipConfig.transportId = transport_id
        acfg.natConfig.sipOutboundUse = 0  # plain Contact without ;ob / reg-id
        if cfg.registrar:
            acfg.regConfig.registrarUri = cfg.registrar
            acfg.regConfig.timeoutSec = cfg.reg_timeout_s
        if cfg.password is not None:
            cred = pj.AuthCredInfo("digest", "*", cfg.auth_user or cfg.user, 0, cfg.password)
            acfg.sipConfig.authCreds.append(cred)
        rtp = pj.TransportConfig()
        rtp.port = cfg.rtp_port
        rtp.portRange = cfg.rtp_port_range
        if cfg.bind not in ("", "0.0.0.0"):
            rtp.boundAddress = cfg.bind
        acfg.mediaConfig.transportConfig = rtp

        acc = PjAccount(stack, self, transport_id)
        try:
            acc.create(acfg, False)
        except pj.Error as exc:
            ep.transportClose(transport_id)
            raise SipError(f"cannot create account for {self}: {describe_pj_error(exc)}") from exc
        acc_id = int(acc.getId())
        stack._register_account(acc_id, cfg.sip_port, acc)
        log.debug("phone %s ready (account %d, transport %d)", self, acc_id, transport_id)
        return acc_id

    def _account(self) -> PjAccount:
        """pjsip thread: this phone's pjsua2 account."""
        acc = self._stack._accounts.get(self._acc_id if self._acc_id is not None else -1)
        if acc is None:
            raise SipError(f"{self} is closed")
        return acc

    async def close(self, timeout: float = 5.0) -> None:
        """Hang up this phone's calls (bounded wait), then remove its account and port."""
        if self.closed:
            return
        self.closed = True
        self.policy = IncomingPolicy(IncomingAction.REJECT, reject_status=480)
        await self.hangup_all(timeout)
        acc_id = self._acc_id
        if acc_id is not None and self._stack.running:
            await self._stack.run(lambda: self._close_account(acc_id), f"close {self}")
        self._stack._forget_phone(self)

    def _close_account(self, acc_id: int) -> None:
        acc = self._stack._unregister_account(acc_id)
        if acc is not None:
            acc.shutdown_account(close_transport=True)

    async def hangup_all(self, timeout: float = 5.0) -> None:
        """Hang up every live call of this phone and wait (bounded) for their end."""
        live = self.calls
        for handle in live:
            await handle.hangup()
        for handle in live:
            try:
                await handle.wait_ended(timeout)
            except TimeoutError:
                log.warning("%s did not end within %.1f s after hangup", handle, timeout)

    # ------------------------------------------------------------ registration

    async def wait_registered(self, timeout: float | None = 10.0) -> None:
        """Wait for a successful REGISTER; ``RegistrationFailed`` on a final error.

        Returns at once for phones without a registrar.
        """
        if self.config.registrar is None:
            return
        await self._wait_until(
            lambda: self.registered or self._reg_error is not None,
            timeout,
            f"registration of {self} at {self.config.registrar}",
        )
        if not self.registered and self._reg_error is not None:
            raise self._reg_error

    def _on_reg_state(self, active: bool, status: int, reason: str) -> None:
        self.registered = active
        self.reg_status = status
        self.reg_reason = reason
        if active or status < 300:
            self._reg_error = None
        else:
            self._reg_error = RegistrationFailed(
                f"registration of {self} at {self.config.registrar} failed: {status} {reason}",
                status,
                reason,
            )
            log.warning("%s", self._reg_error)
        self._wake()

    # ------------------------------------------------------------------ calls

    async def dial(self, uri: str, headers: Mapping[str, str] | None = None) -> CallHandle:
        """Place a call to ``uri`` (with extra INVITE headers); returns once INVITE is sent."""
        if self.closed:
            raise SipError(f"{self} is closed")
        hdrs = dict(headers or {})
        for name, value in hdrs.items():
            if not _HEADER_NAME.match(name) or "\r" in value or "\n" in value:
                raise ValueError(f"invalid SIP header {name!r}: {value!r}")
        stack = self._stack
        handle = CallHandle(
            stack,
            stack._new_key(),
            direction="outgoing",
            phone_user=self.config.user,
            remote_uri=uri,
        )

        def job() -> str:
            core = PjCall(stack, self._account(), handle)
            stack._register_call(core)
            prm = pj.CallOpParam(True)
            prm.opt.audioCount = 1
            prm.opt.videoCount = 0
            for name, value in hdrs.items():
                header = pj.SipHeader()
                header.hName = name
                header.hValue = value
                prm.txOption.headers.append(header)
            try:
                core.makeCall(uri, prm)
            except pj.Error as exc:
                stack._calls.pop(core.key, None)
                raise CallFailed(
                    f"cannot call {uri} from {self}: {describe_pj_error(exc)}"
                ) from exc
            try:
                return str(core.getInfo().callIdString)
            except pj.Error:
                return ""  # already disconnected; the handle gets the end event

        handle.sip_call_id = await stack.run(job, f"dial {uri} from {self}")
        self._handles.append(handle)
        return handle

    def auto_answer(
        self,
        after_ms: int = 0,
        play: Path | None = None,
        hangup_after_s: float | None = None,
        record_dir: Path | None = None,
        *,
        loop_play: bool = False,
        reject_with: int | None = None,
    ) -> None:
        """Answer every incoming call automatically.

        180 Ringing goes out at once, 200 OK after ``after_ms``. When audio is up,
        ``play`` is transmitted once (looped with ``loop_play``) and what the phone
        hears is recorded into ``record_dir/<user>-<time>-<n>.wav``. The phone hangs
        up ``hangup_after_s`` seconds after the call is confirmed (None: wait for
        the remote side). ``reject_with=486`` is a shortcut for ``auto_reject``.
        """
        if reject_with is not None:
            self.auto_reject(reject_with, after_ms)
            return
        if play is not None and not Path(play).is_file():
            raise FileNotFoundError(f"WAV file to play not found: {play}")
        self.policy = IncomingPolicy(
            IncomingAction.ANSWER,
            after_ms=after_ms,
            play=Path(play) if play is not None else None,
            loop_play=loop_play,
            hangup_after_s=hangup_after_s,
            record_dir=Path(record_dir) if record_dir is not None else None,
        )

    def auto_reject(self, status: int = 486, after_ms: int = 0) -> None:
        """Reject every incoming call with ``status`` (486 Busy Here by default) after a 180."""
        self.policy = IncomingPolicy(IncomingAction.REJECT, after_ms=after_ms, reject_status=status)

    def ring_forever(self) -> None:
        """Let incoming calls ring (180) until answered via the handle or cancelled."""
        self.policy = IncomingPolicy(IncomingAction.RING)

    async def next_incoming(self, timeout: float | None = None) -> CallHandle:
        """Wait for the next incoming call on this phone."""
        try:
            async with asyncio.timeout(timeout):
                return await self.incoming.get()
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout} s waiting for an incoming call on {self}"
            ) from None

    def _on_incoming(self, handle: CallHandle) -> None:
        self._handles.append(handle)
        self.incoming.put_nowait(handle)


class PjAccount(pj.Account):  # type: ignore[misc]
    """The pjsua2 account of one ``Phone``; lives on the pjsip thread only."""

    def __init__(self, stack: SipStack, phone: Phone, transport_id: int) -> None:
        super().__init__()
        self.stack = stack
        self.phone = phone
        self.transport_id = transport_id

    def onRegState(self, prm: Any) -> None:
        try:
            active = bool(self.getInfo().regIsActive)
            self.stack._notify(self.phone._on_reg_state, active, int(prm.code), str(prm.reason))
        except Exception:
            log.exception("onRegState failed for %s", self.phone)

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self._incoming(int(prm.callId), str(prm.rdata.wholeMsg))
        except Exception:
            # pjsua2 answers 500 when no Call object was attached.
            log.exception("onIncomingCall failed for %s", self.phone)

    def _incoming(self, call_id: int, invite: str) -> None:
        stack, phone = self.stack, self.phone
        policy = phone.policy
        handle = CallHandle(
            stack, stack._new_key(), direction="incoming", phone_user=phone.config.user
        )
        handle.invite = invite
        core = PjCall(stack, self, handle, call_id=call_id, policy=policy)
        stack._register_call(core)
        info = core.getInfo()
        # The handle is not visible to the loop yet, so filling it in here is safe.
        handle.remote_uri = str(info.remoteUri)
        handle.sip_call_id = str(info.callIdString)
        core.respond(180)
        handle.ringing_at = time.time()
        handle.last_status = 180
        stack._notify(phone._on_incoming, handle)
        if policy.action is IncomingAction.ANSWER:
            core.later(policy.after_ms / 1000, lambda: core.respond(200), "auto answer")
        elif policy.action is IncomingAction.REJECT:
            status = policy.reject_status
            core.later(policy.after_ms / 1000, lambda: core.end_call(status), "auto reject")

    def shutdown_account(self, *, close_transport: bool) -> None:
        """Unregister and delete the pjsua account (and optionally close its transport)."""
        try:
            self.shutdown()
        except pj.Error as exc:
            log.warning("account shutdown of %s: %s", self.phone, describe_pj_error(exc))
        if close_transport:
            try:
                self.stack._endpoint.transportClose(self.transport_id)
            except (pj.Error, SipStackError) as exc:
                log.warning("closing transport of %s: %s", self.phone, describe_pj_error(exc))
        destroy_now(self)
