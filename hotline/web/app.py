"""The FastAPI application and the uvicorn server that runs it inside the service's loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from hotline.kb import routes as kb_routes
from hotline.screenpop import routes as agent_routes
from hotline.surveys import routes as survey_routes
from hotline.tickets import routes as ticket_routes
from hotline.web import errors
from hotline.web.deps import WebContext
from hotline.web.health import health_router
from hotline.web.routes import api, pages


def create_app(ctx: WebContext) -> FastAPI:
    app = FastAPI(title="hotline", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.ctx = ctx
    errors.install(app)
    app.include_router(health_router(ctx.health))
    app.include_router(api)
    app.include_router(ticket_routes.router)
    app.include_router(kb_routes.router)
    app.include_router(survey_routes.router)
    app.include_router(agent_routes.api)
    app.include_router(pages)
    app.include_router(agent_routes.pages)
    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service owns Ctrl-C (it stops the PBX and flushes records in order).
        yield


class WebServer:
    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        # No access log: paths are harmless but the service's log stays about calls.
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = _Server(config)
        self.host, self.port = host, port

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    async def run(self) -> None:
        try:
            await self._server.serve()
        finally:
            self._server.should_exit = True

    def stop(self) -> None:
        """Ask ``run`` to return: it closes the listening socket and open connections."""
        self._server.should_exit = True
