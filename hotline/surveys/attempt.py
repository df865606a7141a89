"""What the scheduler asks of a dialer, and what one survey call comes back with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hotline.surveys.store import Claim


@dataclass(frozen=True)
class AttemptResult:
    """``outcome``: "answered" (``result`` set: the key the citizen pressed, as a result
    name), or why not: busy, no_answer, rejected, no_input (answered, no valid key after
    every repeat), failed (wrong number, route or trunk trouble, our own error)."""

    outcome: str
    sip_status: int | None = None
    digits: str = ""
    result: str | None = None
    comment_path: str | None = None
    detail: str = ""


def job_outcome(result: AttemptResult) -> str:
    """The survey call as a worker job, for the jobs counter: ``done`` (the call was placed
    and ran its course, whatever the citizen did), ``failed`` (our side, the route or the
    trunk), ``interrupted`` (its dialler stopped mid-call) or ``skipped`` (not dialled)."""
    if result.outcome in ("failed", "interrupted", "skipped"):
        return result.outcome
    return "done"


class Dialer(Protocol):
    async def call(self, claim: Claim) -> AttemptResult:
        """Place survey ``claim`` and run it to the end (the call is over on return).
        Cancelling it hangs the call up."""
        ...
