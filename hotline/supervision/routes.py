"""Supervision: the live view (``GET /api/live`` and its WebSocket), the Prometheus text at
``/metrics`` and the wallboard page.

Wall display or a supervisor's own screen: the live view is a wall display by default, its
callers' numbers masked to the last four digits on the server (``masking.for_wall``). A
supervisor's own screen asks for full numbers with ``?reveal=true`` (the page passes on its own
``/wallboard?reveal=1``); each such request or socket is written to the audit log (the
``hotline.audit`` logger: who, through what, when), since a full number is personal data.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response

from hotline.core.auth import Principal
from hotline.core.logs import log_context
from hotline.supervision.live import LiveView
from hotline.supervision.prometheus import Exposition
from hotline.supervision.schemas import LiveMessage, LiveSnapshot
from hotline.web.deps import Signer, Supervisor, provided, ws_principal

router = APIRouter(prefix="/api")
pages = APIRouter()
STATIC = Path(__file__).parent / "static"
# Who saw callers' full numbers, and through what: kept apart from the service's own lines so
# an operator can route it to its own file or store (docs/operations.md, "Audit").
audit = logging.getLogger("hotline.audit")


@dataclass(frozen=True)
class Scrape:
    """The Prometheus exposition, built on request; ``token``: when set, ``/metrics`` wants
    "Authorization: Bearer <token>" (for a scraper on another host)."""

    exposition: Exposition
    token: str = ""


Live = Annotated[LiveView, Depends(provided(LiveView))]
Scraper = Annotated[Scrape, Depends(provided(Scrape))]


def audit_reveal(who: Principal, via: str) -> None:
    """A supervisor was given callers' full numbers (``via``: what asked for them)."""
    with log_context(agent_id=who.agent_id):
        audit.info(
            "caller numbers revealed to %s (roles %s) via %s",
            who.agent_id,
            ",".join(who.roles),
            via,
            extra={"audit": "live.reveal", "actor": who.agent_id, "via": via},
        )


@router.get("/live")
async def live(who: Supervisor, view: Live, reveal: bool = False) -> LiveSnapshot:
    """The live view; callers' numbers masked unless ``reveal`` (audited)."""
    if reveal:
        audit_reveal(who, "GET /api/live")
    return await view.snapshot(reveal=reveal)


@router.websocket("/live/ws")
async def live_ws(ws: WebSocket, view: Live, signer: Signer, reveal: bool = False) -> None:
    """Supervisors only. The token comes as the first message ({"token": ...}), not in the URL,
    so it never lands in access logs. Then ``LiveMessage``s (docs/websocket.md), callers'
    numbers masked unless ``?reveal=true`` (audited once the supervisor is known)."""
    who = await ws_principal(ws, signer)
    if who is None:
        return
    if not who.supervises:
        await ws.close(code=4403, reason="supervisor role required")
        return
    if reveal:
        audit_reveal(who, "/api/live/ws")
    queue = view.subscribe(reveal=reveal)
    try:
        await ws.send_text(LiveMessage.of(await view.snapshot(reveal=reveal)).model_dump_json())
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
