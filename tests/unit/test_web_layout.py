"""The web layout rule: each feature serves its own routes (``<feature>/routes.py``) with its
models in ``<feature>/schemas.py`` and its page in ``<feature>/static/``; ``hotline/web/`` is
infrastructure that imports no feature; the app is put together in ``hotline/app/web.py``,
which nothing else imports. Routes get their services from a typed registry."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI

from hotline.web.deps import optional, provide, provided

HOTLINE = Path(__file__).resolve().parents[2] / "hotline"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "hotline" or m.startswith("hotline.")}


def test_hotline_web_imports_no_feature() -> None:
    for path in (HOTLINE / "web").glob("*.py"):
        bad = {m for m in imports(path) if not m.startswith(("hotline.core", "hotline.web"))}
        assert not bad, f"{path.name} imports {bad}"


def test_routes_live_in_their_feature_with_models_in_schemas() -> None:
    routes = sorted(HOTLINE.glob("*/routes.py"))
    assert {p.parent.name for p in routes} >= {
        "agents",
        "callers",
        "kb",
        "metrics",
        "screenpop",
        "supervision",
        "surveys",
        "tickets",
    }
    for path in routes:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        models = [
            n.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id == "BaseModel" for b in n.bases)
        ]
        assert not models, f"{path}: models {models} belong in schemas.py"
        assert (path.parent / "schemas.py").exists(), f"{path.parent.name} has no schemas.py"
    assert not list((HOTLINE / "web").glob("static/*")), "pages live beside their feature"
    assert (HOTLINE / "screenpop" / "static" / "agent.html").exists()
    assert (HOTLINE / "supervision" / "static" / "wallboard.html").exists()


def test_only_the_wiring_imports_the_app_factory() -> None:
    users = [
        p.relative_to(HOTLINE)
        for p in HOTLINE.rglob("*.py")
        if "hotline.app.web" in imports(p) and p.parent.name != "app"
    ]
    assert users == []


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now


class Absent:
    pass


ClockDep = Annotated[Clock, Depends(provided(Clock))]
MaybeAbsent = Annotated[Absent | None, Depends(optional(Absent))]
router = APIRouter()


@router.get("/now")
def now(clock: ClockDep, absent: MaybeAbsent) -> dict[str, object]:
    return {"now": clock.now, "absent": absent is None}


async def test_routes_get_their_services_by_type() -> None:
    """(WebSockets use the same providers: tests/integration/test_api_auth.py and
    tests/integration/test_agent_page.py.)"""
    app = FastAPI()
    provide(app, [Clock(12.5), None])  # None: a feature switched off
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/now")).json() == {"now": 12.5, "absent": True}
