"""The knowledge base agents look answers up in: search, suggestions for a call, editing.

Synchronous like the store (the web layer calls it through ``asyncio.to_thread``). Every
problem with a request is a domain error with a stable id (``kb.bad_query``, ``kb.not_found``,
...); the web layer maps them to HTTP.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.core.errors import Conflict, Invalid, NotFound
from hotline.kb.store import Article, ArticleData, KbStore, Saved

# The request kinds of the domain (the same ids as hotline/tickets/lifecycle.py's KINDS).
KINDS = ("consultation", "help_request", "complaint", "report", "suggestion")
LANGUAGES = ("zh", "en")
ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # as the ticket taxonomy's ids
MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MAX_LIMIT = 50
SNIPPET_CHARS = 160

# A query is literal text, never search syntax: quoted "phrases" stay together; elsewhere the
# characters FTS5 and tsquery give meaning to, and Chinese punctuation, separate terms.
_PHRASE_OR_WORD = re.compile(r'"([^"]*)"|([^\s"]+)')
_SEPARATORS = re.compile(r"[*()^:{}\[\]<>|&!~;,，。、；：？！（）【】《》“”‘’]+")  # noqa: RUF001


def parse_query(query: str) -> list[str]:
    """The literal terms of a search box's text; ``Invalid`` (kb.bad_query) if there are none
    or too many. An unbalanced quote is ignored."""
    query = query.strip()
    if not query:
        raise Invalid("kb.bad_query", "the search text is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise Invalid("kb.bad_query", f"the search text is over {MAX_QUERY_CHARS} characters")
    terms: list[str] = []
    for m in _PHRASE_OR_WORD.finditer(query):
        if m.group(1) is not None:
            pieces = [" ".join(m.group(1).split())]
        else:
            pieces = [p.strip("+-") for p in _SEPARATORS.split(m.group(2))]
        terms += [p for p in pieces if p]
    unique: list[str] = []
    for t in terms:
        if t.casefold() not in {u.casefold() for u in unique}:
            unique.append(t)
    if not unique:
        raise Invalid("kb.bad_query", "the search text has no words in it, only punctuation")
    if len(unique) > MAX_TERMS:
        raise Invalid("kb.bad_query", f"at most {MAX_TERMS} search terms")
    return unique


def highlight(text: str, terms: Sequence[str], width: int | None = None) -> str:
    """``text`` as HTML with each term in ``<mark>``; with ``width``, only about that many
    characters around the first hit (``…`` where cut)."""
    text = " ".join(text.split())
    pattern = re.compile(
        "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )
    spans = [m.span() for m in pattern.finditer(text)] if terms else []
    start, end = 0, len(text)
    if width is not None and len(text) > width:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - width // 4, len(text) - width))
        end = start + width
    out = ["…" if start > 0 else ""]
    at = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e or s < at:
            continue
        out += [html.escape(text[at:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
        at = e
    out += [html.escape(text[at:end]), "…" if end < len(text) else ""]
    return "".join(out)


def categories_from(
    categories: Iterable[object] | Mapping[str, object] | None,
) -> frozenset[str] | None:
    """The category ids of the ticket taxonomy (``tickets.categories``: objects with an ``id``,
    ids, or a mapping by id), or None when there is none (then any category id is accepted)."""
    if not categories:
        return None
    if isinstance(categories, Mapping):
        return frozenset(str(k) for k in categories)
    return frozenset(str(getattr(c, "id", c)) for c in categories)


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float  # higher is better; comparable within one result only
    title_html: str  # HTML-escaped, hits in <mark>
    snippet_html: str  # the body around the first hit, likewise


class KnowledgeBase:
    def __init__(self, store: KbStore, categories: Collection[str] | None = None) -> None:
        self._store = store
        self._categories = frozenset(categories) if categories else None

    # -- reading ---------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        category: str | None = None,
        kind: str | None = None,
        language: str | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        terms = parse_query(query)
        self._check_filters(kind, language, limit)
        found = self._store.search(
            terms,
            category=category or None,
            kind=kind or None,
            language=language or None,
            limit=limit,
        )
        return [
            SearchHit(a, score, highlight(a.title, terms), highlight(a.body, terms, SNIPPET_CHARS))
            for a, score in found
        ]

    def suggest(
        self,
        kind: str | None,
        category: str | None,
        limit: int = 5,
        *,
        language: str | None = None,
    ) -> list[Article]:
        """Articles to show with a call (the screen-pop): those for its category and request
        kind first, then for the category, then for the kind; the caller's language first."""
        self._check_filters(kind, language, limit)
        return self._store.suggest(kind or None, category or None, limit, language or None)

    def get(self, article_id: str) -> Article:
        article = self._store.get(article_id)
        if article is None:
            raise NotFound("kb.not_found", f"no article {article_id!r}")
        return article

    def count(self) -> int:
        return self._store.count()

    # -- editing ---------------------------------------------------------------------------
    def create(self, data: ArticleData, by: str, article_id: str | None = None) -> Article:
        article_id = article_id or f"kb-{secrets.token_hex(4)}"
        self._check_id(article_id)
        self.check(data)
        article, outcome = self._store.save(article_id, data, by, create_only=True)
        if outcome == "exists":
            raise Conflict("kb.exists", f"article {article_id!r} exists already")
        return article

    def put(self, article_id: str, data: ArticleData, by: str) -> tuple[Article, Saved]:
        """Create or replace an article (import and PUT)."""
        self._check_id(article_id)
        self.check(data)
        return self._store.save(article_id, data, by)

    def delete(self, article_id: str) -> None:
        if not self._store.delete(article_id):
            raise NotFound("kb.not_found", f"no article {article_id!r}")

    def check(self, data: ArticleData) -> None:
        """``Invalid`` naming what is wrong with an article."""
        if not data.title.strip() or not data.body.strip():
            raise Invalid("kb.bad_article", "an article needs a title and a body")
        bad = sorted(set(data.kinds) - set(KINDS))
        if bad:
            raise Invalid("kb.bad_kind", f"unknown request kind(s) {bad}; kinds are {KINDS}")
        if data.language not in LANGUAGES:
            raise Invalid("kb.bad_language", f"language must be one of {LANGUAGES}")
        if data.category is not None:
            if not CATEGORY_ID.match(data.category):
                raise Invalid("kb.bad_category", f"malformed category id {data.category!r}")
            if self._categories is not None and data.category not in self._categories:
                raise Invalid(
                    "kb.bad_category",
                    f"category {data.category!r} is not in the ticket taxonomy "
                    "(tickets.categories)",
                )

    @staticmethod
    def _check_id(article_id: str) -> None:
        if not ARTICLE_ID.match(article_id):
            raise Invalid(
                "kb.bad_id", "an article id is 1 to 64 of a-z, 0-9, '.', '_', '-' (a-z0-9 first)"
            )

    @staticmethod
    def _check_filters(kind: str | None, language: str | None, limit: int) -> None:
        if kind and kind not in KINDS:
            raise Invalid("kb.bad_kind", f"unknown request kind {kind!r}; kinds are {KINDS}")
        if language and language not in LANGUAGES:
            raise Invalid("kb.bad_language", f"language must be one of {LANGUAGES}")
        if not 1 <= limit <= MAX_LIMIT:
            raise Invalid("kb.bad_limit", f"limit must be 1 to {MAX_LIMIT}")


def kb_suggestions(
    kb: KnowledgeBase, kind: str | None, category: str | None, language: str | None
) -> list[dict[str, Any]]:
    """Articles for a screen-pop: a request kind the knowledge base does not file articles
    under (the IVR's "operator", "ticket_status") suggests by category alone."""
    kind = kind if kind in KINDS else None
    if kind is None and category is None:
        return []
    return [
        {"id": a.id, "title": a.title, "snippet": a.body[:160], "category": a.category}
        for a in kb.suggest(kind, category, 5, language=language)
    ]
