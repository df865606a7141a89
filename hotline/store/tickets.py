"""Tickets in the store. Synchronous: callers on the event loop use a thread."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from hotline.store.models import TicketRow
from ivr.menu import TICKET_STATUSES


class TicketStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create(
        self, caller_number: str, status: str = "open", deadline: datetime | None = None
    ) -> int:
        if status not in TICKET_STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")
        now = datetime.now(UTC)
        row = TicketRow(
            status=status,
            caller_number=caller_number,
            deadline=deadline,
            created_at=now,
            updated_at=now,
        )
        with self._sessions.begin() as session:
            session.add(row)
        return row.id

    def status(self, number: str) -> str | None:
        """The status of ticket ``number`` as keyed by a caller, or None if there is none."""
        if not number.isdigit() or len(number) > 18:
            return None
        with self._sessions() as session:
            row = session.get(TicketRow, int(number))
            return row.status if row is not None else None

    def has_overdue(self, caller_number: str, now: datetime | None = None) -> bool:
        """Whether the caller has an open ticket past its deadline (they get priority)."""
        if not caller_number:
            return False
        with self._sessions() as session:
            found = session.scalar(
                select(TicketRow.id)
                .where(
                    TicketRow.caller_number == caller_number,
                    TicketRow.status.not_in(("resolved", "closed")),
                    TicketRow.deadline < (now or datetime.now(UTC)),
                )
                .limit(1)
            )
            return found is not None
