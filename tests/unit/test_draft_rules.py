"""Ticket-draft rules of issue 20's second round: the kind inferred from the category, ties
between categories, place names cut at punctuation and mid-word, corrections of a place."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from asr.types import Speaker, Transcript, Turn, Word
from drafting import Draft, DraftTaxonomy, extract
from drafting.settings import CategoryPhrases, Phrases
from drafting.text_input import parse_turns
from hotline.app.settings import load_settings
from hotline.tickets.lifecycle import KINDS

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 15, 30)


@pytest.fixture(scope="module")
def taxonomy() -> DraftTaxonomy:
    return load_settings(ROOT / "config" / "hotline.yaml").draft


def turn(speaker: Speaker, text: str, start: float = 0.0) -> Turn:
    """Words 0.4 s apart, as the recogniser writes them (one sentence)."""
    words = tuple(
        Word(w, round(start + 0.4 * i, 2), round(start + 0.4 * i + 0.3, 2), 1.0)
        for i, w in enumerate(text.split())
    )
    return Turn(speaker, words[0].start, words[-1].end, words)


def transcript(*turns: Turn) -> Transcript:
    return Transcript(turns=turns, legs=(), language="en")


def draft(
    taxonomy: DraftTaxonomy, *turns: Turn, language: str = "en", ivr_kind: str | None = None
) -> Draft:
    t = Transcript(turns=turns, legs=(), language=language)
    return extract(t, taxonomy=taxonomy, ivr_kind=ivr_kind, now=NOW)


def written(taxonomy: DraftTaxonomy, text: str) -> Draft:
    """A written Mandarin call (punctuation kept), one 市民： line per turn."""
    return extract(parse_turns(text), taxonomy=taxonomy, now=NOW)


def test_default_kind_of_the_category_when_no_kind_phrase(taxonomy: DraftTaxonomy) -> None:
    # 垃圾好几天没人清: no 投诉 said, yet a clerk files it as the category's usual kind.
    d = draft(taxonomy, turn("caller", "我们 小区 的 垃圾 好几天 没人 清 了"), language="zh")
    assert d.category.value == "sanitation"
    assert d.kind.value == taxonomy.categories["sanitation"].default_kind == "complaint"
    assert d.kind.evidence == ()
    assert d.kind.confidence <= 0.4  # less sure than one phrase (about 0.67)
    assert d.kind.note.startswith("inferred from the category sanitation")

    # A kind phrase still wins over the default; the IVR's kind is still a prior.
    asked = draft(taxonomy, turn("caller", "垃圾 清运 的 事 我 想 咨询 一下"), language="zh")
    assert (asked.kind.value, asked.kind.note) == ("consultation", "")
    ivr = draft(taxonomy, turn("caller", "垃圾 好几天 没人 清"), language="zh", ivr_kind="report")
    assert (ivr.kind.value, ivr.kind.note) == ("report", "from the IVR choice only")

    # No category, no phrase: nothing invented (no draft-wide default configured).
    assert draft(taxonomy, turn("caller", "hello is anyone there")).kind.value is None


def test_default_kind_breaks_a_tie_between_kind_phrases() -> None:
    t = DraftTaxonomy(
        kinds={"complaint": Phrases(en=["complain"]), "report": Phrases(en=["report"])},
        categories={"noise": CategoryPhrases(en=["noise"], default_kind="complaint")},
    )
    d = extract(
        transcript(turn("caller", "i want to complain and report the noise")), taxonomy=t, now=NOW
    )
    assert d.kind.value == "complaint"
    assert d.kind.note == (
        "inferred from the category noise's default kind (tie between complaint and report)"
    )


def test_unknown_default_kind_is_a_config_problem() -> None:
    t = DraftTaxonomy(categories={"noise": CategoryPhrases(default_kind="moan")})
    assert t.problems(["noise"], KINDS) == [
        "draft.categories.noise.default_kind: unknown request kind 'moan'; use " + ", ".join(KINDS)
    ]


def test_category_tie_goes_to_the_problem_said_first(taxonomy: DraftTaxonomy) -> None:
    # Two problems of equal weight: the caller leads with the one they rang about.
    d = draft(
        taxonomy,
        turn("caller", "我 有 两个 事儿 一个 是 纬一路 的 路灯 晚上 黑着"),
        turn("caller", "还有 就是 那边 的 井盖 也 松 了", 6.0),
        language="zh",
    )
    assert d.category.value == "street_lighting"
    assert d.category.note == "tie between road_damage and street_lighting: the first said"
    assert set(d.category.scores) == {"street_lighting", "road_damage"}


def test_punctuation_ends_a_place_name(taxonomy: DraftTaxonomy) -> None:
    # Without the comma stopping it, XX路 took 大坑路 out of 大坑，路面
    # and 块儿路 out of 块儿，路边.
    d = written(taxonomy, "市民：解放路上有个大坑，路面都塌了。\n市民：就在那块儿，路边上。")
    assert [p.value for p in d.places] == ["解放路"]
    # A comma after a real name does not cut it.
    d = written(taxonomy, "市民：青年路，靠近路口那边的井盖没了。")
    assert [p.value for p in d.places] == ["青年路"]


def test_a_place_name_starts_where_a_word_does(taxonomy: DraftTaxonomy) -> None:
    # 那边跳广场舞: 边跳广场 starts mid-word (那边) and 广场 is part of 广场舞.
    d = written(taxonomy, "市民：泉城广场那边跳广场舞的太吵了。")
    assert [p.value for p in d.places] == ["泉城广场"]
    # The gazetteer's names are words of the segmenter: 住在经十路 is 经十路.
    d = written(taxonomy, "市民：我们阳光小区停水了，我住在经十路。")
    assert [p.value for p in d.places] == ["经十路", "阳光小区"]


def test_a_correction_replaces_the_place_said_before_it(taxonomy: DraftTaxonomy) -> None:
    d = written(taxonomy, "市民：我投诉一个，人民路，不对，是解放路上一个KTV，天天半夜噪音很大。")
    assert [p.value for p in d.places] == ["解放路"]
    d = written(taxonomy, "市民：和平路，说错了，应该是历山路，路灯不亮。")
    assert [p.value for p in d.places] == ["历山路"]
    # Two places without a correction between them both stay.
    d = written(taxonomy, "市民：解放路和文化东路路口的路灯不亮。")
    assert {p.value for p in d.places} == {"解放路", "文化东路"}
    en = draft(taxonomy, turn("caller", "it is on renmin road sorry i mean jiefang road"))
    assert [p.value for p in en.places] == ["Jiefang Road"]


def test_a_landmark_is_not_the_category(taxonomy: DraftTaxonomy) -> None:
    # 公交站旁边 says where the dead street light is; it is not a public-transport problem.
    d = written(taxonomy, "市民：人民路二十六号门口，那个公交站旁边，路灯晚上不亮。")
    assert d.category.value == "street_lighting"
    assert "public_transport" not in d.category.scores
    en = draft(taxonomy, turn("caller", "the street light next to the bus stop is out"))
    assert (en.category.value, set(en.category.scores)) == ("street_lighting", {"street_lighting"})


def test_urgency_from_people_at_risk_not_words_in_passing(taxonomy: DraftTaxonomy) -> None:
    # A child named in passing is not urgency; a child at home without water is.
    passing = written(taxonomy, "市民：广场舞太吵了，孩子写作业都写不了。")
    assert passing.urgency.level == "none"
    at_home = written(taxonomy, "市民：自来水发黄，根本不敢喝，家里还有小孩。")
    assert at_home.urgency.level == "medium"
    # "Dangerous" alone is pressing; a missing manhole cover is a hazard now.
    pothole = written(taxonomy, "市民：解放路上有个大坑，太危险了。")
    assert pothole.urgency.level == "medium"
    manhole = written(taxonomy, "市民：泉城路上井盖没了，晚上看不见。")
    assert manhole.urgency.level == "high"


def test_a_negation_is_not_a_correction(taxonomy: DraftTaxonomy) -> None:
    # 不是 alone contrasts two places; 不是，是 corrects one.
    d = written(taxonomy, "市民：是人民路，不是解放路，人民路的路灯不亮。")
    assert "人民路" in {p.value for p in d.places}
    d = written(taxonomy, "市民：人民路，不是，是解放路，路灯不亮。")
    assert [p.value for p in d.places] == ["解放路"]


def test_a_compound_keeps_its_building_unit_and_flat(taxonomy: DraftTaxonomy) -> None:
    d = written(
        taxonomy,
        "市民：我们阳光小区3号楼门口的路灯坏了。\n市民：是阳光小区三号楼二单元，五零一不是，"
        "是502室楼下。\n市民：和平路12号对面。",
    )
    labels = {p.value: p.label for p in d.places}
    # Said twice, the fuller one is kept; numbers in words become digits.
    assert labels["阳光小区"] == "阳光小区3号楼2单元"
    assert labels["和平路"] == "和平路12号"  # a plain house number stays as it was
    d = written(taxonomy, "市民：幸福里小区5栋1单元301室水管爆了。")
    assert [p.label for p in d.places] == ["幸福里小区5栋1单元301室"]


def test_a_mandarin_summary_keeps_its_commas_and_drops_the_lead_in(taxonomy: DraftTaxonomy) -> None:
    d = written(
        taxonomy,
        "坐席：您好，12345热线。\n市民：呃，你好，那个，和平路的路灯坏了，晚上黑乎乎的，"
        "已经一个星期了。",
    )
    assert d.summary.text == "和平路的路灯坏了，晚上黑乎乎的，已经一个星期了。"


def test_a_name_written_with_characters_that_sound_alike(taxonomy: DraftTaxonomy) -> None:
    # Whisper's spellings of names it does not know: 顺更小其 (shun geng xiao qi) for 舜耕小区
    # (shun geng xiao qu), one syllable off, with the building that follows; 宽后里 for 宽厚里
    # and 经时路 for 经十路 are homophones.
    d = written(taxonomy, "市民：顺更小其三号楼门口的路灯坏了。")
    [place] = d.places
    assert (place.value, place.label, place.known) == ("舜耕小区", "舜耕小区3号楼", True)
    assert place.evidence[0].phrase == "sounds like 舜耕小区 (one syllable off)"
    assert place.evidence[0].text == "顺更小其三号楼"
    d = written(taxonomy, "市民：宽后里那边的酒吧太吵了，我住在经时路。")
    assert [p.value for p in d.places] == ["宽厚里", "经十路"]
    # A homophone is surer than one syllable off; both less than the name spelled right.
    spelled = written(taxonomy, "市民：宽厚里那边的酒吧太吵了。").places[0].confidence
    assert place.confidence < d.places[0].confidence < spelled


def test_sound_alike_needs_the_name_at_a_word_start_and_near_sounds(
    taxonomy: DraftTaxonomy,
) -> None:
    # 七里山路 ends in li shan lu, as 历山路 sounds: another road, found by its own pattern.
    d = written(taxonomy, "市民：在那个，七里山路上。")
    assert [p.value for p in d.places] == ["七里山路"]
    # One syllable off only for names of four syllables or more, and only a near sound:
    # 光明社会 (guang ming she hui) is not 光明社区 (… she qu); 和平楼 is not 和平路.
    d = written(taxonomy, "市民：光明社会，大家都好。")
    assert d.places == ()
    d = written(taxonomy, "市民：我家在河平楼附近。")
    assert all(p.value != "和平路" for p in d.places)


def test_warming_loads_the_segmenter_and_the_syllables_once() -> None:
    # A worker warms its taxonomy at start, so the first Mandarin draft does not wait.
    compiled = DraftTaxonomy.model_validate(
        {"places": [{"name": "Shungeng Garden", "zh": "舜耕小区", "kind": "community"}]}
    ).compiled
    assert "segmenter" not in vars(compiled) and "places_zh_sounds" not in vars(compiled)
    compiled.warm()
    assert compiled.segmenter.initialized and compiled.places_zh_sounds
    sounds = compiled.places_zh_sounds
    compiled.warm()
    assert compiled.places_zh_sounds is sounds


def test_a_misheard_yao_and_dong_in_a_number(taxonomy: DraftTaxonomy) -> None:
    # Whisper writes the 幺 (1) of a number read aloud as another yao (要, 邀, 遥...).
    d = written(taxonomy, "市民：我的电话是要三九，邀二三四，五六七八。")
    [phone] = d.phones
    assert phone.value == "13912345678"
    assert phone.confidence < written(taxonomy, "市民：电话13912345678。").phones[0].confidence
    # 我要 just before the number is the word, not a digit: the number stays whole.
    d = written(taxonomy, "市民：我要13912345678，麻烦回个电话。")
    assert [(p.value, p.confidence) for p in d.phones] == [("13912345678", 0.9)]
    # 洞 is 0 in a number read digit by digit; 要 far from any digit is never one.
    d = written(taxonomy, "市民：座机是洞五三幺，八八六六六六六六。我要三个证明。")
    assert [(p.value, p.kind) for p in d.phones] == [("053188666666", "landline")]
