"""Callers' numbers on a wall display: only the last four digits (``*******5678``).

The live view's snapshot carries full numbers; what is sent to a wall display (the default
view of ``GET /api/live`` and ``/api/live/ws``) goes through ``for_wall`` first, so a full
number never leaves the service for a screen the whole room can see. A supervisor's own
screen asks for full numbers explicitly (``reveal``), and that is audited (the routes).
"""

from __future__ import annotations

import re
from typing import Any

from hotline.supervision.schemas import LiveAlert, LiveSnapshot

SHOWN = 4  # trailing digits left readable
MASK = "*"
# A run of digits long enough to be a phone number (with an optional "+"): in alert texts.
_PHONE = re.compile(r"(?<![\d*])\+?\d{7,}(?!\d)")


def mask_number(number: str) -> str:
    """``13812345678`` → ``*******5678``. The length is kept (the room sees it is a mobile or a
    landline); a number of four characters or fewer is masked whole, since its last four
    would be all of it. Text without a digit ("anonymous", "") is left as it is."""
    if not any(c.isdigit() for c in number):
        return number
    if len(number) <= SHOWN:
        return MASK * len(number)
    return MASK * (len(number) - SHOWN) + number[-SHOWN:]


def mask_text(text: str) -> str:
    """Every phone-number-like run of digits in a free text masked (alert messages)."""
    return _PHONE.sub(lambda m: mask_number(m.group(0)), text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    return value


def _alert(alert: LiveAlert) -> LiveAlert:
    return alert.model_copy(
        update={"message": mask_text(alert.message), "data": _mask_value(alert.data)}
    )


def for_wall(snap: LiveSnapshot) -> LiveSnapshot:
    """The snapshot as a wall display gets it: every caller number masked (waiting callers,
    calls in progress, alerts); nothing else changes."""
    queues = [
        q.model_copy(
            update={
                "waiting": [
                    w.model_copy(update={"caller_number": mask_number(w.caller_number)})
                    for w in q.waiting
                ]
            }
        )
        for q in snap.queues
    ]
    calls = [
        c.model_copy(update={"caller_number": mask_number(c.caller_number)}) for c in snap.calls
    ]
    update: dict[str, Any] = {"queues": queues, "calls": calls, "masked": True}
    if snap.alerts is not None:
        update["alerts"] = [_alert(a) for a in snap.alerts]
    return snap.model_copy(update=update)
