"""The IVR's exception tree, documented once here.

``IvrError``
    ``AgiProtocolError``  the peer sent bytes that are not AGI (bad header, unparsable reply);
                          the session is closed and the dialplan falls back to the default queue.
    ``AgiHangup``         the caller hung up (Asterisk said ``HANGUP`` or refused a dead channel);
                          normal end of a session, not a failure.
    ``AgiCommandError``   Asterisk rejected a command (510 unknown, 520 usage) or did not reply in
                          time; a bug or a PBX in trouble, logged with the command.
"""

from __future__ import annotations


class IvrError(Exception):
    """Base of every IVR failure."""


class AgiProtocolError(IvrError):
    """Bytes on the FastAGI socket that are not AGI."""


class AgiHangup(IvrError):
    """The channel hung up during the session."""


class AgiCommandError(IvrError):
    """Asterisk rejected a command, or did not answer it in time."""
