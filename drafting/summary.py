"""The summary: the caller's key sentences, in the order said.

The caller's substantive sentences are scored by the phrases, places, urgency and dates heard
in them (``features``), plus a bonus for the first two (callers state the problem first); the
best ``summary_sentences`` are kept, with the places named as the gazetteer writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from drafting.normalise import compact, is_chinese
from drafting.segments import Segment
from drafting.types import PlaceMention, Sentence, Summary

_FILLERS = frozenset(
    "hello hi hey yes yeah yep no ok okay right thanks thank you bye goodbye uh um er erm hmm "
    "sorry please 喂 你好 您好 嗯 啊 哦 对 是 是的 好 好的 谢谢 再见 没有 行".split()
)


def _substantive(seg: Segment) -> bool:
    content = [t for t in seg.tokens if t not in _FILLERS]
    if is_chinese(seg.zh):
        return len("".join(content)) >= 4
    return len(content) >= 3


def summarise(
    segs: Sequence[Segment],
    features: Callable[[Segment], tuple[float, list[str]]],
    n: int,
    places: Sequence[PlaceMention],
) -> Summary:
    caller = [s for s in segs if s.speaker == "caller" and _substantive(s)]
    scored: list[tuple[float, float, Segment, list[str]]] = []
    for rank, seg in enumerate(caller):
        content, reasons = features(seg)
        # Callers state the problem first; later sentences are details and courtesies.
        position = 0.5 if rank == 0 else 0.25 if rank == 1 else 0.0
        scored.append((content, content + position, seg, reasons))
    chosen = [x for x in scored if x[0] > 0]
    chosen.sort(key=lambda x: (-x[1], x[2].index))
    chosen = chosen[:n]
    if chosen:
        confidence = round(chosen[0][0] / (chosen[0][0] + 1), 2)
    elif caller:
        # Nothing recognised: the caller's first real sentence, flagged as a weak guess.
        chosen = [scored[0]]
        confidence = 0.2
    else:
        return Summary("", (), 0.0)
    chosen.sort(key=lambda x: x[2].index)
    sentences = tuple(
        Sentence(
            _display(seg, places),
            round(seg.start, 2),
            round(seg.end, 2),
            round(total, 2),
            tuple(reasons),
        )
        for _, total, seg, reasons in chosen
    )
    chinese = all(is_chinese(s.text) for s in sentences)
    text = (
        "".join(s.text + "。" for s in sentences)
        if chinese
        else " ".join(s.text + "." for s in sentences)
    )
    return Summary(text, sentences, confidence)


# What a caller says before getting to the point: not the clerk's summary.
_ZH_LEAD = re.compile(r"^(?:[喂呃嗯啊哦诶唉]+|你好|您好|那个|就是|这个|是这样的?)+")


def _display(seg: Segment, places: Sequence[PlaceMention]) -> str:
    if is_chinese(seg.zh):
        text = seg.zh
        # The clauses as they were punctuated (text input, Whisper): a comma at each break.
        for at in sorted(seg.zh_breaks, reverse=True):
            if 0 < at < len(text) and text[at - 1] != "，":
                text = text[:at] + "，" + text[at:]
        # Then the lead-in fillers and greetings of each clause start are dropped.
        clauses = [_ZH_LEAD.sub("", c) for c in text.split("，")]
        return "，".join(c for c in clauses if c.strip()) or compact([w.text for w in seg.words])
    text = seg.en
    # Normalise the places the caller named: "heping road" → "Heping Road".
    for p in places:
        for ev in p.evidence:
            if not is_chinese(ev.text) and ev.text:
                text = re.sub(rf"(?<!\w){re.escape(ev.text)}(?!\w)", p.value, text)
    return text[:1].upper() + text[1:]
