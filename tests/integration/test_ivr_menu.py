"""Menu validation: every bad menu is rejected with the menu and node named."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.app.settings import ConfigError, parse_settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED: dict[str, Any] = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text("utf-8"))


def nodes(d: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = d["ivr"]["menus"]["main"]["nodes"]
    return result


def edit(change: Callable[[dict[str, Any]], None]) -> str:
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(ConfigError) as exc:
        parse_settings(data, "test")
    return str(exc.value)


def test_shipped_menu_is_valid_and_bilingual() -> None:
    s = parse_settings(copy.deepcopy(SHIPPED))
    menu = s.ivr.menus["main"]
    assert menu.entry == "welcome"
    assert menu.nodes["welcome"].options["9"].language == "en"
    assert s.ivr.route("en", "complaint", "operator") == "english"
    assert s.ivr.route("zh", "complaint", "operator") == "operator"
    kinds = {t.kind for t in menu.nodes["kind"].options.values()}
    assert kinds == {
        "consultation",
        "help_request",
        "complaint",
        "suggestion",
        "ticket_status",
        "operator",
    }
    # Every prompt the menu plays has a Mandarin and an English text (except the fixed one).
    assert s.ivr.prompts["press_9_for_english"] == {"en": "For English, please press 9."}


def _orphan(d: dict[str, Any]) -> None:
    nodes(d)["orphan"] = {"prompt": ["goodbye"], "on_exhausted": {"hangup": ["goodbye"]}}


def _loop(d: dict[str, Any]) -> None:
    nodes(d)["kind"]["options"]["8"] = {"goto": "a"}
    nodes(d)["a"] = {"prompt": ["goodbye"], "on_exhausted": {"goto": "b"}}
    nodes(d)["b"] = {"prompt": ["goodbye"], "on_exhausted": {"goto": "a"}}


def _silence_loop(d: dict[str, Any]) -> None:
    nodes(d)["after_lookup"]["on_exhausted"] = {"goto": "kind"}
    nodes(d)["kind"]["on_exhausted"] = {"goto": "after_lookup"}


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown node": (
        lambda d: nodes(d)["kind"]["options"].update({"1": {"goto": "nowhere"}}),
        "ivr.menus.main: node 'kind': option '1' leads to unknown node 'nowhere'",
    ),
    "unreachable node": (_orphan, "node 'orphan' is unreachable from 'welcome'"),
    "loop without exit": (_loop, "node 'a' is in a loop without an exit"),
    "silence loop": (_silence_loop, "node 'kind': on silence the caller loops forever"),
    "unknown queue": (
        lambda d: nodes(d)["kind"]["options"]["1"].update({"queue": "nosuch"}),
        "ivr: menu 'main' node 'kind' option '1': unknown queue 'nosuch'",
    ),
    "undefined prompt": (
        lambda d: nodes(d)["kind"].update({"invalid": ["oops"]}),
        "menu 'main' node 'kind': prompt 'oops' is not defined in ivr.prompts",
    ),
    "prompt missing a language": (
        lambda d: d["ivr"]["prompts"]["goodbye"].pop("en"),
        "menu 'main' node 'after_lookup': prompt 'goodbye' has no 'en' text",
    ),
    "two actions": (
        lambda d: nodes(d)["kind"]["options"]["1"].update({"transfer": "110"}),
        "ivr.menus.main.nodes.kind.options.1: a target needs exactly one of",
    ),
    "bad key": (
        lambda d: nodes(d)["kind"]["options"].update({"12": {"queue": "operator"}}),
        "ivr.menus.main.nodes.kind.options: option keys must be single keys",
    ),
    "unknown menu on a number": (
        lambda d: d["pbx"]["inbound"][0].update({"menu": "nosuch"}),
        "inbound number 12345 names unknown menu 'nosuch'",
    ),
    "transfer without a gateway": (
        lambda d: nodes(d)["kind"]["options"].update({"8": {"transfer": "110"}}),
        "menus transfer calls out, so pbx.trunk.gateway must be set",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_invalid_menu_is_rejected_naming_the_node(case: str) -> None:
    change, message = CASES[case]
    assert message in edit(change)


def test_cli_config_check_names_the_node(tmp_path: Path) -> None:
    from tests.integration.test_config import run_cli

    data = copy.deepcopy(SHIPPED)
    _orphan(data)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = run_cli("-c", str(bad), "config", "check")
    assert result.returncode == 2
    assert "node 'orphan' is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
