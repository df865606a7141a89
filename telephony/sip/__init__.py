"""SIP user-agent library on pjsua2: one pjsip thread, many phones, asyncio API.

Example::

    async with SipStack() as stack:
        agent = await stack.add_phone(PhoneConfig("agent", sip_port=5071, rtp_port=20000))
        agent.auto_answer(after_ms=1000, play=Path("greeting.wav"))
        caller = await stack.add_phone(PhoneConfig("caller", sip_port=5072, rtp_port=20100))
        call = await caller.dial(agent.uri)
        await call.wait_answered(5)
"""

from telephony.sip.call import CallEnd, CallHandle
from telephony.sip.config import (
    IncomingAction,
    IncomingPolicy,
    PhoneConfig,
    PortAllocation,
    allocate_ports,
)
from telephony.sip.errors import CallFailed, RegistrationFailed, SipError, SipStackError
from telephony.sip.phone import Phone
from telephony.sip.stack import SipStack

__all__ = [
    "CallEnd",
    "CallFailed",
    "CallHandle",
    "IncomingAction",
    "IncomingPolicy",
    "Phone",
    "PhoneConfig",
    "PortAllocation",
    "RegistrationFailed",
    "SipError",
    "SipStack",
    "SipStackError",
    "allocate_ports",
]
