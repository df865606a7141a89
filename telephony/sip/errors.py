"""Exceptions raised by the SIP user-agent library.

Tree::

    SipError                 base class; catch this to handle any SIP-side failure
    +-- SipStackError        stack lifecycle: second endpoint, not running, pjsip thread died
    +-- RegistrationFailed   the registrar answered a REGISTER with a final error
    +-- CallFailed           a call could not be placed, or ended before it was answered,
                             or an operation needs a call state it is not in

Timeouts are not part of the tree: every ``wait_*`` method raises the built-in
``TimeoutError`` (the same class as ``asyncio.TimeoutError``) naming what was awaited.
"""

from __future__ import annotations


class SipError(Exception):
    """Base class for every error raised by ``telephony.sip``."""


class SipStackError(SipError):
    """The pjsip stack cannot be started, is not running, or failed."""


class RegistrationFailed(SipError):
    """The registrar rejected the registration of a phone."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class CallFailed(SipError):
    """A call failed; ``status``/``reason`` carry the last SIP response when known."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
