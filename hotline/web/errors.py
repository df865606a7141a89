"""Domain errors → HTTP, in one place. The body always carries the stable error id."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hotline.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from telephony.errors import AmiError

_STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, Forbidden: 403, Invalid: 422}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = next((s for t, s in _STATUS.items() if isinstance(exc, t)), 400)
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=status)

    @app.exception_handler(AmiError)
    async def _pbx(_: Request, exc: AmiError) -> JSONResponse:
        # The PBX is away (or refused): the request did not take effect; say so plainly.
        return JSONResponse({"error": "pbx.unavailable", "message": str(exc)}, status_code=503)
