"""``PjAccount``: the pjsua2 account (and UDP transport) of one ``Phone``; pjsip thread only.

The functions here are the jobs a ``Phone`` runs on the pjsip thread: open and close
its account, look it up to place a call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import pjsua2 as pj

from telephony.sip.config import IncomingAction
from telephony.sip.errors import CallFailed, SipError, SipStackError
from telephony.sip.pj_call import PjCall
from telephony.sip.pj_util import describe_pj_error, destroy_now
from telephony.sip.ports import CallEvents, PhoneEvents, PjsipServices

log = logging.getLogger(__name__)


class PjAccount(pj.Account):  # type: ignore[misc]
    """The pjsua2 account of one phone; reports to it through ``PhoneEvents``."""

    def __init__(self, services: PjsipServices, phone: PhoneEvents[Any], transport_id: int) -> None:
        super().__init__()
        self.services = services
        self.phone = phone
        self.transport_id = transport_id

    def onRegState(self, prm: Any) -> None:
        try:
            active = bool(self.getInfo().regIsActive)
            self.services.notify(self.phone.on_reg_state, active, int(prm.code), str(prm.reason))
        except Exception:
            log.exception("onRegState failed for %s", self.phone)

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self._incoming(int(prm.callId), str(prm.rdata.wholeMsg))
        except Exception:
            # pjsua2 answers 500 when no Call object was attached.
            log.exception("onIncomingCall failed for %s", self.phone)

    def _incoming(self, call_id: int, invite: str) -> None:
        services, phone = self.services, self.phone
        policy = phone.policy
        key = services.new_key()
        handle: CallEvents = phone.new_incoming_call(key, invite)
        core = PjCall(
            services,
            self,
            handle,
            key=key,
            direction="incoming",
            phone_user=phone.config.user,
            call_id=call_id,
            policy=policy,
        )
        services.add_call(core)
        info = core.getInfo()
        # The handle is not visible to the loop yet, so filling it in here is safe.
        handle.remote_uri = str(info.remoteUri)
        handle.sip_call_id = str(info.callIdString)
        core.respond(180)
        handle.ringing_at = time.time()
        handle.last_status = 180
        services.notify(phone.on_incoming, handle)
        if policy.action is IncomingAction.ANSWER:
            core.later(policy.after_ms / 1000, lambda: core.respond(200), "auto answer")
        elif policy.action is IncomingAction.REJECT:
            status = policy.reject_status
            core.later(policy.after_ms / 1000, lambda: core.end_call(status), "auto reject")

    def dial(self, events: CallEvents, key: int, uri: str, headers: Mapping[str, str]) -> str:
        """Place call ``key`` to ``uri`` (reported to ``events``); return its SIP Call-ID."""
        services = self.services
        core = PjCall(
            services, self, events, key=key, direction="outgoing", phone_user=self.phone.config.user
        )
        services.add_call(core)
        prm = pj.CallOpParam(True)
        prm.opt.audioCount = 1
        prm.opt.videoCount = 0
        for name, value in headers.items():
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            prm.txOption.headers.append(header)
        try:
            core.makeCall(uri, prm)
        except pj.Error as exc:
            services.remove_call(key)
            raise CallFailed(
                f"cannot call {uri} from {self.phone}: {describe_pj_error(exc)}"
            ) from exc
        try:
            return str(core.getInfo().callIdString)
        except pj.Error:
            return ""  # already disconnected; the handle gets the end event

    def shutdown_account(self, *, close_transport: bool) -> None:
        """Unregister and delete the pjsua account (and optionally close its transport)."""
        try:
            self.shutdown()
        except pj.Error as exc:
            log.warning("account shutdown of %s: %s", self.phone, describe_pj_error(exc))
        if close_transport:
            try:
                self.services.endpoint.transportClose(self.transport_id)
            except (pj.Error, SipStackError) as exc:
                log.warning("closing transport of %s: %s", self.phone, describe_pj_error(exc))
        destroy_now(self)


def open_account(services: PjsipServices, phone: PhoneEvents[Any]) -> int:
    """UDP transport on the phone's ``sip_port`` plus an account bound to it; its id."""
    cfg = phone.config
    ep = services.endpoint
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

    acc = PjAccount(services, phone, transport_id)
    try:
        acc.create(acfg, False)
    except pj.Error as exc:
        ep.transportClose(transport_id)
        raise SipError(f"cannot create account for {phone}: {describe_pj_error(exc)}") from exc
    acc_id = int(acc.getId())
    services.add_account(acc_id, cfg.sip_port, acc)
    log.debug("phone %s ready (account %d, transport %d)", phone, acc_id, transport_id)
    return acc_id


def find_account(services: PjsipServices, acc_id: int | None, phone: object) -> PjAccount:
    """The account ``acc_id`` of ``phone``; ``SipError`` once it is closed."""
    acc = services.find_account(acc_id if acc_id is not None else -1)
    if not isinstance(acc, PjAccount):
        raise SipError(f"{phone} is closed")
    return acc


def close_account(services: PjsipServices, acc_id: int) -> None:
    """Remove account ``acc_id`` and close its transport."""
    acc = services.remove_account(acc_id)
    if acc is not None:
        acc.shutdown_account(close_transport=True)
