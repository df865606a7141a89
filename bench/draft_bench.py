"""Benchmark: ticket drafts from call transcripts, field by field, against a gold set.

Run from the repository root::

    .venv/bin/python -m bench.draft_bench [--verbose] [--gold DIR]

The gold set is ``tests/data/drafts/<language>.yaml`` (``zh``: Mandarin calls as both sides
speak, fillers, corrections, numbers read as 幺三九, some recognition errors; ``en``: the English
seats' calls), each call with the fields an agent would file. Every transcript is parsed by
``drafting.text_input.parse_turns`` (one turn per line) and drafted by ``drafting.extract`` with
the shipped taxonomy (``config/hotline.yaml`` through ``hotline.app.settings.load_settings``),
no IVR kind, and a fixed ``now`` (``NOW``: no real clock, the same figures any day). These are
clean transcripts (written, every word sure); transcripts that went through the recogniser are
the next row to add.

Per field, micro-averaged over the calls of a language: precision = predicted values that
match / predicted values, recall = gold values matched / gold values, F1 their harmonic mean.

* kind, category: one label each, exact. No prediction (None: nothing heard, or a tie) is a
  miss for recall and nothing for precision. Gold ``other`` (no configured category fits:
  hukou, heating...) counts like any label: the extractor never proposes it (it has no
  phrases), so those calls are recall misses.
* department: the category's default department (``tickets.categories``), gold and predicted
  alike: a wrong category may still reach the right department.
* places: each predicted place (``PlaceMention``: its value, Chinese and English names) matches
  a gold place when their normalised texts (lower case, no spaces or punctuation) are equal or
  one contains the other (two characters at least): gold 阳光小区 matches 阳光小区, gold
  经十路 matches the gazetteer's 经十路 and "Jingshi Road". A predicted place matching no gold
  place is a false positive (a place said in passing, the agent's landmark...).
* phones: sets of digit strings, exact (a number corrected mid-call: only the last is gold).
* urgency: a label where ``none`` is no label (so a call rated ``medium`` whose gold is
  ``none`` costs precision).
* when (optional gold): only on calls whose gold names when it started or how long; a
  predicted date phrase matches a gold one by normalised containment either way.

Targets (issue 20, clean text): kind and phones F1 >= 0.9, places and category F1 >= 0.8.
Each is printed as met or missed. ``--verbose`` prints every call's misses.

One module on purpose: a benchmark's data loading, scoring and report run as one script; the
scoring functions are pure (tests/unit/test_draft_gold.py).
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from drafting import Draft, DraftTaxonomy, extract
from drafting.text_input import parse_turns
from hotline.app.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "hotline.yaml"
GOLD = ROOT / "tests" / "data" / "drafts"
LANGUAGES = ("zh", "en")
NOW = datetime(2026, 11, 25, 15, 30)  # the calls' "now": a Wednesday afternoon in winter
FIELDS = ("kind", "category", "department", "places", "phones", "urgency", "when")
TARGETS: dict[str, float] = {"kind": 0.9, "phones": 0.9, "places": 0.8, "category": 0.8}


class GoldCall(BaseModel):
    """One call of the gold set and the fields an agent would file for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: str
    category: str
    places: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    urgency: Literal["none", "medium", "high"] = "none"
    when: tuple[str, ...] = ()
    transcript: str = Field(min_length=1)


class GoldFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: tuple[GoldCall, ...]


def load_gold(folder: Path, language: str) -> tuple[GoldCall, ...]:
    """The calls of ``<folder>/<language>.yaml`` (ids unique; phones digits only)."""
    path = folder / f"{language}.yaml"
    calls = GoldFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).calls
    seen: set[str] = set()
    for call in calls:
        if call.id in seen:
            raise ValueError(f"{path}: call id {call.id!r} twice")
        seen.add(call.id)
        bad = [p for p in call.phones if not p.isdigit()]
        if bad:
            raise ValueError(f"{path}: {call.id}: phones must be digits only: {bad}")
    return calls


@dataclass(frozen=True)
class Counts:
    """Matches of one field: predicted values that match gold ones, gold values matched."""

    predicted_ok: int = 0
    predicted: int = 0
    gold_ok: int = 0
    gold: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.predicted_ok + other.predicted_ok,
            self.predicted + other.predicted,
            self.gold_ok + other.gold_ok,
            self.gold + other.gold,
        )

    @property
    def precision(self) -> float | None:
        return self.predicted_ok / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.gold_ok / self.gold if self.gold else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0


def label_counts(gold: str | None, predicted: str | None) -> Counts:
    """One label: None is no label on either side."""
    ok = int(gold is not None and gold == predicted)
    return Counts(ok, int(predicted is not None), ok, int(gold is not None))


_NOT_TEXT = re.compile(r"[\s\W_]+")


def norm(text: str) -> str:
    """Lower case, no spaces or punctuation: 和平路 , "Heping Road" → heping road → hepingroad."""
    return _NOT_TEXT.sub("", text.lower())


def texts_match(a: str, b: str) -> bool:
    """Equal, or one contains the other (two characters at least), once normalised."""
    x, y = norm(a), norm(b)
    if not x or not y:
        return False
    short, long = sorted((x, y), key=len)
    return short == long or (len(short) >= 2 and short in long)


def match_counts(gold: Sequence[str], predicted: Sequence[Sequence[str]]) -> Counts:
    """Gold values against predicted ones, each predicted value given as its names (a place's
    value, Chinese and English names; a phone's digits alone)."""
    predicted_ok = sum(any(texts_match(g, n) for g in gold for n in names) for names in predicted)
    gold_ok = sum(any(texts_match(g, n) for names in predicted for n in names) for g in gold)
    return Counts(predicted_ok, len(predicted), gold_ok, len(gold))


def set_counts(gold: Iterable[str], predicted: Iterable[str]) -> Counts:
    """Exact values (phone digits)."""
    g, p = set(gold), set(predicted)
    return Counts(len(g & p), len(p), len(g & p), len(g))


def score_call(call: GoldCall, draft: Draft, departments: Mapping[str, str]) -> dict[str, Counts]:
    """Every field of one call's draft against its gold."""
    places = [
        tuple(n for n in (p.value, p.zh, p.en) if n) for p in draft.places
    ]  # a place matches by any of its names
    urgency = draft.urgency.level
    out = {
        "kind": label_counts(call.kind, draft.kind.value),
        "category": label_counts(call.category, draft.category.value),
        "department": label_counts(
            departments.get(call.category),
            departments.get(draft.category.value) if draft.category.value else None,
        ),
        "places": match_counts(call.places, places),
        "phones": set_counts(call.phones, (p.value for p in draft.phones)),
        "urgency": label_counts(
            None if call.urgency == "none" else call.urgency,
            None if urgency == "none" else urgency,
        ),
        "when": (
            match_counts(call.when, [(d.phrase,) for d in draft.dates]) if call.when else Counts()
        ),
    }
    return out


def misses(call: GoldCall, draft: Draft, scores: Mapping[str, Counts]) -> list[str]:
    """What went wrong in one call, a line per field (for --verbose)."""
    got: dict[str, object] = {
        "kind": draft.kind.value,
        "category": draft.category.value,
        "department": draft.category.value,
        "places": [p.value for p in draft.places],
        "phones": [p.value for p in draft.phones],
        "urgency": draft.urgency.level,
        "when": [d.phrase for d in draft.dates],
    }
    want: dict[str, object] = {
        "kind": call.kind,
        "category": call.category,
        "department": call.category,
        "places": list(call.places),
        "phones": list(call.phones),
        "urgency": call.urgency,
        "when": list(call.when),
    }
    out = []
    for name in FIELDS:
        c = scores[name]
        if name == "department" or (c.predicted_ok == c.predicted and c.gold_ok == c.gold):
            continue
        out.append(f"  {name}: gold {want[name]}, got {got[name]}")
    return out


@dataclass(frozen=True)
class LanguageResult:
    language: str
    calls: int
    totals: dict[str, Counts]
    missed: list[tuple[str, list[str]]]


def run_language(
    calls: Sequence[GoldCall],
    language: str,
    taxonomy: DraftTaxonomy,
    departments: Mapping[str, str],
) -> LanguageResult:
    totals = {name: Counts() for name in FIELDS}
    missed = []
    for call in calls:
        draft = extract(parse_turns(call.transcript, language=language), taxonomy=taxonomy, now=NOW)
        scores = score_call(call, draft, departments)
        for name in FIELDS:
            totals[name] += scores[name]
        lines = misses(call, draft, scores)
        if lines:
            missed.append((call.id, lines))
    return LanguageResult(language, len(calls), totals, missed)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def table(result: LanguageResult) -> list[str]:
    lines = [
        f"{result.language}: {result.calls} calls (clean transcripts)",
        "| field | gold | predicted | precision | recall | F1 | target (F1) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in FIELDS:
        c = result.totals[name]
        target = TARGETS.get(name)
        if target is None:
            verdict = ""
        else:
            met = c.f1 is not None and c.f1 >= target
            verdict = f">= {target} {'met' if met else 'MISSED'}"
        lines.append(
            f"| {name} | {c.gold} | {c.predicted} | {_pct(c.precision)} | {_pct(c.recall)} "
            f"| {_pct(c.f1)} | {verdict} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.draft_bench", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="print every call's misses")
    parser.add_argument("--gold", type=Path, default=GOLD, help="folder of <language>.yaml")
    args = parser.parse_args(argv)

    settings = load_settings(CONFIG, env={})
    departments = {c.id: c.department for c in settings.tickets.categories}
    print(f"draft bench: {platform.python_version()}, config {CONFIG.relative_to(ROOT)}, now {NOW}")
    for language in LANGUAGES:
        calls = load_gold(args.gold, language)
        result = run_language(calls, language, settings.draft, departments)
        print()
        print("\n".join(table(result)))
        for name, target in TARGETS.items():
            f1 = result.totals[name].f1
            met = f1 is not None and f1 >= target
            print(
                f"{language} {name} F1 {_pct(f1)} >= {target}: target {'met' if met else 'missed'}"
            )
        if args.verbose:
            for call_id, lines in result.missed:
                print(call_id)
                print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
