"""Satisfaction surveys in the store. Synchronous (the service calls it in threads).

The one rule that matters: a survey is dialled only by the process that moved it from
``scheduled`` to ``calling`` in a committed transaction (a conditional ``UPDATE``: one winner,
on SQLite and PostgreSQL alike), and that same transaction writes the attempt. A service that
dies mid-call leaves the survey ``calling``; the next start marks it ``interrupted``, a final
status: it is never dialled again by itself (an operator may ``resume`` it).

Who is dialling: a calling survey names its dialler, which renews a lease while the call is
live (``renew``); ``sweep`` interrupts only surveys whose lease ran out, so a service that
becomes active beside live diallers (another instance's, or remote workers') leaves their
calls alone. With the Redis engine the claim hands the call to the queue (no dialler yet); the
worker that takes the message marks dialling started with a conditional update before the
INVITE (``start_dialling``), so a message delivered twice never rings the citizen twice for
one attempt; a claim no worker started in time is put back on the schedule (``sweep``).
Leases are in real time (the scheduler's clock may be a test's).

One module on purpose (about 600 lines): every write of the claim-and-lease protocol (claim,
start, renew, finish, sweep, interrupt) stays in one file, where its conditions can be read
side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Engine, and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotline.db.models import CallRow, TicketEventRow, TicketRow
from hotline.db.survey_models import SurveyAttemptRow as A
from hotline.db.survey_models import SurveyControlRow as C
from hotline.db.survey_models import SurveyOptOutRow as O
from hotline.db.survey_models import SurveyRow as S
from hotline.surveys.policy import CALLING, CANCELLED, FINAL, INTERRUPTED, PAUSED, SCHEDULED, Next

GROUPS = ("total", "department", "category", "agent", "kind", "day", "month")
DEFAULT_LEASE = 20.0  # seconds (surveys.lease_seconds)


@dataclass(frozen=True)
class Survey:
    id: int
    ticket_id: int | None
    call_id: str | None
    number: str
    language: str
    status: str
    attempts: int
    next_at: datetime | None
    result: str | None
    reason: str
    comment_path: str | None
    comment_text: str | None
    agent: str | None
    department: str | None
    category: str | None
    kind: str | None
    applied: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    dialler: str | None = None
    dialled_at: datetime | None = None
    lease_until: datetime | None = None


_COLUMNS = tuple(getattr(S, f.name) for f in fields(Survey))


def _until(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Swept:
    """What ``sweep`` did: surveys interrupted (their dialler gone mid-call) and claims put
    back on the schedule (never started by a dialler)."""

    interrupted: list[int]
    unclaimed: list[int]


@dataclass(frozen=True)
class Attempt:
    n: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    sip_status: int | None
    digits: str
    result: str | None


@dataclass(frozen=True)
class Claim:
    """A survey this process may now dial, as attempt ``n``."""

    survey: Survey
    n: int


@dataclass(frozen=True)
class Candidate:
    """A ticket or call that qualifies for a survey and has none yet."""

    ticket_id: int | None
    call_id: str | None
    number: str
    language: str | None
    agent: str | None
    department: str | None
    category: str | None
    kind: str | None
    at: datetime  # when it qualified (resolved, call ended)


@dataclass(frozen=True)
class StatRow:
    key: str | None
    surveyed: int  # completed with a result
    satisfied: int
    basically_satisfied: int
    dissatisfied: int

    @property
    def satisfaction_rate(self) -> float | None:
        """(satisfied + basically satisfied) / surveyed, the published 12345 figure."""
        return (
            (self.satisfied + self.basically_satisfied) / self.surveyed if self.surveyed else None
        )

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.surveyed if self.surveyed else None


class SurveyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- creating --------------------------------------------------------------------------
    def create(
        self, c: Candidate, *, due_at: datetime | None, status: str = SCHEDULED, reason: str = ""
    ) -> Survey | None:
        """A survey for ``c``; None when its ticket or call already has one (at most one
        each, whatever happens to the ticket later)."""
        now = datetime.now(UTC)
        values = {
            "ticket_id": c.ticket_id,
            "call_id": c.call_id,
            "number": c.number,
            "language": c.language or "",
            "status": status,
            "attempts": 0,
            "next_at": due_at,
            "reason": reason,
            "agent": c.agent,
            "department": c.department,
            "category": c.category,
            "kind": c.kind,
            "applied": False,
            "created_at": now,
            "updated_at": now,
            "finished_at": None if status not in FINAL else now,
        }
        key = "ticket_id" if c.ticket_id is not None else "call_id"
        with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = (
                dialect.insert(S)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[key])
                .returning(*_COLUMNS)
            )
            row = conn.execute(stmt).first()
        return Survey(*row) if row is not None else None

    def resolved_without_survey(self, since: datetime, limit: int = 500) -> list[Candidate]:
        """Tickets that reached ``resolved`` at or after ``since`` and have no survey."""
        first = (
            select(TicketEventRow.ticket_id, func.min(TicketEventRow.at).label("at"))
            .where(TicketEventRow.to_status == "resolved", TicketEventRow.at >= since)
            .group_by(TicketEventRow.ticket_id)
            .subquery()
        )
        stmt = (
            select(
                TicketRow.id,
                TicketRow.caller_number,
                TicketRow.caller_language,
                TicketRow.handler,
                TicketRow.department,
                TicketRow.category,
                TicketRow.kind,
                first.c.at,
            )
            .join(first, first.c.ticket_id == TicketRow.id)
            .where(~exists().where(S.ticket_id == TicketRow.id))
            .order_by(first.c.at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                Candidate(r[0], None, r[1], r[2], r[3], r[4], r[5], r[6], r[7])
                for r in conn.execute(stmt)
            ]

    def answered_without_survey(
        self, since: datetime, kinds: list[str], limit: int = 500
    ) -> list[Candidate]:
        """Answered calls of ``kinds`` ended at or after ``since`` with no survey."""
        if not kinds:
            return []
        stmt = (
            select(
                CallRow.call_id,
                CallRow.caller_number,
                CallRow.language,
                CallRow.agent,
                CallRow.request_kind,
                CallRow.ended_at,
            )
            .where(
                CallRow.answered_at.is_not(None),
                CallRow.ended_at >= since,
                CallRow.request_kind.in_(kinds),
                ~exists().where(S.call_id == CallRow.call_id),
            )
            .order_by(CallRow.ended_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                Candidate(None, r[0], r[1], r[2], r[3], None, None, r[4], r[5] or since)
                for r in conn.execute(stmt)
            ]

    # -- dialling --------------------------------------------------------------------------
    def claim(
        self,
        now: datetime,
        limit: int,
        *,
        dialler: str | None = None,
        lease: float = DEFAULT_LEASE,
        queued: bool = False,
    ) -> list[Claim]:
        """Up to ``limit`` due surveys, each now ``calling`` with its attempt written, in one
        transaction per survey (committed before anything is dialled). ``dialler`` dials them
        itself and renews the lease; ``queued``: they go to the queue, and a worker must start
        dialling within ``lease`` seconds or the claim is put back."""
        if limit <= 0:
            return []
        owner = None if queued else dialler
        started = None if queued else datetime.now(UTC)
        due = (
            select(S.id)
            .where(S.status == SCHEDULED, S.next_at <= now)
            .order_by(S.next_at, S.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            ids = [r[0] for r in conn.execute(due)]
        claims = []
        for sid in ids:
            with self._engine.begin() as conn:
                row = conn.execute(
                    update(S)
                    .where(S.id == sid, S.status == SCHEDULED)
                    .values(
                        status=CALLING,
                        attempts=S.attempts + 1,
                        updated_at=now,
                        dialler=owner,
                        dialled_at=started,
                        lease_until=_until(lease),
                    )
                    .returning(*_COLUMNS)
                ).first()
                if row is None:  # another process took it
                    continue
                survey = Survey(*row)
                conn.execute(
                    insert(A).values(
                        survey_id=sid, n=survey.attempts, started_at=now, digits="", dialler=owner
                    )
                )
            claims.append(Claim(survey, survey.attempts))
        return claims

    def finish(
        self,
        claim: Claim,
        nxt: Next,
        *,
        outcome: str,
        ended_at: datetime,
        sip_status: int | None = None,
        digits: str = "",
        result: str | None = None,
        comment_path: str | None = None,
    ) -> bool:
        """Record the attempt and move the survey on; False if it is no longer ``calling``
        under this claim (cancelled meanwhile: the attempt is still recorded)."""
        sid = claim.survey.id
        values: dict[str, Any] = {
            "status": nxt.status,
            "next_at": nxt.next_at,
            "updated_at": ended_at,
            "reason": nxt.reason,
            "dialler": None,
            "dialled_at": None,
            "lease_until": None,
        }
        if result is not None:
            values["result"] = result
        if comment_path is not None:
            values["comment_path"] = comment_path
        if nxt.status in FINAL:
            values["finished_at"] = ended_at
        with self._engine.begin() as conn:
            conn.execute(
                update(A)
                .where(A.survey_id == sid, A.n == claim.n)
                .values(
                    ended_at=ended_at,
                    outcome=outcome,
                    sip_status=sip_status,
                    digits=digits,
                    result=result,
                )
            )
            moved = conn.execute(
                update(S)
                .where(S.id == sid, S.status == CALLING, S.attempts == claim.n)
                .values(**values)
            )
        return bool(moved.rowcount)

    # -- diallers and their leases --------------------------------------------------------
    def start_dialling(
        self, survey_id: int, n: int, dialler: str, lease: float = DEFAULT_LEASE
    ) -> Claim | None:
        """Mark attempt ``n`` of a queued claim as being dialled by ``dialler`` (before the
        INVITE). None when it is not this attempt's first start: already started (by anyone,
        a redelivered message), moved on, put back or cancelled."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            row = conn.execute(
                update(S)
                .where(
                    S.id == survey_id, S.status == CALLING, S.attempts == n, S.dialled_at.is_(None)
                )
                .values(dialler=dialler, dialled_at=now, lease_until=_until(lease))
                .returning(*_COLUMNS)
            ).first()
            if row is None:
                return None
            conn.execute(
                update(A).where(A.survey_id == survey_id, A.n == n).values(dialler=dialler)
            )
        return Claim(Survey(*row), n)

    def renew(self, survey_ids: list[int], dialler: str, lease: float = DEFAULT_LEASE) -> int:
        """Extend ``dialler``'s leases on its live calls; how many it still holds."""
        if not survey_ids:
            return 0
        with self._engine.begin() as conn:
            done = conn.execute(
                update(S)
                .where(S.id.in_(survey_ids), S.status == CALLING, S.dialler == dialler)
                .values(lease_until=_until(lease))
            )
        return int(done.rowcount or 0)

    def unclaim(self, survey_id: int, n: int, reason: str = "") -> bool:
        """Attempt ``n`` was never started (the queue did not take it, no worker did in
        time): back to the schedule as it was, the attempt not counted."""
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(S)
                .where(
                    S.id == survey_id, S.status == CALLING, S.attempts == n, S.dialled_at.is_(None)
                )
                .values(
                    status=SCHEDULED,
                    attempts=S.attempts - 1,
                    dialler=None,
                    lease_until=None,
                    reason=reason,
                    updated_at=datetime.now(UTC),
                )
            )
            if not moved.rowcount:
                return False
            conn.execute(delete(A).where(A.survey_id == survey_id, A.n == n))
        return True

    def interrupt(self, survey_id: int, n: int, reason: str, *, if_abandoned: bool = False) -> bool:
        """End attempt ``n`` ``interrupted`` (final: the citizen may have been rung);
        ``if_abandoned``: only if its dialler's lease ran out."""
        now = datetime.now(UTC)
        where = [S.id == survey_id, S.status == CALLING, S.attempts == n]
        if if_abandoned:
            where.append(or_(S.lease_until.is_(None), S.lease_until < now))
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(S)
                .where(*where)
                .values(
                    status=INTERRUPTED,
                    finished_at=now,
                    updated_at=now,
                    reason=reason,
                    lease_until=None,
                )
            )
            if not moved.rowcount:
                return False
            conn.execute(
                update(A)
                .where(A.survey_id == survey_id, A.n == n, A.outcome.is_(None))
                .values(outcome=INTERRUPTED, ended_at=now)
            )
        return True

    def sweep(self) -> Swept:
        """Calling surveys whose lease ran out: dialled ones are interrupted (their dialler
        stopped mid-call: never rung again by themselves), never-started claims go back to
        the schedule. Live diallers' calls are left alone."""
        now = datetime.now(UTC)
        expired = or_(S.lease_until.is_(None), S.lease_until < now)
        stmt = select(S.id, S.attempts, S.dialler, S.dialled_at).where(S.status == CALLING, expired)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        swept = Swept([], [])
        for sid, n, dialler, dialled_at in rows:
            if dialled_at is None:
                if self.unclaim(sid, n, "no survey worker started the call in time; rescheduled"):
                    swept.unclaimed.append(sid)
            elif self.interrupt(
                sid,
                n,
                f"its dialler ({dialler or 'a stopped service'}) stopped during the call;"
                " not dialled again",
                if_abandoned=True,
            ):
                swept.interrupted.append(sid)
        return swept

    def interrupt_owned(self, dialler: str, reason: str) -> list[int]:
        """``dialler`` is stopping with calls still up: they end interrupted now (not when
        their lease runs out)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(S.id, S.attempts).where(S.status == CALLING, S.dialler == dialler)
            ).all()
        return [sid for sid, n in rows if self.interrupt(sid, n, reason)]

    def interrupt_calling(self, now: datetime) -> list[int]:
        """Every survey left ``calling``, whatever its dialler's lease: only for an operator
        or a single instance that knows no dialler is alive (the service itself ``sweep``s).
        The citizen may have been rung: they are never dialled again by themselves."""
        with self._engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(S.id).where(S.status == CALLING))]
            if ids:
                conn.execute(
                    update(A)
                    .where(A.survey_id.in_(ids), A.outcome.is_(None))
                    .values(outcome=INTERRUPTED, ended_at=now)
                )
                conn.execute(
                    update(S)
                    .where(S.id.in_(ids), S.status == CALLING)
                    .values(
                        status=INTERRUPTED,
                        finished_at=now,
                        updated_at=now,
                        lease_until=None,
                        reason="the service stopped during the call; not dialled again",
                    )
                )
        return ids

    def set_comment_text(self, survey_id: int, text: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(S).where(S.id == survey_id).values(comment_text=text))

    def unapplied(self, limit: int = 100) -> list[Survey]:
        """Completed surveys whose result has not been applied to their ticket yet."""
        stmt = (
            select(*_COLUMNS)
            .where(S.status == "completed", S.applied.is_(False))
            .order_by(S.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [Survey(*r) for r in conn.execute(stmt)]

    def mark_applied(self, survey_id: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(S).where(S.id == survey_id).values(applied=True))

    # -- reading ---------------------------------------------------------------------------
    def get(self, survey_id: int) -> Survey | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(S.id == survey_id)).first()
        return Survey(*row) if row is not None else None

    def of_ticket(self, ticket_id: int) -> Survey | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(S.ticket_id == ticket_id)).first()
        return Survey(*row) if row is not None else None

    def attempts(self, survey_id: int) -> list[Attempt]:
        stmt = (
            select(A.n, A.started_at, A.ended_at, A.outcome, A.sip_status, A.digits, A.result)
            .where(A.survey_id == survey_id)
            .order_by(A.n)
        )
        with self._engine.connect() as conn:
            return [Attempt(*r) for r in conn.execute(stmt)]

    def find(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Survey]:
        stmt = select(*_COLUMNS).order_by(S.id.desc()).limit(limit).offset(offset)
        if status is not None:
            stmt = stmt.where(S.status == status)
        with self._engine.connect() as conn:
            return [Survey(*r) for r in conn.execute(stmt)]

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(S.status, func.count()).group_by(S.status)).all()
        return {status: int(n) for status, n in rows}

    def active_calls(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(S.status == CALLING)).scalar_one())

    # -- operators -------------------------------------------------------------------------
    def _move(self, survey_id: int, source: tuple[str, ...], **values: Any) -> Survey | None:
        values["updated_at"] = datetime.now(UTC)
        with self._engine.begin() as conn:
            row = conn.execute(
                update(S)
                .where(S.id == survey_id, S.status.in_(source))
                .values(**values)
                .returning(*_COLUMNS)
            ).first()
        return Survey(*row) if row is not None else None

    def pause(self, survey_id: int) -> Survey | None:
        """Hold a scheduled survey (None: not scheduled)."""
        return self._move(survey_id, (SCHEDULED,), status=PAUSED)

    def resume(self, survey_id: int, due_at: datetime) -> Survey | None:
        """Back to the schedule: a paused survey, or an interrupted one an operator decides to
        try again (the one way an interrupted survey is ever dialled again)."""
        return self._move(
            survey_id,
            (PAUSED, INTERRUPTED),
            status=SCHEDULED,
            next_at=due_at,
            finished_at=None,
            reason="",
        )

    def cancel(self, survey_id: int, reason: str) -> Survey | None:
        """Cancel a survey not finished yet (a call in progress finishes, but the survey
        stays cancelled: ``finish`` will not move it)."""
        now = datetime.now(UTC)
        return self._move(
            survey_id,
            (SCHEDULED, PAUSED, CALLING),
            status=CANCELLED,
            reason=reason,
            finished_at=now,
            next_at=None,
        )

    def set_paused(self, paused: bool, by: str) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            done = conn.execute(
                update(C).where(C.id == 1).values(paused=paused, changed_by=by, changed_at=now)
            )
            if not done.rowcount:
                conn.execute(insert(C).values(id=1, paused=paused, changed_by=by, changed_at=now))

    def paused(self) -> bool:
        with self._engine.connect() as conn:
            value = conn.execute(select(C.paused).where(C.id == 1)).scalar()
        return bool(value)

    def opt_out(self, number: str, reason: str, by: str) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(O)
                .values(number=number, reason=reason, created_by=by, created_at=now)
                .on_conflict_do_nothing(index_elements=["number"])
            )

    def opt_in(self, number: str) -> bool:
        with self._engine.begin() as conn:
            return bool(conn.execute(delete(O).where(O.number == number)).rowcount)

    def opted_out(self, number: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(O.number).where(O.number == number)).first() is not None

    # -- figures ---------------------------------------------------------------------------
    def stats(self, since: datetime, until: datetime, group: str, tz: tzinfo) -> list[StatRow]:
        """Completed surveys finished in [since, until) by ``group`` (one of GROUPS; days and
        months in the local time ``tz``)."""
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}")
        where = and_(S.status == "completed", S.finished_at >= since, S.finished_at < until)
        if group in ("total", "day", "month"):
            with self._engine.connect() as conn:
                rows = conn.execute(select(S.finished_at, S.result).where(where)).all()
            return _bucket(rows, group, tz)
        key = getattr(S, group)
        counts = (
            func.count(),
            func.sum(case((S.result == "satisfied", 1), else_=0)),
            func.sum(case((S.result == "basically_satisfied", 1), else_=0)),
            func.sum(case((S.result == "dissatisfied", 1), else_=0)),
        )
        stmt = select(key, *counts).where(where).group_by(key).order_by(key)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            StatRow(str(r[0]) if r[0] is not None else None, *(int(v or 0) for v in r[1:]))
            for r in rows
        ]


def _bucket(rows: Any, group: str, tz: tzinfo) -> list[StatRow]:
    sums: dict[str, list[int]] = {}
    for finished, result in rows:
        if group == "total":
            key = "total"
        else:
            key = finished.astimezone(tz).strftime("%Y-%m-%d" if group == "day" else "%Y-%m")
        n = sums.setdefault(key, [0, 0, 0, 0])
        n[0] += 1
        n[1] += result == "satisfied"
        n[2] += result == "basically_satisfied"
        n[3] += result == "dissatisfied"
    return [StatRow(k, *v) for k, v in sorted(sums.items())]
