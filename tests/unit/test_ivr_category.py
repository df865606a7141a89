"""The IVR's category level: a menu option may name a category of ``draft.categories``
(checked when the settings load), the walk writes it on the channel, and the ticket draft
takes it as a prior the way it takes the IVR's kind (English and Mandarin)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from drafting import DraftTaxonomy
from hotline.app.settings import ConfigError, parse_settings
from ivr.agi.protocol import AgiRequest
from ivr.agi.server import AgiChannel
from ivr.prompts import PromptLibrary
from ivr.session import IvrContext, MenuWalk
from telephony import dialplan
from tests.unit.test_draft import draft, turn

ROOT = Path(__file__).resolve().parents[2]
SHIPPED: dict[str, Any] = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text("utf-8"))


@pytest.fixture(scope="module")
def taxonomy() -> DraftTaxonomy:
    return parse_settings(copy.deepcopy(SHIPPED)).draft


def with_category_level(*categories: str) -> dict[str, Any]:
    """The shipped config with a category level after 求助 (key 2): key n names the n-th
    category."""
    data = copy.deepcopy(SHIPPED)
    nodes = data["ivr"]["menus"]["main"]["nodes"]
    nodes["kind"]["options"]["2"] = {"goto": "category", "kind": "help_request"}
    nodes["category"] = {
        "prompt": ["kind_menu"],
        "options": {
            str(i): {"queue": "operator", "category": c} for i, c in enumerate(categories, 1)
        },
        "timeout": 1,
        "retries": 0,
        "on_exhausted": {"queue": "operator"},
    }
    return data


# -- settings -----------------------------------------------------------------------------------
def test_a_category_level_of_draft_categories_loads() -> None:
    s = parse_settings(with_category_level("street_lighting", "water_supply", "noise"))
    node = s.ivr.menus["main"].nodes["category"]
    assert node.options["1"].category == "street_lighting"
    assert s.ivr.categories_used() == [
        ("menu 'main' node 'category' option '1'", "street_lighting"),
        ("menu 'main' node 'category' option '2'", "water_supply"),
        ("menu 'main' node 'category' option '3'", "noise"),
    ]
    # The shipped menu has no category level: every key is more time for every caller.
    assert parse_settings(copy.deepcopy(SHIPPED)).ivr.categories_used() == []


def test_an_unknown_category_is_refused_naming_the_menu_and_node() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(with_category_level("street_lighting", "streetlights"), "test")
    message = str(exc.value)
    assert "menu 'main' node 'category' option '2'" in message
    assert "unknown category 'streetlights'" in message
    assert "draft.categories" in message and "water_supply" in message  # what would do

    # A ticket category the draft has no phrases for is no draft category either.
    data = with_category_level("street_lighting")
    del data["draft"]["categories"]["street_lighting"]
    with pytest.raises(ConfigError, match="unknown category 'street_lighting'"):
        parse_settings(data, "test")


# -- the walk -----------------------------------------------------------------------------------
class KeyedChannel:
    """An AGI channel whose caller presses ``keys`` one per prompt; records the variables."""

    def __init__(self, keys: str) -> None:
        self.request = AgiRequest({"agi_uniqueid": "1.1", "agi_callerid": "13900000001"})
        self.keys = list(keys)
        self.variables: dict[str, str] = {}

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def stream_file(self, path: str, escape: str) -> str | None:
        return self.keys.pop(0) if self.keys and escape else None

    async def wait_for_digit(self, seconds: float) -> str | None:
        return self.keys.pop(0) if self.keys else None


async def _no_ticket(number: str) -> str | None:
    return None


async def _no_flag(number: str) -> str | None:
    return None


async def test_the_walk_writes_the_kind_and_the_category_chosen(tmp_path: Path) -> None:
    ivr = parse_settings(with_category_level("street_lighting", "noise")).ivr
    ctx = IvrContext(ivr, PromptLibrary(ivr, tmp_path), _no_ticket, _no_flag)
    # Welcome: 8 (no such key, on in Mandarin); kind: 2 (求助); category: 2 (noise).
    channel = KeyedChannel("822")
    walk = MenuWalk(cast(AgiChannel, channel), ctx, "main", ivr.menus["main"])
    await walk.run()
    assert walk.state.kind == "help_request" and walk.state.category == "noise"
    assert walk.state.path == ["welcome:invalid-8", "kind:2", "category:2"]
    assert channel.variables[dialplan.inherited(dialplan.KIND)] == "help_request"
    assert channel.variables[dialplan.inherited(dialplan.CATEGORY)] == "noise"
    assert channel.variables[dialplan.IVR] == dialplan.IVR_DONE


# -- the draft's prior --------------------------------------------------------------------------
def test_the_ivr_category_tips_a_tie(taxonomy: DraftTaxonomy) -> None:
    for language, said in (
        ("en", "the streetlight is dark and the karaoke goes on"),
        ("zh", "路灯 不 太 行 还有 噪音"),
    ):
        tie = draft(taxonomy, turn("caller", said), language=language)
        assert tie.category.value == "street_lighting", language  # the first said, without
        assert tie.category.note.startswith("tie between noise and street_lighting")
        assert tie.category.scores["noise"] == tie.category.scores["street_lighting"]
        tipped = draft(taxonomy, turn("caller", said), language=language, ivr_category="noise")
        assert tipped.category.value == "noise", language
        assert tipped.category.prior == "noise"
        assert tipped.category.scores["noise"] > tipped.category.scores["street_lighting"]
        assert [e.speaker for e in tipped.category.evidence] == ["caller"]  # what was said


def test_the_ivr_category_alone_is_proposed_and_the_kind_inferred(
    taxonomy: DraftTaxonomy,
) -> None:
    for language, said, category, kind in (
        ("en", "hello i am calling about my street", "noise", "complaint"),
        ("zh", "喂 你好 我 想 说 个 事", "street_lighting", "help_request"),
    ):
        d = draft(taxonomy, turn("caller", said), language=language, ivr_category=category)
        assert d.category.value == category, language
        assert d.category.note == "from the IVR choice only"
        assert d.category.evidence == () and d.category.prior == category
        assert 0 < d.category.confidence < 0.7  # less sure than a phrase the caller said
        # No kind phrase: the category's default kind, inferred, saying where it came from.
        assert d.kind.value == kind, language
        assert d.kind.note == f"inferred from the category {category} chosen in the IVR" + (
            " (no kind phrase heard)"
        )
        assert d.kind.confidence <= 0.4
        assert d.ticket_fields()["category"] == category


def test_a_phrase_for_another_category_wins_over_the_ivr(taxonomy: DraftTaxonomy) -> None:
    for language, said in (("en", "we have no water since this morning"), ("zh", "家里 停水 了")):
        d = draft(taxonomy, turn("caller", said), language=language, ivr_category="noise")
        assert d.category.value == "water_supply", language
        assert d.category.prior == "noise" and d.category.scores["noise"] == taxonomy.ivr_prior
        assert d.category.note == ""
    # The kind's prior and the category's are independent: both count.
    both = draft(
        taxonomy,
        turn("caller", "the streetlight is dark"),
        ivr_kind="complaint",
        ivr_category="street_lighting",
    )
    assert (both.kind.value, both.kind.prior) == ("complaint", "complaint")
    assert (both.category.value, both.category.prior) == ("street_lighting", "street_lighting")


def test_an_ivr_category_the_draft_does_not_know_is_no_prior(taxonomy: DraftTaxonomy) -> None:
    d = draft(taxonomy, turn("caller", "the streetlight is dark"), ivr_category="lamps")
    assert d.category.value == "street_lighting" and d.category.prior is None
    assert "lamps" not in d.category.scores
    assert d.category.note == "IVR category 'lamps' is not a draft category (no prior)"
