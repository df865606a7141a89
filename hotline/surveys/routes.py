"""The survey-callback API: list and read surveys, hold, resume or cancel one, stop the whole
dialer, opt citizens out, the satisfaction figures; and the supervisors' alerts.

Any staff member may read one survey (it belongs to a ticket they can read); everything that
changes state or lists many citizens' numbers is for supervisors. With surveys disabled (no
``SurveyStore`` registered) every survey route answers 404 ``survey.disabled``. The store is
synchronous, so every call goes through a thread. Static paths (``/surveys/dialer``,
``/surveys/stats``) are declared before ``/surveys/{survey_id}`` so they are never taken for
an id.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from hotline.core.alerts import SupervisorAlerts
from hotline.core.errors import Invalid, NotFound
from hotline.surveys import admin as survey_admin
from hotline.surveys import satisfaction
from hotline.surveys.policy import STATUSES
from hotline.surveys.schemas import (
    AlertOut,
    OptOutIn,
    OptOutOut,
    SatisfactionRowOut,
    SatisfactionStatsOut,
    SurveyAttemptOut,
    SurveyCancelIn,
    SurveyDetailOut,
    SurveyDialerOut,
    SurveyOut,
    SurveyPageOut,
)
from hotline.surveys.store import GROUPS, Attempt, Survey, SurveyStore
from hotline.tickets.routes import Tickets
from hotline.web.deps import Caller, Local, LocalTime, Supervisor, optional

# The longest range one query may ask for, as the metrics API's.
MAX_RANGE = timedelta(days=400)

router = APIRouter(prefix="/api", tags=["surveys"])
SurveyId = Annotated[int, Path(ge=1, lt=2**31)]
TicketId = Annotated[int, Path(ge=1, lt=2**31)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, lt=2**31)]
Number = Annotated[str, Path()]  # checked by survey_admin.check_number (stable id)


def survey_store(
    store: Annotated[SurveyStore | None, Depends(optional(SurveyStore))],
) -> SurveyStore:
    if store is None:
        raise NotFound("survey.disabled", "satisfaction surveys are not enabled")
    return store


# Declared after the caller's role in each route, so a stranger gets 401 before learning
# whether surveys are enabled.
Surveys = Annotated[SurveyStore, Depends(survey_store)]
Alerts = Annotated[SupervisorAlerts | None, Depends(optional(SupervisorAlerts))]


# -- shaping -----------------------------------------------------------------------------------
def _survey(local: LocalTime, s: Survey) -> dict[str, Any]:
    data = {f.name: getattr(s, f.name) for f in fields(s) if f.name in SurveyOut.model_fields}
    for name in ("next_at", "created_at", "updated_at", "finished_at"):
        data[name] = local.local(getattr(s, name))
    data["has_comment"] = s.comment_path is not None
    return data


def _out(local: LocalTime, s: Survey) -> SurveyOut:
    return SurveyOut(**_survey(local, s))


def _attempt(local: LocalTime, a: Attempt) -> SurveyAttemptOut:
    return SurveyAttemptOut(
        n=a.n,
        started_at=local.local(a.started_at),
        ended_at=local.local(a.ended_at),
        outcome=a.outcome,
        sip_status=a.sip_status,
        digits=a.digits,
        result=a.result,
    )


async def _detail(local: LocalTime, store: SurveyStore, s: Survey) -> SurveyDetailOut:
    attempts = await asyncio.to_thread(store.attempts, s.id)
    return SurveyDetailOut(**_survey(local, s), attempt_log=[_attempt(local, a) for a in attempts])


async def _dialer(store: SurveyStore) -> SurveyDialerOut:
    def read() -> SurveyDialerOut:
        counts = store.counts()
        return SurveyDialerOut(
            paused=store.paused(), counts={s: counts.get(s, 0) for s in STATUSES}
        )

    return await asyncio.to_thread(read)


def _check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise Invalid("survey.bad_range", "'until' must be after 'since'")
    if until - since > MAX_RANGE:
        raise Invalid("survey.range_too_long", f"at most {MAX_RANGE.days} days per query")


# -- the dialer, figures and opt-outs (static paths first) ------------------------------------
@router.get("/surveys/dialer")
async def dialer(_: Supervisor, store: Surveys) -> SurveyDialerOut:
    """Whether the dialer is paused, and how many surveys are in each status."""
    return await _dialer(store)


@router.post("/surveys/pause")
async def pause_dialer(who: Supervisor, store: Surveys) -> SurveyDialerOut:
    """Stop placing survey calls (calls in progress finish); surveys keep their schedule."""
    await asyncio.to_thread(survey_admin.set_dialer, store, True, who.agent_id)
    return await _dialer(store)


@router.post("/surveys/resume")
async def resume_dialer(who: Supervisor, store: Surveys) -> SurveyDialerOut:
    await asyncio.to_thread(survey_admin.set_dialer, store, False, who.agent_id)
    return await _dialer(store)


@router.get("/surveys/stats")
async def stats(
    _: Supervisor,
    local: Local,
    store: Surveys,
    since: datetime,
    until: datetime,
    group: str = "total",
) -> SatisfactionStatsOut:
    """Completed surveys finished in [since, until), by total, department, category, agent,
    kind, day or month (local time; a time without a zone is local)."""
    if group not in GROUPS:
        raise Invalid("survey.bad_group", f"unknown group {group!r}; use {list(GROUPS)}")
    since, until = local.aware(since), local.aware(until)
    _check_range(since, until)
    rows = await asyncio.to_thread(store.stats, since, until, group, local.tz)
    return SatisfactionStatsOut(
        since=since,
        until=until,
        timezone=local.name,
        group=group,
        target=satisfaction.TARGET,
        rows=[SatisfactionRowOut(**satisfaction.row_dict(r)) for r in rows],
    )


@router.get("/surveys/optouts/{number}")
async def optout_status(number: Number, _: Supervisor, store: Surveys) -> OptOutOut:
    survey_admin.check_number(number)
    out = await asyncio.to_thread(store.opted_out, number)
    return OptOutOut(number=number, opted_out=out, changed=False)


@router.put("/surveys/optouts/{number}")
async def opt_out(
    number: Number, who: Supervisor, store: Surveys, body: OptOutIn | None = None
) -> OptOutOut:
    """Never survey this number again (until opted in); idempotent."""
    reason = body.reason if body is not None else ""
    changed = await asyncio.to_thread(survey_admin.opt_out, store, number, who.agent_id, reason)
    return OptOutOut(number=number, opted_out=True, changed=changed)


@router.delete("/surveys/optouts/{number}")
async def opt_in(number: Number, who: Supervisor, store: Surveys) -> OptOutOut:
    changed = await asyncio.to_thread(survey_admin.opt_in, store, number, who.agent_id)
    return OptOutOut(number=number, opted_out=False, changed=changed)


# -- surveys -----------------------------------------------------------------------------------
@router.get("/surveys")
async def list_surveys(
    _: Supervisor,
    local: Local,
    store: Surveys,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> SurveyPageOut:
    """Surveys newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise Invalid("survey.bad_status", f"unknown status {status!r}; use {list(STATUSES)}")

    def read() -> tuple[list[Survey], int]:
        counts = store.counts()
        total = counts.get(status, 0) if status is not None else sum(counts.values())
        return store.find(status, limit, offset), total

    items, total = await asyncio.to_thread(read)
    return SurveyPageOut(
        items=[_out(local, s) for s in items], total=total, limit=limit, offset=offset
    )


@router.get("/surveys/{survey_id}")
async def get_survey(
    survey_id: SurveyId, _: Caller, local: Local, store: Surveys
) -> SurveyDetailOut:
    survey = await asyncio.to_thread(store.get, survey_id)
    if survey is None:
        raise NotFound("survey.not_found", f"no survey {survey_id}")
    return await _detail(local, store, survey)


@router.post("/surveys/{survey_id}/pause")
async def pause(
    survey_id: SurveyId, who: Supervisor, local: Local, store: Surveys
) -> SurveyDetailOut:
    """Hold a scheduled survey (409 ``survey.not_pausable`` otherwise)."""
    moved = await asyncio.to_thread(survey_admin.pause, store, survey_id, who.agent_id)
    return await _detail(local, store, moved)


@router.post("/surveys/{survey_id}/resume")
async def resume(
    survey_id: SurveyId, who: Supervisor, local: Local, tickets: Tickets, store: Surveys
) -> SurveyDetailOut:
    """Back to the schedule, due now (the API's clock, the ticket service's ``now``; dialled
    when the calling window is open): a paused survey, or an interrupted one (409
    ``survey.not_resumable`` otherwise)."""
    moved = await asyncio.to_thread(
        survey_admin.resume, store, survey_id, who.agent_id, tickets.now()
    )
    return await _detail(local, store, moved)


@router.post("/surveys/{survey_id}/cancel")
async def cancel(
    survey_id: SurveyId,
    who: Supervisor,
    local: Local,
    store: Surveys,
    body: SurveyCancelIn | None = None,
) -> SurveyDetailOut:
    """Cancel a survey not finished yet (409 ``survey.not_cancellable`` otherwise); a call
    in progress ends normally but the survey stays cancelled."""
    reason = body.reason if body is not None else ""
    moved = await asyncio.to_thread(survey_admin.cancel, store, survey_id, who.agent_id, reason)
    return await _detail(local, store, moved)


@router.get("/tickets/{ticket_id}/survey")
async def ticket_survey(
    ticket_id: TicketId, _: Caller, local: Local, store: Surveys, tickets: Tickets
) -> SurveyDetailOut:
    """The ticket's survey (at most one). 404 ``ticket.not_found`` for no such ticket,
    ``ticket.no_survey`` for a ticket without one (yet)."""
    survey = await asyncio.to_thread(store.of_ticket, ticket_id)
    if survey is None:
        await tickets.get(ticket_id)  # raises ticket.not_found
        raise NotFound("ticket.no_survey", f"ticket {ticket_id} has no survey")
    return await _detail(local, store, survey)


# -- alerts ------------------------------------------------------------------------------------
@router.get("/alerts", tags=["alerts"])
async def alerts(_: Supervisor, local: Local, recent: Alerts, limit: Limit = 50) -> list[AlertOut]:
    """The latest supervisor alerts (a dissatisfied citizen, ...), newest first; kept in
    memory, so a restart starts an empty list (the facts stay on the surveys and tickets)."""
    if recent is None:
        return []
    return [
        AlertOut(
            kind=a.kind, at=local.local(a.at), message=a.message, ticket_id=a.ticket_id, data=a.data
        )
        for a in recent.recent(limit)
    ]
