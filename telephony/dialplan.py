"""The dialplan contract: the channel variables the dialplan, the IVR and the service share.

The rendered dialplan (``telephony.asterisk.render``) and the IVR (``ivr.session``, over AGI)
write these on the channels; the call tracker reads them from ``VarSet`` events
(``telephony.tracker``); after an AMI outage the service reads some back with ``Getvar``
(``hotline.app.service``). Every name lives here, once: a rename is one edit, and a grep for a
constant finds every side of the contract.

A name set as ``inherited(NAME)`` (``__NAME``) is copied by Asterisk onto every channel the call
creates (the agent's leg, a survey callback); ``VarSet`` reports it with the underscores, which
readers strip.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "HOTLINE_"  # every variable of ours; the tracker keeps these on the record

# -- written by the dialplan ---------------------------------------------------------------------
DIALLED: Final = "HOTLINE_DIALLED"  # the hotline number the caller dialled (inherited)
DEFAULT_QUEUE: Final = "HOTLINE_DEFAULT_QUEUE"  # the route's queue: no menu, or the IVR failed
LANGUAGE: Final = "HOTLINE_LANGUAGE"  # the caller's language (inherited; the IVR may change it)
MENU: Final = "HOTLINE_MENU"  # the route's IVR menu, if it has one
IVR_ERROR: Final = "HOTLINE_IVR_ERROR"  # AGISTATUS when the IVR did not finish
QUEUE: Final = "HOTLINE_QUEUE"  # the queue the caller goes to (inherited; also set by the IVR)
QUEUED: Final = "HOTLINE_QUEUED"  # when the caller entered the queue (PBX time, microseconds)
QUEUE_RESULT: Final = "HOTLINE_QUEUE_RESULT"  # QUEUESTATUS when Queue() returned
OVERFLOW: Final = "HOTLINE_OVERFLOW"  # the queue the caller overflowed from (inherited)
CONNECTED: Final = "HOTLINE_CONNECTED"  # when the agent's leg was connected (agent channel)
REC: Final = "HOTLINE_REC"  # the recordings' path without -mix/-caller/-agent.wav
RECDIR: Final = "HOTLINE_RECDIR"  # a global: the recordings folder
TRANSFER_RESULT: Final = "HOTLINE_TRANSFER_RESULT"  # DIALSTATUS of the transfer
TRANSFERRED: Final = "HOTLINE_TRANSFERRED"  # when the far end of a transfer answered
OUT: Final = "HOTLINE_OUT"  # what an outbound call dials
OUTBOUND: Final = "HOTLINE_OUTBOUND"  # marks a call the service placed (inherited)

# -- written by the IVR --------------------------------------------------------------------------
IVR: Final = "HOTLINE_IVR"  # IVR_DONE, written last by the IVR; or IVR_SKIPPED / IVR_NONE
IVR_PATH: Final = "HOTLINE_IVR_PATH"  # the menu walk so far, "node:key/node:key"
KIND: Final = "HOTLINE_KIND"  # the request kind chosen (inherited)
CATEGORY: Final = "HOTLINE_CATEGORY"  # the category chosen at a category level (inherited)
TICKET: Final = "HOTLINE_TICKET"  # a ticket number the caller looked up
FLAG: Final = "HOTLINE_FLAG"  # the caller's flag, when it raised the priority (inherited)
PRIORITY: Final = "HOTLINE_PRIORITY"  # the queue priority given (inherited)
TRANSFER: Final = "HOTLINE_TRANSFER"  # the number to transfer to
ACTION: Final = "HOTLINE_ACTION"  # how the menu ended: ACTION_QUEUE / _TRANSFER / _HANGUP

# -- values --------------------------------------------------------------------------------------
IVR_DONE: Final = "done"  # the IVR finished and wrote its route
IVR_SKIPPED: Final = "skipped"  # a menu, but the IVR was down or failed: the default queue
IVR_NONE: Final = "none"  # the route has no menu
ACTION_QUEUE: Final = "queue"
ACTION_TRANSFER: Final = "transfer"
ACTION_HANGUP: Final = "hangup"

# -- Asterisk's own variables the contract relies on ---------------------------------------------
MEMBERINTERFACE: Final = "MEMBERINTERFACE"  # Queue(): the member who answered
MEMBERNAME: Final = "MEMBERNAME"
QUEUE_PRIO: Final = "QUEUE_PRIO"  # Queue(): the caller's priority
QUEUE_MAX_PENALTY: Final = "QUEUE_MAX_PENALTY"  # Queue(): the highest member penalty offered


def inherited(name: str) -> str:
    """``__NAME``: set so, a variable follows the call onto every channel it creates."""
    return f"__{name}"


def ref(name: str) -> str:
    """``${NAME}``: the variable's value in dialplan text."""
    return f"${{{name}}}"
