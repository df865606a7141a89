"""Ticket drafts from transcripts (drafting/): hand-made transcripts as the recogniser
writes them (lower case, no punctuation, Mandarin words separated by spaces), with word
timestamps; the shipped taxonomy from config/hotline.yaml."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from asr.types import LegTranscript, Speaker, Transcript, Turn, Word
from drafting import Draft, DraftTaxonomy, extract
from hotline.app.settings import ConfigError, load_settings, parse_settings
from hotline.tickets.lifecycle import KINDS

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 15, 30)  # a Wednesday


@pytest.fixture(scope="module")
def taxonomy() -> DraftTaxonomy:
    return load_settings(ROOT / "config" / "hotline.yaml").draft


def turn(speaker: Speaker, text: str, start: float = 0.0, conf: float = 1.0) -> Turn:
    """Words 0.4 s apart; "|" is a 1.2 s pause (a sentence break for the extractor)."""
    words: list[Word] = []
    t = start
    for token in text.split():
        if token == "|":
            t += 1.2
            continue
        words.append(Word(token, round(t, 2), round(t + 0.3, 2), conf))
        t += 0.4
    return Turn(speaker, words[0].start, words[-1].end, tuple(words))


def transcript(*turns: Turn, language: str = "en") -> Transcript:
    return Transcript(turns=turns, legs=(), language=language)


def draft(
    taxonomy: DraftTaxonomy,
    *turns: Turn,
    language: str = "en",
    ivr_kind: str | None = None,
    ivr_category: str | None = None,
) -> Draft:
    return extract(
        transcript(*turns, language=language),
        taxonomy=taxonomy,
        ivr_kind=ivr_kind,
        ivr_category=ivr_category,
        now=NOW,
    )


def test_the_issue_sentence_as_vosk_writes_it(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy, turn("caller", "the street light on heping road has been broken for a week")
    )
    assert d.category.value == "street_lighting"
    assert d.category.confidence >= 0.6
    assert [(e.phrase, e.speaker) for e in d.category.evidence] == [("street light", "caller")]
    assert [p.value for p in d.places] == ["Heping Road"]
    place = d.places[0]
    assert (place.known, place.zh, place.kind, place.source) == (True, "和平路", "road", "system")
    assert [e.text for e in place.evidence] == ["heping road"]
    (when,) = d.dates
    assert when.phrase == "for a week"
    assert (when.kind, when.days, when.start, when.end) == (
        "duration",
        7,
        date(2026, 11, 18),
        date(2026, 11, 25),
    )
    # No kind phrase: the category's default kind, marked as inferred (less sure, a note).
    assert (d.kind.value, d.kind.evidence) == ("help_request", ())
    assert d.kind.confidence < 0.5
    assert "inferred from the category street_lighting" in d.kind.note
    assert d.summary.text == "The street light on Heping Road has been broken for a week."
    assert d.ticket_fields() == {
        "kind": "help_request",
        "category": "street_lighting",
        "location": "Heping Road",
        "callback_number": None,  # no number said
        "description": "The street light on Heping Road has been broken for a week.",
    }


def test_mandarin_transcript_with_spaces_between_words(taxonomy: DraftTaxonomy) -> None:
    d = draft(taxonomy, turn("caller", "和平路 的 路灯 坏 了 一个 星期 了"), language="zh")
    assert d.category.value == "street_lighting"
    assert "路灯" in [e.phrase for e in d.category.evidence]
    assert [p.value for p in d.places] == ["和平路"]
    assert d.places[0].en == "Heping Road"
    assert [(x.phrase, x.days) for x in d.dates] == [("一个星期", 7)]
    assert d.summary.text == "和平路的路灯坏了一个星期了。"
    assert d.ticket_fields()["location"] == "和平路"


def test_recogniser_may_split_a_chinese_word(taxonomy: DraftTaxonomy) -> None:
    d = draft(taxonomy, turn("caller", "经十 路 那边 路 灯 不 亮"), language="zh")
    assert d.category.value == "street_lighting"
    assert [p.value for p in d.places] == ["经十路"]


def test_agent_reply_confirms_but_does_not_override(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn("agent", "twelve three four five hotline how can i help you"),
        turn("caller", "the street light outside my building on heping road is out", 4.0),
        turn(
            "agent",
            "i see is it noise or the light any noise there noise from construction",
            9.0,
        ),
        turn("caller", "no just the street light", 15.0),
    )
    assert d.category.value == "street_lighting"
    assert "noise" not in d.category.scores  # the agent alone counts for nothing
    # The agent's "how can i help you" is not the caller's kind: only the category's default.
    assert (d.kind.value, d.kind.scores) == ("help_request", {})
    assert "inferred" in d.kind.note
    assert all(e.speaker == "caller" for e in d.category.evidence)

    confirmed = draft(
        taxonomy,
        turn("caller", "the street light on heping road is out"),
        turn("agent", "ok a street light on heping road", 4.0),
    )
    alone = draft(taxonomy, turn("caller", "the street light on heping road is out"))
    assert confirmed.category.confidence > alone.category.confidence
    assert confirmed.places[0].confidence > alone.places[0].confidence
    assert {e.speaker for e in confirmed.places[0].evidence} == {"caller", "agent"}


def test_ivr_prior_tips_a_tie_and_loses_to_the_caller(taxonomy: DraftTaxonomy) -> None:
    said = turn("caller", "i want to complain and also report the shop")
    tie = draft(taxonomy, said)
    assert tie.kind.value is None
    assert tie.kind.note == "tie between complaint and report"
    assert {e.phrase for e in tie.kind.evidence} == {"complain", "report"}

    tipped = draft(taxonomy, said, ivr_kind="report")
    assert tipped.kind.value == "report"
    assert tipped.kind.prior == "report"
    assert tipped.kind.scores["report"] > tipped.kind.scores["complaint"]

    # Key 3 is "complaint or report": one explicit phrase outweighs it.
    caller_says = draft(
        taxonomy, turn("caller", "i want to report a factory"), ivr_kind="complaint"
    )
    assert caller_says.kind.value == "report"

    only_ivr = draft(taxonomy, turn("caller", "the street light is out"), ivr_kind="help_request")
    assert only_ivr.kind.value == "help_request"
    assert only_ivr.kind.note == "from the IVR choice only"
    assert only_ivr.kind.evidence == ()
    assert 0 < only_ivr.kind.confidence < 0.7

    # The IVR's other ids (operator, ticket_status) are not request kinds: no prior.
    operator = draft(taxonomy, turn("caller", "the street light is out"), ivr_kind="operator")
    assert operator.kind.prior is None
    assert "inferred" in operator.kind.note
    assert "not a request kind" in operator.kind.note


def test_spoken_phone_numbers(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        # Said in groups with pauses: one number across the caller's sentences.
        turn(
            "caller", "my number is one three nine | five three one | double eight | seven six five"
        ),
        turn("agent", "one three nine five three one eight eight seven six five right", 10.0),
        turn(
            "caller",
            "yes and the office is zero five three one | eight six one two three four five six",
            16.0,
        ),
    )
    phones = {p.value: p for p in d.phones}
    assert set(phones) == {"13953188765", "053186123456"}
    mobile, office = phones["13953188765"], phones["053186123456"]
    assert (mobile.kind, office.kind) == ("mobile", "landline")
    # Read back by the agent: both mentions kept, more confidence than the landline said once.
    assert [e.speaker for e in mobile.evidence] == ["caller", "agent"]
    assert mobile.evidence[0].text == "one three nine five three one double eight seven six five"
    assert mobile.confidence > 0.9 > office.confidence > 0.8
    assert mobile.source == "system"

    zh = draft(
        taxonomy, turn("caller", "我 的 电话 是 幺 三 九 五 三 一 八 八 七 六 五"), language="zh"
    )
    assert [p.value for p in zh.phones] == ["13953188765"]

    # Too few digits, or a number that is no phone (a year, a house number): nothing.
    none = draft(
        taxonomy, turn("caller", "since twenty twenty five at number twelve one two three")
    )
    assert none.phones == ()


def test_urgency_levels_and_negation(taxonomy: DraftTaxonomy) -> None:
    high = draft(
        taxonomy, turn("caller", "there is a gas leak and a fire in the kitchen its dangerous")
    )
    assert high.urgency.level == "high"
    assert {e.phrase for e in high.urgency.evidence} >= {"gas leak", "fire", "dangerous"}
    assert high.urgency.confidence >= 0.75  # two high phrases ("dangerous" is medium)

    medium = draft(
        taxonomy, turn("caller", "please fix it as soon as possible my mother is elderly")
    )
    assert medium.urgency.level == "medium"
    assert {e.phrase for e in medium.urgency.evidence} == {"as soon as possible", "elderly"}

    calm = draft(taxonomy, turn("caller", "its not urgent the street light is out"))
    assert calm.urgency.level == "none"
    assert [e.phrase for e in calm.urgency.negated] == ["urgent"]

    zh = draft(taxonomy, turn("caller", "不 紧急 但是 楼道 里 有 煤气味"), language="zh")
    assert zh.urgency.level == "high"
    assert [e.phrase for e in zh.urgency.evidence] == ["煤气味"]
    assert [e.phrase for e in zh.urgency.negated] == ["紧急"]

    # The agent's script ("if this is an emergency call one one nine") is not the caller's.
    agent = draft(
        taxonomy,
        turn("agent", "if this is an emergency or a fire hang up and call one one nine"),
        turn("caller", "no its about my pension", 6.0),
    )
    assert agent.urgency.level == "none"


def test_summary_picks_the_callers_key_sentences(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn("agent", "twelve three four five hotline how can i help you"),
        turn(
            "caller",
            "hello | yes good afternoon | i am calling about the noise from the building site"
            " on lishan road | they work with loud machines every night after eleven p m"
            " | i have two children | my name is wang | thank you",
            4.0,
        ),
    )
    assert [s.text for s in d.summary.sentences] == [
        "I am calling about the noise from the building site on Lishan Road",
        "They work with loud machines every night after eleven p m",
    ]
    assert d.summary.text == (
        "I am calling about the noise from the building site on Lishan Road. "
        "They work with loud machines every night after eleven p m."
    )
    first = d.summary.sentences[0]
    assert "noise: noise" in first.reasons and "place: Lishan Road" in first.reasons
    assert d.category.value == "noise"
    times = {x.phrase: x for x in d.dates}
    assert times["every night"].kind == "recurring"
    assert times["after eleven p m"].time == "23:00"
    # The greeting and the courtesies are not key sentences; neither is the agent.
    assert d.summary.sentences[0].start > 4.0
    assert d.ticket_fields()["description"] == d.summary.text

    two = draft(
        taxonomy,
        turn(
            "caller",
            "the street light on heping road is out | and there is a pothole on jingshi road"
            " | the rubbish bins on jiefang road are full | also i want to suggest more buses"
            " | ok bye",
        ),
    )
    assert len(two.summary.sentences) == 2  # summary_sentences: one or two, as a clerk writes
    starts = [s.start for s in two.summary.sentences]
    assert starts == sorted(starts)  # in the order they were said


def test_no_match_invents_nothing(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn("caller", "hello | yes i am calling about my neighbour | he is always like that"),
    )
    assert (d.kind.value, d.kind.confidence) == (None, 0.0)
    assert (d.category.value, d.category.confidence) == (None, 0.0)
    assert d.category.evidence == () and d.category.scores == {}
    assert d.places == () and d.phones == () and d.dates == ()
    assert d.urgency.level == "none"
    assert d.location is None
    # The summary only repeats the caller's first real sentence, flagged as a weak guess.
    assert d.summary.text == "Yes i am calling about my neighbour."
    assert d.summary.confidence <= 0.2

    silent = extract(transcript(language="en"), taxonomy=taxonomy, now=NOW)
    assert silent.summary.text == "" and silent.ticket_fields() == {
        "kind": None,
        "category": None,
        "location": None,
        "callback_number": None,
        "description": None,
    }


def test_places_patterns_numbers_and_districts(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn("caller", "the water pipe burst at twenty three maple street in lixia district"),
    )
    labels = {p.label: p for p in d.places}
    assert set(labels) == {"23 Maple Street", "Lixia District"}
    maple = labels["23 Maple Street"]
    assert (maple.known, maple.number, maple.kind) == (False, "23", "road")
    assert maple.confidence < labels["Lixia District"].confidence  # gazetteer beats a pattern
    assert d.location == "23 Maple Street, Lixia District"
    assert d.category.value == "water_supply"

    # "the street", "this road": no name, no place.
    assert draft(taxonomy, turn("caller", "this road and the street are dirty")).places == ()

    zh = draft(
        taxonomy, turn("caller", "我 住 在 历下区 解放路 十二 号 马路 上 全是 垃圾"), language="zh"
    )
    assert [p.label for p in zh.places] == ["解放路12号", "历下区"]
    assert zh.location == "历下区解放路12号"
    assert zh.category.value == "sanitation"

    unknown = draft(taxonomy, turn("caller", "我 知道 阳光 小区 门口 的 井盖 丢 了"), language="zh")
    assert [(p.value, p.known, p.kind) for p in unknown.places] == [
        ("阳光小区", False, "community")
    ]


def test_dates_resolved_against_now(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn(
            "caller",
            "it started since monday | and yesterday it was worse | three days ago the water"
            " was brown | last week too",
        ),
    )
    got = {x.phrase: x for x in d.dates}
    assert got["since monday"].kind == "since"
    assert (got["since monday"].start, got["since monday"].end) == (date(2026, 11, 23), NOW.date())
    assert got["yesterday"].start == date(2026, 11, 24)
    assert got["three days ago"].start == date(2026, 11, 22)
    assert (got["last week"].start, got["last week"].end) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )

    zh = draft(
        taxonomy,
        turn("caller", "昨天 晚上 十 点 停电 了 从 上 周 三 开始 已经 好几 天 了"),
        language="zh",
    )
    got = {x.phrase: x for x in zh.dates}
    assert got["昨天"].start == date(2026, 11, 24)
    assert got["晚上十点"].time == "22:00"
    assert got["从上周三开始"].start == date(2026, 11, 18)
    assert (got["好几天"].kind, got["好几天"].approximate) == ("duration", True)
    # A number after 点 is minutes only when no other measure follows: 十点三月 is 22:00 in
    # March, not 22:03 (it was); 十点十五 is 22:15.
    later = draft(
        taxonomy, turn("caller", "晚上 十 点 三月 份 开始 的 晚上 十 点 十五 又 响"), language="zh"
    )
    assert [x.time for x in later.dates if x.time] == ["22:00", "22:15"]

    # Without the time of the call the phrases are kept, not resolved.
    unresolved = extract(
        transcript(turn("caller", "the light has been out since yesterday")), taxonomy=taxonomy
    )
    (when,) = unresolved.dates
    assert (when.phrase, when.kind, when.start) == ("since yesterday", "since", None)


def test_draft_is_json_ready_and_marked_system(taxonomy: DraftTaxonomy) -> None:
    d = draft(
        taxonomy,
        turn(
            "caller",
            "the street light on heping road has been out since yesterday call me on"
            " one three nine one two three four five six seven eight",
        ),
        ivr_kind="help_request",
    )
    out = d.as_dict()
    json.dumps(out)  # no dates or tuples left
    assert out["source"] == "system"
    for name in ("kind", "category", "urgency", "summary"):
        assert out[name]["source"] == "system"
    for name in ("places", "phones", "dates"):
        assert out[name] and all(item["source"] == "system" for item in out[name])
    assert out["dates"][0]["start"] == "2026-11-24"
    assert out["ticket_fields"] == {
        "kind": "help_request",
        "category": "street_lighting",
        "location": "Heping Road",
        "callback_number": "13912345678",  # the number the caller gave
        "description": d.summary.text,
    }


def test_turns_not_merged_yet_still_read_the_caller_leg(taxonomy: DraftTaxonomy) -> None:
    words = turn("caller", "the street light on heping road is out").words
    leg = LegTranscript("caller", words, 5.0, "en", "vosk-model-small-en-us")
    d = extract(Transcript((), (leg,), "en"), taxonomy=taxonomy, now=NOW)
    assert d.category.value == "street_lighting"


def test_low_asr_confidence_lowers_field_confidence(taxonomy: DraftTaxonomy) -> None:
    sure = draft(taxonomy, turn("caller", "the street light on heping road is out"))
    unsure = draft(taxonomy, turn("caller", "the street light on heping road is out", conf=0.3))
    assert unsure.places[0].confidence < sure.places[0].confidence


# --- configuration --------------------------------------------------------------------------


def test_shipped_taxonomy_covers_every_category_and_kind(taxonomy: DraftTaxonomy) -> None:
    settings = load_settings(ROOT / "config" / "hotline.yaml")
    categories = {c.id for c in settings.tickets.categories}
    # Every category but "other" has phrases in both languages; every request kind too.
    assert set(taxonomy.categories) == categories - {"other"}
    assert set(taxonomy.kinds) == set(KINDS)
    for phrases in (*taxonomy.categories.values(), *taxonomy.kinds.values()):
        assert phrases.en and phrases.zh
    assert any(p.name == "Heping Road" and p.zh == "和平路" for p in taxonomy.places)


def _config(draft_yaml: str) -> dict[str, object]:
    import yaml

    tickets = yaml.safe_load(
        "tickets:\n  departments:\n    - {id: city, level: city, zh: 市, en: City}\n"
        "  categories:\n"
        "    - {id: street_lighting, zh: 路灯, en: Lights, department: city, deadline_days: 5}\n"
    )
    return {**tickets, **yaml.safe_load(draft_yaml)}


def test_config_cross_check_names_the_field() -> None:
    ok = parse_settings(
        _config("draft:\n  categories:\n    street_lighting: {en: [street light]}\n")
    )
    assert set(ok.draft.categories) == {"street_lighting"}

    with pytest.raises(ConfigError) as err:
        parse_settings(_config("draft:\n  categories:\n    street_lights: {en: [street light]}\n"))
    assert (
        "draft.categories.street_lights: unknown category (not an id of tickets.categories)"
        in str(err.value)
    )
    with pytest.raises(ConfigError) as err:
        parse_settings(_config("draft:\n  kinds:\n    complain: {en: [complain]}\n"))
    assert "draft.kinds.complain: unknown request kind" in str(err.value)


def test_taxonomy_validation() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("phrase 'light' is also listed under categories.a")
    ):
        DraftTaxonomy.model_validate(
            {"categories": {"a": {"en": ["light"]}, "b": {"en": ["light"]}}}
        )
    with pytest.raises(ValidationError, match="has no Chinese characters"):
        DraftTaxonomy.model_validate({"categories": {"a": {"zh": ["light"]}}})
    with pytest.raises(ValidationError, match=re.escape("'heping road' also names places[0]")):
        DraftTaxonomy.model_validate(
            {"places": [{"name": "Heping Road"}, {"name": "Other", "aliases": ["heping road"]}]}
        )
