"""Caller look-ups for the agent's page: who is calling (region, history) and whether a call
about a category (or a request kind) repeats an earlier one."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from hotline.callers.history import CallerHistory
from hotline.callers.schemas import CallerOut, RepeatOut
from hotline.web.deps import Caller, provided

router = APIRouter(prefix="/api")
History = Annotated[CallerHistory, Depends(provided(CallerHistory))]


@router.get("/callers/{number}/repeat")
async def repeat(
    number: str, _: Caller, history: History, kind: str | None = None, category: str | None = None
) -> RepeatOut:
    """Whether a call from ``number`` about ``category`` (or ``kind``) repeats an earlier one."""
    view = await asyncio.to_thread(
        history.look_up, number, kind=kind or None, category=category or None
    )
    return RepeatOut(flag=view.repeat.flag, of=view.repeat.of, reasons=list(view.repeat.reasons))


@router.get("/callers/{number}")
async def caller(number: str, _: Caller, history: History) -> CallerOut:
    view = await asyncio.to_thread(history.look_up, number, kind=None)
    return CallerOut.model_validate(view.as_dict())
