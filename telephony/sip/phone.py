"""``Phone``: the asyncio side of one SIP phone (its pjsua2 side is ``pj_account.PjAccount``).

Each phone has its own SIP UDP port and RTP port range.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from pathlib import Path

from telephony.sip._aio import Waitable
from telephony.sip.call import CallHandle
from telephony.sip.config import IncomingAction, IncomingPolicy, PhoneConfig
from telephony.sip.errors import RegistrationFailed, SipError
from telephony.sip.pj_account import close_account, find_account, open_account
from telephony.sip.ports import PhoneHost

log = logging.getLogger(__name__)

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


class Phone(Waitable):
    """A SIP phone (asyncio side). Create it with ``await stack.add_phone(config)``.

    Incoming calls are answered according to ``policy`` (default: ring until the
    application answers via the ``CallHandle`` or the caller gives up) and are put
    on the ``incoming`` queue.
    """

    def __init__(self, stack: PhoneHost, config: PhoneConfig) -> None:
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

    async def open(self) -> None:
        """Open this phone's SIP port and account on the pjsip thread (``add_phone`` does)."""
        if self._acc_id is not None:
            raise SipError(f"{self} is already open")
        pjsip = self._stack.pjsip
        self._acc_id = await self._stack.run(
            lambda: open_account(pjsip, self), f"create phone {self}"
        )

    async def close(self, timeout: float = 5.0) -> None:
        """Hang up this phone's calls (bounded wait), then remove its account and port."""
        if self.closed:
            return
        self.closed = True
        self.policy = IncomingPolicy(IncomingAction.REJECT, reject_status=480)
        await self.hangup_all(timeout)
        acc_id = self._acc_id
        if acc_id is not None and self._stack.running:
            pjsip = self._stack.pjsip
            await self._stack.run(lambda: close_account(pjsip, acc_id), f"close {self}")
        self._stack.forget_phone(self)

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

    def on_reg_state(self, active: bool, status: int, reason: str) -> None:
        """A registration result (``PhoneEvents``, run on the loop)."""
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
        pjsip = stack.pjsip
        handle = CallHandle(
            stack,
            pjsip.new_key(),
            direction="outgoing",
            phone_user=self.config.user,
            remote_uri=uri,
        )
        acc_id = self._acc_id

        def job() -> str:
            return find_account(pjsip, acc_id, self).dial(handle, handle.key, uri, hdrs)

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

    # ---------------- updates from the pjsip side (``PhoneEvents``)

    def new_incoming_call(self, key: int, invite: str) -> CallHandle:
        """The handle of a new incoming call (pjsip thread; the loop has not seen it yet)."""
        handle = CallHandle(self._stack, key, direction="incoming", phone_user=self.config.user)
        handle.invite = invite
        return handle

    def on_incoming(self, call: CallHandle) -> None:
        """An incoming call is ringing (run on the loop)."""
        self._handles.append(call)
        self.incoming.put_nowait(call)
