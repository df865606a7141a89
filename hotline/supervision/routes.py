"""Supervision: the live view (``GET /api/live`` and its WebSocket), the Prometheus text at
``/metrics`` and the wallboard page."""

from __future__ import annotations

import contextlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response

from hotline.supervision.live import LiveView
from hotline.supervision.prometheus import Exposition
from hotline.supervision.schemas import LiveMessage, LiveSnapshot
from hotline.web.deps import Signer, Supervisor, provided, ws_principal

router = APIRouter(prefix="/api")
pages = APIRouter()
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Scrape:
    """The Prometheus exposition, built on request; ``token``: when set, ``/metrics`` wants
    "Authorization: Bearer <token>" (for a scraper on another host)."""

    exposition: Exposition
    token: str = ""


Live = Annotated[LiveView, Depends(provided(LiveView))]
Scraper = Annotated[Scrape, Depends(provided(Scrape))]


@router.get("/live")
async def live(_: Supervisor, view: Live) -> LiveSnapshot:
    return await view.snapshot()


@router.websocket("/live/ws")
async def live_ws(ws: WebSocket, view: Live, signer: Signer) -> None:
    """Supervisors only. The token comes as the first message ({"token": ...}), not in the URL,
    so it never lands in access logs. Then ``LiveMessage``s (docs/websocket.md)."""
    who = await ws_principal(ws, signer)
    if who is None:
        return
    if not who.supervises:
        await ws.close(code=4403, reason="supervisor role required")
        return
    queue = view.subscribe()
    try:
        await ws.send_text(LiveMessage.of(await view.snapshot()).model_dump_json())
        while True:
            await ws.send_text(LiveMessage.of(await queue.get()).model_dump_json())
    except WebSocketDisconnect:
        pass
    finally:
        view.unsubscribe(queue)
        with contextlib.suppress(RuntimeError):
            await ws.close()


@pages.get("/metrics", response_class=Response)
async def prometheus(
    scrape: Scraper,
    authorization: Annotated[str | None, Header()] = None,
    accept: Annotated[str, Header()] = "",
) -> Response:
    """Prometheus text (version 0.0.4), or OpenMetrics when the scraper's Accept asks."""
    if scrape.token and not hmac.compare_digest(authorization or "", f"Bearer {scrape.token}"):
        raise HTTPException(401, "metrics token required")
    body, content_type = await scrape.exposition.render(accept)
    return Response(body, media_type=content_type)


@pages.get("/wallboard", response_class=HTMLResponse)
async def wallboard() -> str:
    return (STATIC / "wallboard.html").read_text(encoding="utf-8")
