"""The knowledge base: full-text search in Chinese and English with the same ranking on SQLite
(FTS5 trigram) and PostgreSQL (tsvector + pg_trgm), filters, suggestions for a call, the index
following edits, hostile query text; the API's roles and 422s; the idempotent import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, event, text

from hotline.app.service import Service
from hotline.app.settings import ConfigError, Settings
from hotline.core.auth import hash_password
from hotline.core.errors import Conflict, Invalid, NotFound
from hotline.kb.importer import import_articles, load_kb_file, seed_if_empty
from hotline.kb.service import MAX_TERMS, KnowledgeBase, SearchHit, highlight, parse_query
from hotline.kb.store import Article, ArticleData, KbStore
from testkit.support import NewDbUrl, shipped_config_with, supervisor_session
from tests.integration.test_config import ROOT, run_cli

SEED = ROOT / "config" / "kb.yaml"


def article(
    title: str,
    body: str,
    *,
    category: str | None = "other",
    kinds: tuple[str, ...] = ("consultation",),
    keywords: tuple[str, ...] = (),
    language: str = "en",
) -> ArticleData:
    return ArticleData(title, body, category, kinds, keywords, language)


@pytest.fixture
def kb(engine: Engine) -> KnowledgeBase:
    return KnowledgeBase(KbStore(engine))


@pytest.fixture
def seeded(kb: KnowledgeBase) -> KnowledgeBase:
    import_articles(kb, load_kb_file(SEED, kb))
    return kb


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.article.id for h in hits]


def ids_of(articles: list[Article]) -> list[str]:
    return [a.id for a in articles]


# -- search on both databases ------------------------------------------------------------------
def test_chinese_and_english_queries_find_the_right_articles(seeded: KnowledgeBase) -> None:
    # Two characters: below the trigram length, found by the LIKE path on SQLite.
    hits = seeded.search("路灯")
    assert ids(hits)[0] == "street-light-fault-zh"
    assert "<mark>路灯</mark>" in hits[0].title_html and "<mark>路灯</mark>" in hits[0].snippet_html
    # Three or more: the trigram index. 社保卡 is a keyword of the Chinese article only.
    assert ids(seeded.search("社保卡")) == ["social-security-card-replacement-zh"]
    assert ids(seeded.search("停水"))[0] == "water-outage-zh"
    en = seeded.search("street light")
    assert ids(en)[0] == "street-light-fault-en"
    assert en[0].title_html == "Reporting a broken <mark>street</mark> <mark>light</mark>"
    # Case does not matter; every term must occur (AND), also inside a word.
    assert ids(seeded.search("LOST Passport"))[0] == "passport-lost-abroad-en"
    assert ids(seeded.search("embassy 12308")) == ["passport-lost-abroad-en"]
    assert seeded.search("路灯 passport") == []


def test_a_title_hit_ranks_above_a_keyword_hit_above_a_body_hit(kb: KnowledgeBase) -> None:
    # The body article repeats the words often; the field still decides the order.
    for term in ("井盖", "井盖丢失", "manhole"):
        kb.put("body", article("Roads", f"{term} " * 8 + "and more about roads"), "t")
        kb.put("keyword", article("Road repairs", "Potholes.", keywords=(term,)), "t")
        kb.put("title", article(f"{term} cover", "Missing covers are dangerous."), "t")
        hits = kb.search(term)
        assert ids(hits) == ["title", "keyword", "body"], term
        assert hits[0].score > hits[1].score > hits[2].score


def test_filters_by_category_kind_and_language(seeded: KnowledgeBase) -> None:
    assert set(ids(seeded.search("噪声", category="noise"))) == {"noise-complaint-hours-zh"}
    assert seeded.search("噪声", category="water_supply") == []
    found = set(ids(seeded.search("passport", kind="help_request")))
    assert found == {"passport-lost-abroad-en"}
    assert "social-security-card-replacement-en" in ids(seeded.search("passport"))
    assert ids(seeded.search("12308", language="zh")) == ["passport-lost-abroad-zh"]
    assert len(seeded.search("the", limit=3)) == 3


def test_suggestions_for_a_call(seeded: KnowledgeBase) -> None:
    # Category and kind both match first, then the category alone, then the kind alone.
    got = seeded.suggest("report", "street_lighting", limit=30)
    assert set(ids_of(got[:2])) == {"street-light-fault-zh", "street-light-fault-en"}
    assert all("report" in a.kinds for a in got)
    # The caller's language first among equals.
    assert ids_of(seeded.suggest("report", "street_lighting", 2, language="en"))[0] == (
        "street-light-fault-en"
    )
    water = seeded.suggest("complaint", "water_supply", limit=30)
    assert {a.category for a in water[:2]} == {"water_supply"}
    assert all(a.category == "water_supply" or "complaint" in a.kinds for a in water)
    assert water[2].category != "water_supply"  # then complaints of other categories
    assert ids_of(seeded.suggest(None, "gas_supply")) == ["gas-leak-zh"]
    assert seeded.suggest(None, None) == []
    assert len(seeded.suggest("consultation", None, limit=3)) == 3
    with pytest.raises(Invalid) as bad:
        seeded.suggest("gossip", None)
    assert bad.value.code == "kb.bad_kind"


def test_edits_and_deletions_reach_the_index(kb: KnowledgeBase, engine: Engine) -> None:
    kb.put("heating", article("集中供暖不热", "室温低于十八度可以投诉。", language="zh"), "sup1")
    assert ids(kb.search("供暖")) == ["heating"]
    assert ids(kb.search("室温低于")) == ["heating"]
    first = kb.get("heating")
    again, outcome = kb.put("heating", first.data, "someone-else")
    assert outcome == "unchanged" and again.updated_by == "sup1"
    changed, outcome = kb.put(
        "heating", article("Heating too cold", "Below 18 degrees indoors.", keywords=("暖气",)), "x"
    )
    assert outcome == "updated" and changed.updated_by == "x"
    assert changed.updated_at > first.updated_at
    assert kb.search("供暖") == [] and kb.search("室温低于") == []
    assert ids(kb.search("暖气")) == ids(kb.search("degrees")) == ["heating"]
    # Kinds are replaced, not added to.
    kb.put("heating", article("Heating", "Cold flats.", kinds=("complaint", "report")), "x")
    assert kb.get("heating").kinds == ("complaint", "report")
    assert ids(kb.search("flats", kind="complaint")) == ["heating"]
    assert kb.search("flats", kind="consultation") == []
    kb.delete("heating")
    assert kb.search("flats") == [] and kb.search("Heating") == []
    with pytest.raises(NotFound):
        kb.get("heating")
    with pytest.raises(NotFound):
        kb.delete("heating")
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:  # the triggers kept the FTS index equal to the table
            conn.execute(text("INSERT INTO kb_fts(kb_fts) VALUES ('integrity-check')"))


HOSTILE = [
    '"',
    '""',
    '"unbalanced',
    "*",
    "路灯*",
    "NEAR(",
    "NEAR(a b)",
    "((()",
    "a) OR (b",
    "title:路灯",
    "^start",
    "{title body}: x",
    "AND",
    "a OR b NOT c",
    "%",
    "_",
    "\\",
    "a & b | !c",
    "'; DROP TABLE kb_articles;--",
    "foo:* <-> bar",
    "x" * 200,
    "“路灯”",
    "（路灯）",
    "- +",
]


def test_hostile_queries_are_literal_or_refused(seeded: KnowledgeBase) -> None:
    total = seeded.count()
    for query in HOSTILE:
        try:
            hits = seeded.search(query)
        except Invalid as exc:
            assert exc.code == "kb.bad_query", query
            continue
        assert isinstance(hits, list), query
    assert seeded.count() == total
    # Operators are no operators: wildcards and LIKE's % and _ match only themselves.
    assert seeded.search("%") == [] and seeded.search("_") == [] and seeded.search("\\") == []
    assert ids(seeded.search("路灯*"))[0] == "street-light-fault-zh"
    assert ids(seeded.search("“路灯”"))[0] == "street-light-fault-zh"
    assert ids(seeded.search('"lost passport"'))[0] == "passport-lost-abroad-en"


def test_query_parsing() -> None:
    assert parse_query('  "water  outage" 路灯，不亮 NEAR(x) ') == [
        "water outage",
        "路灯",
        "不亮",
        "NEAR",
        "x",
    ]
    assert parse_query("Light light LIGHT") == ["Light"]
    too_many = " ".join(f"w{i}" for i in range(MAX_TERMS + 1))
    for bad in ("", "   ", '"', "* ( ) :", "x" * 201, too_many):
        with pytest.raises(Invalid) as exc:
            parse_query(bad)
        assert exc.value.code == "kb.bad_query"


def test_highlights_escape_html() -> None:
    out = highlight("<b>Street</b> lights & lamps", ["street", "lamp"])
    assert out == "&lt;b&gt;<mark>Street</mark>&lt;/b&gt; lights &amp; <mark>lamp</mark>s"
    long = "前言。" * 60 + "路灯不亮" + "。后记" * 60
    snippet = highlight(long, ["路灯"], width=40)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>路灯</mark>" in snippet


def test_editing_rules(kb: KnowledgeBase, engine: Engine) -> None:
    a = kb.create(article("One", "Body."), "sup1")
    assert a.id.startswith("kb-") and a.updated_by == "sup1"
    with pytest.raises(Conflict):
        kb.create(article("Two", "Body."), "sup1", a.id)
    checked = KnowledgeBase(KbStore(engine), categories={"noise", "water_supply"})
    with pytest.raises(Invalid) as bad:
        checked.put("x", article("T", "B", category="street_lights"), "sup1")
    assert bad.value.code == "kb.bad_category"
    checked.put("x", article("T", "B", category="noise"), "sup1")
    for wrong, code in (
        (article("T", "B", kinds=("gossip",)), "kb.bad_kind"),
        (article("T", "B", language="fr"), "kb.bad_language"),
        (article(" ", "B"), "kb.bad_article"),
    ):
        with pytest.raises(Invalid) as exc:
            kb.put("y", wrong, "sup1")
        assert exc.value.code == code
    with pytest.raises(Invalid) as exc:
        kb.put("Bad Id!", article("T", "B"), "sup1")
    assert exc.value.code == "kb.bad_id"


def test_seed_loads_only_an_empty_knowledge_base(kb: KnowledgeBase) -> None:
    first = seed_if_empty(kb, SEED)
    assert first is not None and first.created == kb.count() > 15
    kb.delete("gas-leak-zh")
    assert seed_if_empty(kb, SEED) is None  # a deletion survives a restart
    with pytest.raises(NotFound):
        kb.get("gas-leak-zh")


def test_bad_files_are_named_and_nothing_is_imported(kb: KnowledgeBase, tmp_path: Path) -> None:
    bad = tmp_path / "kb.yaml"
    bad.write_text(
        "articles:\n"
        "  - {id: ok-1, title: T, body: B, language: en}\n"
        "  - {id: bad-2, title: T, body: B, language: fr}\n"
        "  - {id: bad-3, title: T, body: B, language: zh, kinds: [gossip]}\n"
        "  - {id: ok-1, title: T, body: B, language: en}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_kb_file(bad, kb)
    text_ = str(exc.value)
    assert "article 2 (bad-2): language" in text_ and "article 3 (bad-3): kinds.0" in text_
    assert "article id 'ok-1' appears twice" in text_
    assert kb.count() == 0


# -- the API ------------------------------------------------------------------------------------
AGENT_PW = "kb-agent-pw-1"


@pytest.fixture(scope="module")
async def api(
    service: Service, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], dict[str, str]]]:
    """An HTTP client, a supervisor's and an agent's Authorization headers."""
    await asyncio.to_thread(
        lambda: service.agents.upsert(
            "kbagent",
            name="KB Agent",
            extension=None,
            roles=["agent"],
            skills={"zh": 3},
            password_hash=hash_password(AGENT_PW),
        )
    )
    async with supervisor_session(service, settings, "kbsup", "kb-supervisor-pw") as (http, sup):
        tok = await http.post("/api/auth/token", json={"agent_id": "kbagent", "password": AGENT_PW})
        assert tok.status_code == 200, tok.text
        yield http, sup, {"Authorization": f"Bearer {tok.json()['token']}"}


NEW = {
    "id": "api-heating-zh",
    "title": "冬季供暖温度不达标",
    "body": "室温低于18℃可投诉，记录小区和楼号。<b>not html</b>",
    "category": "housing",
    "kinds": ["complaint", "report"],
    "keywords": ["暖气", "供暖"],
    "language": "zh",
}


async def test_api_agents_search_supervisors_edit(
    api: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, sup, agent = api
    made = await http.post("/api/kb", json=NEW, headers=sup)
    assert made.status_code == 201, made.text
    assert made.json()["updated_by"] == "kbsup" and made.json()["kinds"] == ["complaint", "report"]
    assert (await http.post("/api/kb", json=NEW, headers=sup)).json()["error"] == "kb.exists"

    found = await http.get("/api/kb/search", params={"q": "供暖"}, headers=agent)
    assert found.status_code == 200
    hit = found.json()[0]
    assert hit["id"] == "api-heating-zh" and hit["title_html"] == "冬季<mark>供暖</mark>温度不达标"
    assert "&lt;b&gt;not html&lt;/b&gt;" in hit["snippet"]
    got = await http.get("/api/kb/api-heating-zh", headers=agent)
    assert got.status_code == 200 and got.json()["body"] == NEW["body"]
    sug = await http.get(
        "/api/kb/suggest", params={"kind": "complaint", "category": "housing"}, headers=agent
    )
    assert sug.status_code == 200 and sug.json()[0]["id"] == "api-heating-zh"

    # An agent reads but never writes; without a token nothing at all.
    assert (await http.post("/api/kb", json={**NEW, "id": "x"}, headers=agent)).status_code == 403
    put = {**NEW, "title": "改"}
    assert (await http.put("/api/kb/api-heating-zh", json=put, headers=agent)).status_code == 403
    assert (await http.delete("/api/kb/api-heating-zh", headers=agent)).status_code == 403
    for path in ("/api/kb/search?q=x", "/api/kb/suggest?kind=report", "/api/kb/api-heating-zh"):
        assert (await http.get(path)).status_code == 401

    changed = await http.put(
        "/api/kb/api-heating-zh", json={**NEW, "keywords": ["暖气片"]}, headers=sup
    )
    assert changed.status_code == 200 and changed.json()["keywords"] == ["暖气片"]
    created = await http.put("/api/kb/api-new-en", json={**NEW, "id": None}, headers=sup)
    assert created.status_code == 201
    assert (await http.delete("/api/kb/api-heating-zh", headers=sup)).status_code == 204
    gone = await http.get("/api/kb/api-heating-zh", headers=agent)
    assert gone.status_code == 404 and gone.json()["error"] == "kb.not_found"
    after = await http.get("/api/kb/search", params={"q": "供暖"}, headers=agent)
    assert [h["id"] for h in after.json()] == ["api-new-en"]


async def test_api_bad_input_is_422_never_500(
    api: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, sup, agent = api
    refused = {
        "": "kb.bad_query",
        "   ": "kb.bad_query",
        '"': "kb.bad_query",
        "*": "kb.bad_query",
        "( ) :": "kb.bad_query",
        " ".join(f"w{i}" for i in range(MAX_TERMS + 1)): "kb.bad_query",
    }
    for q, code in refused.items():
        r = await http.get("/api/kb/search", params={"q": q}, headers=agent)
        assert r.status_code == 422 and r.json()["error"] == code, (q, r.text)
    bad_params: list[dict[str, str | int]] = [
        {},
        {"q": "x" * 201},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 10**6},
        {"q": "x", "limit": "many"},
        {"q": "x", "kind": "gossip"},
        {"q": "x", "category": "NOT A CATEGORY"},
        {"q": "x", "language": "fr"},
    ]
    for params in bad_params:
        r = await http.get("/api/kb/search", params=params, headers=agent)
        assert r.status_code == 422, (params, r.text)
    for q in HOSTILE:
        r = await http.get("/api/kb/search", params={"q": q}, headers=agent)
        assert r.status_code in (200, 422), (q, r.text)
    bad_bodies = [
        {**NEW, "kinds": ["gossip"]},
        {**NEW, "language": "fr"},
        {**NEW, "title": ""},
        {**NEW, "category": "Bad Category"},
        {**NEW, "extra": 1},
        {**NEW, "id": "Bad Id"},
    ]
    for body in bad_bodies:
        assert (await http.post("/api/kb", json=body, headers=sup)).status_code == 422, body
    mismatch = await http.put("/api/kb/one-id", json={**NEW, "id": "other-id"}, headers=sup)
    assert mismatch.status_code == 422 and mismatch.json()["error"] == "kb.id_mismatch"
    bad_id = await http.put("/api/kb/Bad%20Id", json={**NEW, "id": None}, headers=sup)
    assert bad_id.status_code == 422 and bad_id.json()["error"] == "kb.bad_id"
    r = await http.get("/api/kb/suggest", params={"kind": "gossip"}, headers=agent)
    assert r.status_code == 422


# -- the import command -----------------------------------------------------------------------
def test_import_command_is_idempotent(tmp_path: Path, db_url: NewDbUrl) -> None:
    cfg = tmp_path / "hotline.yaml"
    cfg.write_text(shipped_config_with(db_url("kb")), encoding="utf-8")
    n = len(yaml.safe_load(SEED.read_text(encoding="utf-8"))["articles"])
    first = run_cli("-c", str(cfg), "kb", "import", str(SEED))
    assert first.returncode == 0, first.stderr
    assert f"{n} article(s) created, 0 updated, 0 unchanged; {n} in the knowledge base" in (
        first.stdout
    )
    # No FILE: kb.seed_file of the configuration (config/kb.yaml).
    again = run_cli("-c", str(cfg), "kb", "import")
    assert f"0 article(s) created, 0 updated, {n} unchanged; {n} in the knowledge base" in (
        again.stdout
    )
    edited = tmp_path / "kb.yaml"
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    data["articles"][0]["body"] += "\n新增说明。"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    third = run_cli("-c", str(cfg), "kb", "import", str(edited))
    assert f"0 article(s) created, 1 updated, {n - 1} unchanged; {n} in the knowledge base" in (
        third.stdout
    )
    found = run_cli("-c", str(cfg), "kb", "search", "路灯")
    assert found.returncode == 0 and found.stdout.split()[1] == "street-light-fault-zh"
    # The shipped configuration has a ticket taxonomy: an unknown category is refused.
    data["articles"][0]["category"] = "street_lights"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    bad = run_cli("-c", str(cfg), "kb", "import", str(edited))
    assert bad.returncode == 2
    assert "article 1 (social-security-card-replacement-zh): category 'street_lights'" in bad.stderr


def test_the_queries_use_the_full_text_indexes(seeded: KnowledgeBase, engine: Engine) -> None:
    """The search SQL as run, explained: SQLite answers 3+ character terms from the FTS5 table;
    PostgreSQL's planner can serve the substring match from the trigram index (its expression
    must be exactly the one in the migration) and a word from the tsvector index."""
    seen: list[tuple[str, Any]] = []  # SQLite's parameters are a tuple, psycopg's a dict

    def capture(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if " AS score " in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert seeded.search("passport embassy")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, params = seen[-1]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            assert any("kb_fts VIRTUAL TABLE INDEX" in str(row) for row in plan), plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: force the choice
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
            text_plan = "\n".join(str(r[0]) for r in plan)
            assert "ix_kb_articles_trgm" in text_plan and "ix_kb_articles_search" in text_plan
