"""Knowledge-base articles in the store and their full-text search. Synchronous: callers on the
event loop use a thread.

Search means the same on both databases: the query is a list of literal terms (parsed by
``hotline/kb/service.py``) and an article matches when every term occurs, ignoring case, in its
title, keywords or body, also inside a word (Chinese is written without spaces, so "路灯" must be
found inside "小区路灯不亮"). The score is, first, where the terms occur: per term 10 for the title,
4 for the keywords, 1 for the body, on both databases alike (so a title hit beats a body hit
whatever the corpus); then, in [0, 1), the database's own relevance to order equal hits:

- SQLite: terms of 3 or more characters are found by the FTS5 trigram index (``MATCH``) and
  ranked by ``bm25`` with the same column weights. Shorter terms have no trigram (two-character
  Chinese words such as 路灯 are common), so they are matched with ``LIKE``.
- PostgreSQL: every term is matched with ``ILIKE`` on title + keywords + body (served by the
  pg_trgm GIN index) or, for an ASCII word, as a word prefix in the weighted ``tsvector``
  (GIN index); the relevance is ``ts_rank`` over that tsvector (title A, keywords B, body C).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Engine,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hotline.db.kb_models import KbArticleKindRow, KbArticleRow

# Column weights: title, keywords, body (the FTS5 column order).
WEIGHTS = (10.0, 4.0, 1.0)
_COLUMNS = ("title", "keywords", "body")
# The PostgreSQL trigram index is on exactly this expression (migration 0007).
_PG_DOC = "(a.title || ' ' || a.keywords || ' ' || a.body)"
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
TRIGRAM = 3  # shortest term the FTS5 trigram index can find

Saved = Literal["created", "updated", "unchanged", "exists"]


@dataclass(frozen=True)
class ArticleData:
    """What an editor writes; the store adds the id, who and when."""

    title: str
    body: str
    category: str | None
    kinds: tuple[str, ...]
    keywords: tuple[str, ...]
    language: str

    def normalized(self) -> ArticleData:
        seen: set[str] = set()
        keywords = []
        for k in (" ".join(k.split()) for k in self.keywords):
            if k and k.casefold() not in seen:
                seen.add(k.casefold())
                keywords.append(k)
        return ArticleData(
            title=self.title.strip(),
            body=self.body.strip(),
            category=self.category or None,
            kinds=tuple(sorted(set(self.kinds))),
            keywords=tuple(keywords),
            language=self.language,
        )


@dataclass(frozen=True)
class Article(ArticleData):
    id: str  # the slug: stable across imports, used in URLs
    updated_at: datetime
    updated_by: str

    @property
    def data(self) -> ArticleData:
        return ArticleData(
            self.title, self.body, self.category, self.kinds, self.keywords, self.language
        )


def _article(row: KbArticleRow) -> Article:
    return Article(
        title=row.title,
        body=row.body,
        category=row.category,
        kinds=tuple(sorted(k.kind for k in row.kinds)),
        keywords=tuple(k for k in row.keywords.split("\n") if k),
        language=row.language,
        id=row.slug,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _like(term: str) -> str:
    """A LIKE pattern matching ``term`` literally anywhere (backslash is the escape)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase(term: str) -> str:
    """``term`` as an FTS5 string: every character literal, operators included."""
    return '"' + term.replace('"', '""') + '"'


class KbStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- articles --------------------------------------------------------------------------
    def get(self, slug: str) -> Article | None:
        with self._sessions() as s:
            row = s.scalar(select(KbArticleRow).where(KbArticleRow.slug == slug))
            return _article(row) if row is not None else None

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(KbArticleRow)) or 0)

    def save(
        self, slug: str, data: ArticleData, by: str, *, create_only: bool = False
    ) -> tuple[Article, Saved]:
        """Create or replace the article ``slug``. An identical article is left alone
        ("unchanged": its date and author stay); with ``create_only`` an existing one is
        returned untouched ("exists")."""
        data = data.normalized()
        try:
            return self._save(slug, data, by, create_only)
        except IntegrityError:
            # Another writer created the same slug between our read and our insert.
            return self._save(slug, data, by, create_only)

    def _save(
        self, slug: str, data: ArticleData, by: str, create_only: bool
    ) -> tuple[Article, Saved]:
        with self._sessions.begin() as s:
            row = s.scalar(select(KbArticleRow).where(KbArticleRow.slug == slug))
            outcome: Saved
            if row is not None:
                if create_only:
                    return _article(row), "exists"
                if _article(row).data == data:
                    return _article(row), "unchanged"
                outcome = "updated"
            else:
                row = KbArticleRow(slug=slug, kinds=[])
                s.add(row)
                outcome = "created"
            row.title, row.body, row.category = data.title, data.body, data.category
            row.keywords = "\n".join(data.keywords)
            row.language = data.language
            # Remove and add the difference: replacing the collection would insert a kind
            # before deleting the same (article, kind) key.
            have = {k.kind: k for k in row.kinds}
            for kind in set(have) - set(data.kinds):
                row.kinds.remove(have[kind])
            for kind in sorted(set(data.kinds) - set(have)):
                row.kinds.append(KbArticleKindRow(kind=kind))
            row.updated_at, row.updated_by = datetime.now(UTC), by
            s.flush()
            return _article(row), outcome

    def delete(self, slug: str) -> bool:
        with self._sessions.begin() as s:
            row = s.scalar(select(KbArticleRow).where(KbArticleRow.slug == slug))
            if row is None:
                return False
            s.delete(row)
            return True

    # -- search ----------------------------------------------------------------------------
    def search(
        self,
        terms: Sequence[str],
        *,
        category: str | None = None,
        kind: str | None = None,
        language: str | None = None,
        limit: int = 10,
    ) -> list[tuple[Article, float]]:
        """Articles containing every term, best first, with their score (higher is better;
        comparable within one result only)."""
        if not terms:
            return []
        params: dict[str, Any] = {"limit": limit}
        if self._engine.dialect.name == "postgresql":
            source, where, score = self._pg_match(terms, params)
        else:
            source, where, score = self._sqlite_match(terms, params)
        if category is not None:
            where.append("a.category = :category")
            params["category"] = category
        if language is not None:
            where.append("a.language = :language")
            params["language"] = language
        if kind is not None:
            where.append(
                "EXISTS (SELECT 1 FROM kb_article_kinds k WHERE k.article_id = a.id "
                "AND k.kind = :kind)"
            )
            params["kind"] = kind
        sql = (
            f"SELECT a.id, {score} AS score FROM {source} WHERE {' AND '.join(where)} "
            "ORDER BY score DESC, a.updated_at DESC, a.id LIMIT :limit"
        )
        with self._sessions() as s:
            ranked = [(int(r[0]), float(r[1])) for r in s.execute(text(sql), params)]
            return self._load(s, ranked)

    @staticmethod
    def _sqlite_match(terms: Sequence[str], params: dict[str, Any]) -> tuple[str, list[str], str]:
        long = [t for t in terms if len(t) >= TRIGRAM]
        where: list[str] = []
        scores: list[str] = []
        if long:
            source = "kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid"
            where.append("kb_fts MATCH :match")  # phrases side by side: all must occur
            params["match"] = " ".join(_phrase(t) for t in long)
            # bm25 is negative, lower is better; b / (1 + b) of its negation lies in [0, 1).
            bm25 = "bm25(kb_fts, {}, {}, {})".format(*WEIGHTS)
            scores.append(f"(-{bm25}) / (1.0 - {bm25})")
        else:
            source = "kb_articles a"
        for i, term in enumerate(terms):
            params[f"s{i}"] = _like(term)
            hits = [f"(a.{c} LIKE :s{i} ESCAPE '\\')" for c in _COLUMNS]
            if len(term) < TRIGRAM:  # too short for a trigram: LIKE finds it
                where.append("(" + " OR ".join(hits) + ")")
            scores += [f"{w} * {h}" for w, h in zip(WEIGHTS, hits, strict=True)]
        return source, where, " + ".join(scores)

    @staticmethod
    def _pg_match(terms: Sequence[str], params: dict[str, Any]) -> tuple[str, list[str], str]:
        where: list[str] = []
        scores: list[str] = []
        words: list[str] = []
        for i, term in enumerate(terms):
            params[f"p{i}"] = _like(term)  # backslash is ILIKE's default escape
            match = f"{_PG_DOC} ILIKE :p{i}"
            if _ASCII_WORD.fullmatch(term):
                # Only [A-Za-z0-9] reaches to_tsquery, so no input can be read as its syntax.
                params[f"w{i}"] = f"{term.lower()}:*"
                match = f"({match} OR a.search @@ to_tsquery('simple', :w{i}))"
                words.append(f"{term.lower()}:*")
            where.append(match)
            scores += [
                f"{w} * (a.{c} ILIKE :p{i})::int" for w, c in zip(WEIGHTS, _COLUMNS, strict=True)
            ]
        if words:
            # ts_rank's weights are {D, C, B, A}: body C, keywords B, title A, as above
            params["words"] = " | ".join(words)
            # (each at most 1, so scaled to the title's).
            scaled = ", ".join(str(w / WEIGHTS[0]) for w in reversed(WEIGHTS))
            params["weights"] = "{0, " + scaled + "}"
            # Normalisation 32 (rank / (rank + 1)) keeps it in [0, 1), below one field hit.
            scores.append(
                "ts_rank(CAST(:weights AS float4[]), a.search, to_tsquery('simple', :words), 32)"
            )
        return "kb_articles a", where, " + ".join(scores)

    @staticmethod
    def _load(s: Session, ranked: list[tuple[int, float]]) -> list[tuple[Article, float]]:
        if not ranked:
            return []
        rows = s.scalars(
            select(KbArticleRow).where(KbArticleRow.id.in_([i for i, _ in ranked]))
        ).all()
        by_id = {r.id: r for r in rows}
        return [(_article(by_id[i]), score) for i, score in ranked if i in by_id]

    def suggest(
        self,
        kind: str | None,
        category: str | None,
        limit: int,
        language: str | None = None,
    ) -> list[Article]:
        """Articles for a call's request kind and category: both matching first, then the
        category alone, then the kind alone; the caller's language first within each."""
        if kind is None and category is None:
            return []
        matches: list[ColumnElement[bool]] = []
        score: ColumnElement[int] = literal(0)
        if category is not None:
            same = KbArticleRow.category == category
            matches.append(same)
            score = score + case((same, 4), else_=0)
        if kind is not None:
            helps = exists().where(
                KbArticleKindRow.article_id == KbArticleRow.id, KbArticleKindRow.kind == kind
            )
            matches.append(helps)
            score = score + case((helps, 2), else_=0)
        if language is not None:
            score = score + case((KbArticleRow.language == language, 1), else_=0)
        stmt = (
            select(KbArticleRow)
            .where(or_(*matches))
            .order_by(score.desc(), KbArticleRow.updated_at.desc(), KbArticleRow.id)
            .limit(limit)
        )
        with self._sessions() as s:
            return [_article(r) for r in s.scalars(stmt)]
