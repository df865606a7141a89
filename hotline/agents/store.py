"""Agents in the store: profiles, skills, roles, sessions and state history. Synchronous.

Whoever keeps agents in memory (the agent desk) is told of every change made through this
store (``subscribe``): a profile created or updated (the API, ``hotline agents import``), a
session changed (login, logout, pause). Changes are made and reported one at a time, in order,
and ``snapshot`` reads every agent with no change in between, so a copy loaded with it and kept
up by the reports misses nothing this process does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker

from hotline.agents.time import WRAP_UP, add_wrapup, split_hours, state_of, write_segments
from hotline.db.models import AgentEventRow, AgentRow


@dataclass(frozen=True)
class Agent:
    """An agent as the rest of the application sees it (no password hash)."""

    agent_id: str
    name: str
    extension: str | None
    roles: tuple[str, ...]
    skills: dict[str, int]
    logged_in_extension: str | None
    paused: bool
    pause_reason: str | None
    state_since: datetime | None

    @property
    def logged_in(self) -> bool:
        return self.logged_in_extension is not None


def _agent(row: AgentRow) -> Agent:
    return Agent(
        row.agent_id,
        row.name,
        row.extension,
        tuple(row.roles),
        dict(row.skills),
        row.logged_in_extension,
        row.paused,
        row.pause_reason,
        row.state_since,
    )


class UnknownAgent(KeyError):
    pass


Listener = Callable[[Agent], None]


class AgentStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._listeners: list[Listener] = []
        # Held while a change is written and reported, and while ``snapshot`` reads.
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with the agent as it is after each change made through this
        store, once it is committed (in the thread that made it, the store's lock held: keep
        it quick)."""
        self._listeners.append(listener)

    def snapshot(self, use: Callable[[list[Agent]], None]) -> None:
        """Read every agent and hand them to ``use``, with no change of this store between
        the read and ``use`` (it runs under the lock the changes are reported under)."""
        with self._lock:
            use(self.all())

    def _changed(self, agent: Agent) -> Agent:
        for listener in self._listeners:
            listener(agent)
        return agent

    def upsert(
        self,
        agent_id: str,
        *,
        name: str,
        extension: str | None,
        roles: list[str],
        skills: dict[str, int],
        password_hash: str | None = None,
    ) -> tuple[Agent, bool]:
        """Create or update a profile (the session is left alone); True if created."""
        now = datetime.now(UTC)
        with self._lock:
            with self._sessions.begin() as s:
                row = s.scalar(select(AgentRow).where(AgentRow.agent_id == agent_id))
                created = row is None
                if row is None:
                    row = AgentRow(
                        agent_id=agent_id, created_at=now, paused=False, password_hash=""
                    )
                    s.add(row)
                row.name, row.extension, row.roles, row.skills = name, extension, roles, skills
                if password_hash is not None:
                    row.password_hash = password_hash
                row.updated_at = now
                agent = _agent(row)
            return self._changed(agent), created

    def get(self, agent_id: str) -> Agent:
        with self._sessions() as s:
            row = s.scalar(select(AgentRow).where(AgentRow.agent_id == agent_id))
            if row is None:
                raise UnknownAgent(agent_id)
            return _agent(row)

    def password_hash(self, agent_id: str) -> str | None:
        with self._sessions() as s:
            row = s.scalar(select(AgentRow).where(AgentRow.agent_id == agent_id))
            return row.password_hash if row is not None else None

    def replace_password_hash(self, agent_id: str, old: str, new: str) -> bool:
        """Store ``new`` (the same password, hashed anew) if the hash is still ``old``, so a
        password changed meanwhile is never undone; True if replaced. Nothing to report: the
        hash is no part of ``Agent``."""
        with self._sessions.begin() as s:
            done = s.connection().execute(
                update(AgentRow)
                .where(AgentRow.agent_id == agent_id, AgentRow.password_hash == old)
                .values(password_hash=new)
            )
            return bool(done.rowcount)

    def all(self) -> list[Agent]:
        with self._sessions() as s:
            return [_agent(r) for r in s.scalars(select(AgentRow).order_by(AgentRow.agent_id))]

    def set_session(
        self,
        agent_id: str,
        *,
        event: str,
        extension: str | None,
        paused: bool,
        reason: str | None,
        call: str | None = None,
        now: datetime | None = None,
        pbx: str | None = None,
    ) -> Agent:
        """Record a state change and its history line in one transaction, with the time
        spent in the state it leaves (and, after a wrap-up, that time on its call).
        ``call``: the call_id a wrap-up pause follows; ``now``: the time of the change
        (imports and tests; the service leaves it to the clock); ``pbx``: the PBX of the
        extension logged in at (or out from), kept in the history."""
        now = now or datetime.now(UTC)
        with self._lock:
            with self._sessions.begin() as s:
                row = s.scalar(select(AgentRow).where(AgentRow.agent_id == agent_id))
                if row is None:
                    raise UnknownAgent(agent_id)
                left = state_of(row.logged_in_extension is not None, row.paused, row.pause_reason)
                if left is not None and row.state_since is not None and now > row.state_since:
                    conn = s.connection()
                    ext, since = row.logged_in_extension, row.state_since
                    write_segments(conn, list(split_hours(agent_id, ext, left, since, now)))
                    if left == WRAP_UP:
                        seconds = (now - since).total_seconds()
                        add_wrapup(
                            conn,
                            call_id=row.wrapup_call,
                            extension=ext,
                            start=since,
                            seconds=seconds,
                        )
                row.wrapup_call = call if state_of(True, paused, reason) == WRAP_UP else None
                row.logged_in_extension = extension
                row.paused, row.pause_reason, row.state_since = paused, reason, now
                row.updated_at = now
                s.add(
                    AgentEventRow(
                        agent_id=agent_id,
                        event=event,
                        reason=reason,
                        extension=extension,
                        at=now,
                        pbx=pbx,
                    )
                )
                agent = _agent(row)
            return self._changed(agent)

    def events(self, agent_id: str) -> list[AgentEventRow]:
        with self._sessions() as s:
            q = select(AgentEventRow).where(AgentEventRow.agent_id == agent_id)
            return list(s.scalars(q.order_by(AgentEventRow.id)))
