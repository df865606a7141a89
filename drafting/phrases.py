"""Phrase scoring: the request kind, the category and the urgency from the taxonomy's phrases.

Each configured phrase (compiled in ``settings.CompiledTaxonomy``) is looked for in every
sentence: English word by word on the spaced text, Mandarin on the compact text. A label's score
adds its phrases' weights (a longer phrase 1.5, a repeat a quarter; the agent's words only
confirm the caller's), the IVR's kind and category are priors, and the best label wins unless
tied.
Urgency words count unless negated ("not urgent", 不紧急).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drafting.segments import Segment, segment_evidence
from drafting.settings import PhraseMatcher
from drafting.types import Choice, Evidence, Urgency, UrgencyLevel


@dataclass(frozen=True)
class Hit:
    matcher: PhraseMatcher
    seg: Segment
    text: str
    span: tuple[int, int]


def scan(matchers: Iterable[PhraseMatcher], segs: Iterable[Segment]) -> list[Hit]:
    hits: list[Hit] = []
    for seg in segs:
        for m in matchers:
            text = seg.en if m.language == "en" else seg.zh
            hits += [Hit(m, seg, mo.group(0), mo.span()) for mo in m.pattern.finditer(text)]

    # A phrase inside a longer one of the same label (路灯 in 路灯不亮) is the same evidence.
    def inside(a: Hit, b: Hit) -> bool:
        return (
            a is not b
            and a.seg is b.seg
            and a.matcher.label == b.matcher.label
            and a.matcher.language == b.matcher.language
            and b.span[0] <= a.span[0]
            and a.span[1] <= b.span[1]
            and a.span != b.span
        )

    return [h for h in hits if not any(inside(h, o) for o in hits)]


# A category phrase said to say where, not what: 公交站旁边, 学校门口, "next to the school".
_ZH_LANDMARK_AFTER = re.compile(r"(?:的)?(?:旁边|门口|附近|对面|边上|后面|前面|隔壁)")
_EN_LANDMARK_BEFORE = re.compile(
    r"(?:next to|near|opposite|outside|behind|in front of|across from|beside|by) (?:the |a )?$"
)


def as_landmark(h: Hit) -> bool:
    """The phrase names a landmark that pins down the place (那个公交站旁边), not the
    problem: it does not count for the category."""
    if h.matcher.language == "en":
        return _EN_LANDMARK_BEFORE.search(h.seg.en[: h.span[0]]) is not None
    return _ZH_LANDMARK_AFTER.match(h.seg.zh, h.span[1]) is not None


def _score(hits: Sequence[Hit], agent_weight: float) -> dict[str, float]:
    by_phrase: dict[tuple[str, str], list[Hit]] = {}
    for h in hits:
        by_phrase.setdefault((h.matcher.label, h.matcher.phrase), []).append(h)
    scores: dict[str, float] = {}
    for (label, _), hs in by_phrase.items():
        w = hs[0].matcher.weight
        caller = sum(1 for h in hs if h.seg.speaker == "caller")
        s = 0.0
        if caller:
            # Repeating a phrase adds a little, not as much as a second, different phrase.
            s += w * (1 + 0.25 * min(caller - 1, 2))
        if caller and caller < len(hs):
            # The agent said it too. Alone, the agent's words count for nothing: "how can I
            # help you" is a greeting, and the caller's request is the caller's.
            s += agent_weight * w
        scores[label] = scores.get(label, 0.0) + s
    return scores


def _confidence(top: float, total: float) -> float:
    # Share of all the evidence, times how much evidence there is (one phrase ≈ 0.67).
    if top <= 0 or total <= 0:
        return 0.0
    return round((top / total) * (top / (top + 0.5)), 2)


def choose(
    hits: Sequence[Hit],
    agent_weight: float,
    prior: str | None = None,
    prior_weight: float = 0.0,
    *,
    first_breaks_tie: bool = False,
) -> Choice:
    """The best-scoring label. A tie gives None (the agent sees the candidates), unless
    ``first_breaks_tie``: then the label the caller named first wins (a caller leads with
    the problem they rang about), noted as such."""
    scores = _score(hits, agent_weight)
    if prior is not None and prior_weight > 0:
        scores[prior] = scores.get(prior, 0.0) + prior_weight
    scores = {k: round(v, 3) for k, v in scores.items() if v > 0}
    if not scores:
        return Choice(None, 0.0)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top_label, top = ranked[0]
    tied = [label for label, s in ranked if math.isclose(s, top)]
    tie_note = ""
    if len(tied) > 1 and first_breaks_tie:
        first = _first_said(hits, set(tied))
        if first is not None:
            top_label = first
            tie_note = f"tie between {' and '.join(sorted(tied))}: the first said"
            tied = [first]
    if len(tied) > 1:
        # Not ours to pick: the agent sees the candidates and their evidence.
        return Choice(
            None,
            0.0,
            evidence=_evidence_of(hits, set(tied)),
            scores=scores,
            prior=prior if prior in scores else None,
            note="tie between " + " and ".join(sorted(tied)),
        )
    evidence = _evidence_of(hits, {top_label})
    note = tie_note
    if top_label == prior and not evidence:
        note = "from the IVR choice only"
    return Choice(
        top_label,
        _confidence(top, sum(scores.values())),
        evidence=evidence,
        scores=scores,
        prior=prior if prior in scores else None,
        note=note,
    )


def _first_said(hits: Iterable[Hit], labels: set[str]) -> str | None:
    said = [h for h in hits if h.matcher.label in labels and h.seg.speaker == "caller"]
    if not said:
        return None
    return min(said, key=lambda h: (h.seg.index, h.span[0])).matcher.label


def _evidence_of(hits: Iterable[Hit], labels: set[str]) -> tuple[Evidence, ...]:
    out = [
        segment_evidence(h.matcher.phrase, h.text, h.seg)
        for h in sorted(hits, key=lambda h: (h.seg.index, h.span[0]))
        if h.matcher.label in labels
    ]
    return tuple(out)


# Words that turn an urgency word around: "not urgent", "no danger", 不紧急, 没有危险.
_EN_NEGATIONS = frozenset({"not", "no", "isnt", "wasnt", "never", "nothing", "dont", "aint"})
_ZH_NEGATION = re.compile(r"(?:不|没有?|并不|不太|不是很|不算|不怎么|无)$")


def is_negated(h: Hit) -> bool:
    if h.matcher.language == "en":
        before = h.seg.en[: h.span[0]].split()[-3:]
        return any(t in _EN_NEGATIONS for t in before)
    return _ZH_NEGATION.search(h.seg.zh[: h.span[0]]) is not None


def rate_urgency(hits: Sequence[Hit]) -> Urgency:
    counted = [h for h in hits if not is_negated(h)]
    negated = tuple(
        segment_evidence(h.matcher.phrase, h.text, h.seg) for h in hits if is_negated(h)
    )
    if not counted:
        return Urgency("none", 0.0, negated=negated)
    level: UrgencyLevel = "high" if any(h.matcher.label == "high" for h in counted) else "medium"
    at_level = [h for h in counted if h.matcher.label == level]
    distinct = len({h.matcher.phrase for h in at_level})
    return Urgency(
        level,
        round(1 - 0.5 ** (distinct + 0.5 * (len(at_level) - distinct)), 2),
        evidence=_evidence_of(counted, {"high", "medium"}),
        negated=negated,
    )
