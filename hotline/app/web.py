"""The web application: every feature's routes, and the objects they ask for by type.

Each feature serves its own routes (``hotline/<feature>/routes.py``) and asks for what it
needs with ``Annotated[..., Depends(provided(cls))]`` (``hotline/web/deps.py``); here the
instances are registered, one per type. Settings are not handed over whole: routes get small
typed values made from them (the time zone, the ticket taxonomy, the callers' languages).
"""

from __future__ import annotations

from fastapi import FastAPI

from hotline.agents import routes as agents
from hotline.app.settings import Settings
from hotline.callers import routes as callers
from hotline.kb import routes as kb
from hotline.metrics import routes as metrics
from hotline.metrics.render import ReportRenderer
from hotline.screenpop import routes as screenpop
from hotline.supervision import routes as supervision
from hotline.surveys import routes as surveys
from hotline.tickets import routes as tickets
from hotline.web import errors
from hotline.web.deps import LocalTime, provide
from hotline.web.health import Health, health_router
from hotline.web.request_id import RequestIdMiddleware


def _active() -> dict[str, str]:
    return {"role": "active"}


def create_app(settings: Settings, *services: object, health: Health | None = None) -> FastAPI:
    """``services``: the instances the routes ask for, each registered under its own class
    (None: a feature switched off, e.g. surveys); ``health``: this instance's role for
    /healthz and /readyz (an active/standby pair's runner; default: active)."""
    app = FastAPI(title="hotline", docs_url="/api/docs", openapi_url="/api/openapi.json")
    provide(
        app,
        [
            LocalTime(settings.tz, settings.timezone),
            settings.tickets,  # the ticket taxonomy (TicketSettings)
            screenpop.CallerLanguages(frozenset(settings.ivr.languages)),
            ReportRenderer(settings.report_names()),
            *services,
        ],
    )
    errors.install(app)
    app.add_middleware(RequestIdMiddleware)  # X-Request-ID in and out, on every log line
    app.include_router(health_router(health or _active))
    for router in (
        agents.router,
        metrics.router,
        supervision.router,
        tickets.router,
        kb.router,
        surveys.router,
        screenpop.router,
        callers.router,
        supervision.pages,
        screenpop.pages,
    ):
        app.include_router(router)
    return app
