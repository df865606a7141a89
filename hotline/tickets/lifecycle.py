"""The 12345 ticket lifecycle as data: kinds, channels, statuses and the legal transitions.

    draft ──accept──▶ open ──dispatch──▶ dispatched ──reply──▶ resolved ──close──▶ closed
      │                │  ▲                  │                    │                 │
      │ discard        │  └────return────────┘                    │ dissatisfied    │ supervisor
      ▼                └──answer on the spot──▶ resolved          ▼                 ▼
    closed                                                     reopened ◀───────────┘
                                                  reopened ──redispatch──▶ dispatched
                                                  reopened ──answer──▶ resolved

Each transition names what it needs (``requires``) and who may make it (``supervisor_only``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.menu import TICKET_STATUSES

# The request kinds of the domain; the first four are the ids the IVR menu already sets.
KINDS = ("consultation", "help_request", "complaint", "report", "suggestion")
# As the centres' clerks name them (zh), and in English.
KIND_NAMES = {
    "consultation": ("咨询", "consultation"),
    "help_request": ("求助", "help request"),
    "complaint": ("投诉", "complaint"),
    "report": ("举报", "report"),
    "suggestion": ("建议", "suggestion"),
}
CHANNELS = ("phone", "sms", "wechat", "weibo", "web", "app", "email", "letter", "walk_in")
# The IVR reads a ticket's status aloud, one prompt per status: one list for both.
STATUSES: tuple[str, ...] = TICKET_STATUSES
# Not finished: such a ticket past its deadline is overdue (and its caller gets priority).
ACTIVE = ("draft", "open", "dispatched", "reopened")


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    name: str  # what the step is called at the desk
    requires: tuple[str, ...] = ()  # "department", "resolution", "note", or ticket fields
    supervisor_only: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    # The agent confirms the drafted ticket: it needs what dispatch and deadline depend on.
    Transition("draft", "open", "accept", ("kind", "category", "description")),
    # Nothing to handle (silent call, prank, duplicate): closed with the reason.
    Transition("draft", "closed", "discard", ("note",)),
    Transition("open", "dispatched", "dispatch", ("category", "department")),
    # A consultation answered from the knowledge base while the caller is on the line.
    Transition("open", "resolved", "answer", ("resolution",)),
    # The department sends it back (not its business): the centre dispatches it again.
    Transition("dispatched", "open", "return", ("note",)),
    Transition("dispatched", "resolved", "reply", ("resolution",)),
    # The reply was passed on and the callback is done (or not wanted).
    Transition("resolved", "closed", "close"),
    # The caller is dissatisfied with the reply.
    Transition("resolved", "reopened", "reopen", ("note",)),
    # The same problem again after closing: a supervisor decides to reopen rather than open
    # a new ticket (so repeat handling stays on one record).
    Transition("closed", "reopened", "reopen", ("note",), supervisor_only=True),
    Transition("reopened", "dispatched", "redispatch", ("category", "department")),
    Transition("reopened", "resolved", "answer", ("resolution",)),
)


def find(source: str, target: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.source == source and t.target == target), None)


def next_statuses(source: str) -> list[str]:
    return [t.target for t in TRANSITIONS if t.source == source]
