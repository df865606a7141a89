"""Exceptions raised by the telephony package. Documented once, here.

TelephonyError
├── AsteriskError         the private Asterisk could not be started, reached or stopped
└── AmiError              the Manager Interface
    ├── AmiAuthError      the PBX refused our credentials: retrying cannot help (fatal)
    ├── AmiNotConnected   an action was sent while no logged-in connection exists
    ├── AmiActionError    the PBX answered an action with an error, or did not answer in time
    └── AmiProtocolError  bytes that are not AMI, or an action that cannot be sent as AMI

The SIP user agents have their own tree in ``telephony.sip.errors``. The web layer maps these to
HTTP in one place; the CLI maps them to exit statuses.
"""


class TelephonyError(Exception):
    """Base of every telephony failure."""


class AsteriskError(TelephonyError):
    pass


class AmiError(TelephonyError):
    pass


class AmiAuthError(AmiError):
    pass


class AmiNotConnected(AmiError):
    pass


class AmiActionError(AmiError):
    pass


class AmiProtocolError(AmiError):
    pass
