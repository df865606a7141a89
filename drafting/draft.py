"""The entry point: ``extract(transcript, taxonomy=..., ivr_kind=..., ivr_category=..., now=...)``
runs the finders over the call's sentences and puts their results together as a ``Draft``.

It reads the caller's turns (the agent's may confirm, never override); urgency and dates are
the caller's only (the agent's "if it's an emergency" is not).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from drafting.dates import find_dates
from drafting.phones import find_phones
from drafting.phrases import as_landmark, choose, is_negated, rate_urgency, scan
from drafting.places import find_places
from drafting.segments import Segment, segments, speaker_turns
from drafting.settings import DraftTaxonomy
from drafting.summary import summarise
from drafting.types import Choice, Draft, Transcript

# An inferred kind is a guess from the category: never as sure as one phrase (~0.67).
_INFERRED_CONFIDENCE = 0.4


def infer_kind(kind: Choice, category: Choice, taxonomy: DraftTaxonomy) -> Choice:
    """When no phrase (nor the IVR) names the kind, or phrases tie, the kind a clerk files
    the category under (``default_kind``), marked as inferred: lower confidence and a note
    that starts with "inferred" (the agent page and ``hotline draft`` show it)."""
    cat = taxonomy.categories.get(category.value) if category.value else None
    default = (cat.default_kind if cat else None) or taxonomy.default_kind
    if default is None or default not in taxonomy.kinds:
        return kind
    if kind.scores and default not in kind.scores:
        return kind  # phrases tie between other kinds: the agent picks
    # A category the caller only keyed in the IVR (no phrase) is said to be so.
    named = f"the category {category.value}"
    if category.prior is not None and category.prior == category.value and not category.evidence:
        named += " chosen in the IVR"
    if kind.scores:
        why = f"inferred from {named}'s default kind ({kind.note})"
    elif cat is not None and cat.default_kind:
        why = f"inferred from {named} (no kind phrase heard)"
    else:
        why = "inferred: the default kind (no kind phrase or category heard)"
    confidence = min(_INFERRED_CONFIDENCE, category.confidence) if cat else 0.2
    return replace(kind, value=default, confidence=round(confidence, 2), note=why)


def extract(
    transcript: Transcript,
    *,
    taxonomy: DraftTaxonomy,
    ivr_kind: str | None = None,
    ivr_category: str | None = None,
    now: datetime | None = None,
) -> Draft:
    """The ticket draft of one transcribed call. ``ivr_kind``: the request kind the caller
    chose in the IVR (a prior; ignored unless it is one of the taxonomy's kinds).
    ``ivr_category``: the category chosen at an IVR category level (a prior the same way,
    ignored unless it is one of the taxonomy's categories). ``now``: the time of the call, to
    resolve "yesterday" and "for a week" into dates."""
    compiled = taxonomy.compiled
    segs = segments(speaker_turns(transcript), taxonomy.sentence_gap)
    caller = [s for s in segs if s.speaker == "caller"]

    kind_hits = scan(compiled.kinds, segs)
    category_hits = [h for h in scan(compiled.categories, segs) if not as_landmark(h)]
    urgency_hits = scan(compiled.urgency, caller)  # the agent's "if it's an emergency" is not
    prior = ivr_kind if ivr_kind in taxonomy.kinds else None
    kind = choose(kind_hits, taxonomy.agent_weight, prior, taxonomy.ivr_prior)
    # The IVR's category weighs as its kind does: it tips a tie, stands alone when nothing is
    # heard, and loses to a phrase naming another category.
    category_prior = ivr_category if ivr_category in taxonomy.categories else None
    category = choose(
        category_hits,
        taxonomy.agent_weight,
        category_prior,
        taxonomy.ivr_prior,
        first_breaks_tie=True,
    )
    if kind.value is None:
        kind = infer_kind(kind, category, taxonomy)
    if ivr_kind is not None and prior is None:
        note = f"IVR kind {ivr_kind!r} is not a request kind (no prior)"
        kind = replace(kind, note=f"{kind.note}; {note}" if kind.note else note)
    if ivr_category is not None and category_prior is None:
        note = f"IVR category {ivr_category!r} is not a draft category (no prior)"
        category = replace(category, note=f"{category.note}; {note}" if category.note else note)
    places = find_places(segs, compiled)
    urgency = rate_urgency(urgency_hits)
    dates = find_dates(caller, now)
    phones = find_phones(segs)

    def features(seg: Segment) -> tuple[float, list[str]]:
        score, reasons = 0.0, []
        for h in (*kind_hits, *category_hits):
            if h.seg is seg:
                score += h.matcher.weight
                reasons.append(f"{h.matcher.label}: {h.matcher.phrase}")
        for h in urgency_hits:
            if h.seg is seg and not is_negated(h):
                score += 1.0
                reasons.append(f"urgency: {h.matcher.phrase}")
        for p in places:
            if any(ev.at == round(seg.start, 2) and ev.speaker == seg.speaker for ev in p.evidence):
                score += 1.0
                reasons.append(f"place: {p.value}")
        for d in dates:
            if d.evidence[0].at == round(seg.start, 2):
                score += 0.5
                reasons.append(f"when: {d.phrase}")
        return score, reasons

    summary = summarise(segs, features, taxonomy.summary_sentences, places)
    return Draft(
        language=transcript.language,
        kind=kind,
        category=category,
        places=places,
        phones=phones,
        dates=dates,
        urgency=urgency,
        summary=summary,
    )
