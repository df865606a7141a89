"""Knowledge-base routes: search and suggestions for every signed-in agent, editing for
supervisors and admins. The store is synchronous, so every call goes through a thread."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from hotline.core.errors import Invalid
from hotline.kb.schemas import KbArticleIn, KbArticleOut, KbHitOut, KbKind
from hotline.kb.service import MAX_LIMIT, MAX_QUERY_CHARS, KnowledgeBase, SearchHit
from hotline.kb.store import Article, ArticleData
from hotline.web.deps import Caller, Supervisor, provided

router = APIRouter(prefix="/api")
Kb = Annotated[KnowledgeBase, Depends(provided(KnowledgeBase))]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Category = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Language = Annotated[str | None, Query(pattern=r"^(zh|en)$")]


def _out(a: Article) -> KbArticleOut:
    return KbArticleOut(
        id=a.id,
        title=a.title,
        body=a.body,
        category=a.category,
        kinds=list(a.kinds),
        keywords=list(a.keywords),
        language=a.language,
        updated_at=a.updated_at.timestamp(),
        updated_by=a.updated_by,
    )


def _hit(h: SearchHit) -> KbHitOut:
    a = h.article
    return KbHitOut(
        id=a.id,
        title=a.title,
        category=a.category,
        kinds=list(a.kinds),
        language=a.language,
        score=round(h.score, 4),
        title_html=h.title_html,
        snippet=h.snippet_html,
    )


def _data(body: KbArticleIn) -> ArticleData:
    return ArticleData(
        title=body.title,
        body=body.body,
        category=body.category,
        kinds=tuple(body.kinds),
        keywords=tuple(body.keywords),
        language=body.language,
    )


@router.get("/kb/search")
async def search(
    _: Caller,
    kb: Kb,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)],
    category: Category = None,
    kind: KbKind | None = None,
    language: Language = None,
    limit: Limit = 10,
) -> list[KbHitOut]:
    """Articles containing every word of ``q`` (literal text: quotes keep a phrase together,
    no operators), best first, with the matches marked."""
    hits = await asyncio.to_thread(
        lambda: kb.search(q, category=category, kind=kind, language=language, limit=limit)
    )
    return [_hit(h) for h in hits]


@router.get("/kb/suggest")
async def suggest(
    _: Caller,
    kb: Kb,
    kind: KbKind | None = None,
    category: Category = None,
    language: Language = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 5,
) -> list[KbArticleOut]:
    """Articles for a call's request kind and category (the screen-pop's suggestions)."""
    found = await asyncio.to_thread(lambda: kb.suggest(kind, category, limit, language=language))
    return [_out(a) for a in found]


@router.get("/kb/{article_id}")
async def get_article(article_id: str, _: Caller, kb: Kb) -> KbArticleOut:
    return _out(await asyncio.to_thread(kb.get, article_id))


@router.post("/kb", status_code=201)
async def create_article(body: KbArticleIn, who: Supervisor, kb: Kb) -> KbArticleOut:
    article = await asyncio.to_thread(kb.create, _data(body), who.agent_id, body.id)
    return _out(article)


@router.put("/kb/{article_id}")
async def put_article(
    article_id: str, body: KbArticleIn, who: Supervisor, kb: Kb, response: Response
) -> KbArticleOut:
    """Create or replace the article ``article_id``."""
    if body.id is not None and body.id != article_id:
        raise Invalid("kb.id_mismatch", "the body's id differs from the URL's")
    article, outcome = await asyncio.to_thread(kb.put, article_id, _data(body), who.agent_id)
    if outcome == "created":
        response.status_code = 201
    return _out(article)


@router.delete("/kb/{article_id}", status_code=204)
async def delete_article(article_id: str, _: Supervisor, kb: Kb) -> None:
    await asyncio.to_thread(kb.delete, article_id)
