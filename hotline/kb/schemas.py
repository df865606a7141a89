"""Request and response bodies of the knowledge-base API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


KbKind = Literal["consultation", "help_request", "complaint", "report", "suggestion"]


class KbArticleIn(_In):
    """An article as an editor writes it; ``id`` only on POST (generated when left out)."""

    id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    category: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    kinds: list[KbKind] = []
    keywords: list[str] = Field([], max_length=30)
    language: Literal["zh", "en"] = "zh"


class KbArticleOut(BaseModel):
    id: str
    title: str
    body: str
    category: str | None
    kinds: list[str]
    keywords: list[str]
    language: str
    updated_at: float
    updated_by: str


class KbHitOut(BaseModel):
    id: str
    title: str
    category: str | None
    kinds: list[str]
    language: str
    score: float  # higher is better; comparable within one response only
    title_html: str  # HTML-escaped, the search terms in <mark>
    snippet: str  # the body around the first hit, HTML-escaped, terms in <mark>
