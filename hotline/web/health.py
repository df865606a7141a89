"""Liveness and readiness, unauthenticated (for orchestrators and load balancers).

``GET /healthz``: 200 while the process is healthy, with its role (``active`` or
``standby``) and instance name. ``GET /readyz``: 200 only on the active instance, which
serves the API; 503 on a standby, so a load balancer sends nobody there.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

Health = Callable[[], dict[str, str]]  # {"role": ..., "instance": ..., ...}


def health_router(health: Health) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return health()

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        status = health()
        return JSONResponse(status, status_code=200 if status.get("role") == "active" else 503)

    return router


def standby_app(health: Health) -> FastAPI:
    """All a standby serves until it takes over."""
    app = FastAPI(title="hotline (standby)", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(health_router(health))
    return app
