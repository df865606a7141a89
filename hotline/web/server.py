"""The uvicorn server that runs a FastAPI application inside the service's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


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
