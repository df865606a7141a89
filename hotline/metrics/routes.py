"""The metrics API (figures over any range, grouped) and the daily, weekly and monthly reports,
for supervisors. The figures' definitions are the MetricsService's."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from hotline.core.errors import Invalid
from hotline.metrics.labels import DEFAULT_LANG
from hotline.metrics.render import ReportRenderer
from hotline.metrics.report import bounds, to_csv
from hotline.metrics.schemas import MetricsOut
from hotline.metrics.service import MetricsService
from hotline.tickets.routes import Tickets
from hotline.web.deps import Local, Supervisor, provided

router = APIRouter(prefix="/api")
Metrics = Annotated[MetricsService, Depends(provided(MetricsService))]
Renderer = Annotated[ReportRenderer, Depends(provided(ReportRenderer))]


@router.get("/metrics")
async def metrics(
    _: Supervisor,
    service: Metrics,
    local: Local,
    since: datetime,
    until: datetime,
    group: Annotated[list[str] | None, Query()] = None,
    pbx: str | None = None,
) -> MetricsOut:
    """Metrics for [since, until) grouped by total, agent, queue, language, kind, region, pbx,
    hour, day; ``pbx``: only that PBX's calls. A time without a zone is local time."""
    since, until = local.aware(since), local.aware(until)
    groups = group or ["total"]
    data = await asyncio.to_thread(lambda: service.compute(since, until, groups, pbx=pbx))
    return MetricsOut.model_validate(data)


@router.get("/reports/{period}")
async def report(
    period: str,
    _: Supervisor,
    service: Metrics,
    local: Local,
    tickets: Tickets,
    renderer: Renderer,
    day: date | None = None,
    format: str = "html",
    lang: str = DEFAULT_LANG,
) -> Response:
    """The daily, weekly or monthly report containing ``day`` (default today), HTML or CSV;
    ``lang``: the page's language, zh or en (the CSV has no words to translate)."""
    tz = local.tz
    renderer.labels(lang)  # 422 before any work
    # "Now" is the ticket service's clock, as everywhere in the API (tests inject one).
    since, until = bounds(period, day or tickets.now().astimezone(tz).date(), tz)
    data = await asyncio.to_thread(service.report, since, until)
    if format == "csv":
        return Response(to_csv(data), media_type="text/csv; charset=utf-8")
    if format != "html":
        raise Invalid("report.bad_format", "format must be html or csv")
    # Drawing the charts takes CPU time: not on the event loop.
    page = await asyncio.to_thread(renderer.html, period, data, tz, lang)
    return HTMLResponse(page)
