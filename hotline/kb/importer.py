"""Knowledge-base articles from a YAML file (``hotline kb import``, and the seed at start).

The file is ``articles:`` a list of mappings with a stable ``id`` each: importing again updates
the articles with those ids and leaves identical ones untouched, so an import is idempotent.
Every row is checked (also against the ticket taxonomy) before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.core.errors import ConfigError, Invalid
from hotline.kb.service import KnowledgeBase
from hotline.kb.store import ArticleData

log = logging.getLogger(__name__)


class ArticleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    category: str | None = None
    kinds: list[Literal["consultation", "help_request", "complaint", "report", "suggestion"]] = []
    keywords: list[str] = []
    language: Literal["zh", "en"]

    @property
    def data(self) -> ArticleData:
        return ArticleData(
            self.title,
            self.body,
            self.category,
            tuple(self.kinds),
            tuple(self.keywords),
            self.language,
        )


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def load_kb_file(path: Path, kb: KnowledgeBase) -> list[ArticleSpec]:
    """Read and validate; every problem names the article (1-based, with its id) and field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(str(path), [f"cannot read articles: {exc}"]) from None
    rows = data.get("articles") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ConfigError(str(path), ["(top level): must be 'articles:' with a list of articles"])
    specs: list[ArticleSpec] = []
    problems: list[str] = []
    for i, row in enumerate(rows, 1):
        name = f"article {i}" + (f" ({row['id']})" if isinstance(row, dict) and "id" in row else "")
        try:
            spec = ArticleSpec.model_validate(row)
            kb.check(spec.data)
            specs.append(spec)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(row)"
                problems.append(f"{name}: {field}: {err['msg']}")
        except Invalid as exc:
            problems.append(f"{name}: {exc.message}")
    ids = [s.id for s in specs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    problems += [f"article id {d!r} appears twice" for d in twice]
    if problems:
        raise ConfigError(str(path), problems)
    return specs


def import_articles(
    kb: KnowledgeBase, specs: list[ArticleSpec], by: str = "import"
) -> ImportResult:
    """Create or update each article by its id."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for spec in specs:
        _, outcome = kb.put(spec.id, spec.data, by)
        counts[outcome] += 1
    return ImportResult(counts["created"], counts["updated"], counts["unchanged"])


def seed_if_empty(kb: KnowledgeBase, path: Path) -> ImportResult | None:
    """At start: load ``path`` into an empty knowledge base; None if it has articles already."""
    if kb.count():
        return None
    result = import_articles(kb, load_kb_file(path, kb), by="seed")
    log.info("knowledge base seeded from %s: %d article(s)", path, result.created)
    return result
