"""Phone numbers: mobiles (1[3-9] and 9 digits) and landlines with their area code, also said
digit by digit in words or 幺三九, in groups across pauses, with "double eight"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from drafting.numbers import EN_DIGIT, ZH_DIGIT
from drafting.segments import Segment, segment_evidence
from drafting.types import Phone, Word

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code 010 or 02x then 8 digits; other area codes have 4 digits then 7 or 8.
_LANDLINE = re.compile(r"0(?:10|2\d)\d{8}|0[3-9]\d{2}\d{7,8}")
_PHONE_FILLERS = frozenset({"uh", "um", "er", "erm", "dash", "hyphen", "呃", "嗯", "啊"})


def _digits(token: str) -> str | None:
    if token.isascii() and token.isdigit():
        return token
    if token in EN_DIGIT:
        return EN_DIGIT[token]
    if token and all(ch in ZH_DIGIT for ch in token):
        return "".join(str(ZH_DIGIT[ch]) for ch in token)
    return None


def _close_run(
    runs: list[tuple[str, list[Word], Segment]],
    digits: str,
    words: list[Word],
    first: Segment | None,
) -> tuple[str, list[Word], None]:
    if first is not None and len(digits) >= 7:
        runs.append((digits, words, first))
    return "", [], None


def find_phones(segs: Sequence[Segment]) -> tuple[Phone, ...]:
    # Numbers are said in groups with pauses between them: read runs across a speaker's
    # consecutive sentences, not inside one.
    runs: list[tuple[str, list[Word], Segment]] = []
    digits = ""
    words: list[Word] = []
    first: Segment | None = None
    repeat = 1
    for i, seg in enumerate(segs):
        if i and seg.speaker != segs[i - 1].speaker:
            digits, words, first = _close_run(runs, digits, words, first)
        for w, t in zip(seg.words, seg.tokens, strict=True):
            if t in ("double", "triple"):  # "double eight" is 88
                repeat = 2 if t == "double" else 3
                words.append(w)
                continue
            d = _digits(t)
            if d is None:
                if not (t in _PHONE_FILLERS and digits):
                    digits, words, first = _close_run(runs, digits, words, first)
                    repeat = 1
                continue
            digits += d * repeat
            repeat = 1
            words.append(w)
            first = first or seg
    _close_run(runs, digits, words, first)

    found: dict[str, Phone] = {}
    for run, ws, seg in runs:
        said = " ".join(w.text for w in ws)
        candidates: list[tuple[str, Literal["mobile", "landline"], float]] = []
        if _MOBILE.fullmatch(run):
            candidates.append((run, "mobile", 0.9))
        elif _LANDLINE.fullmatch(run):
            candidates.append((run, "landline", 0.85))
        else:
            # Extra digits around it (a misheard word, an extension): less sure.
            candidates += [(m.group(0), "mobile", 0.5) for m in _MOBILE.finditer(run)]
        factor = seg.asr_factor * (1.0 if seg.speaker == "caller" else 0.6)
        for value, kind, base in candidates:
            ev = segment_evidence(kind, said, seg)
            have = found.get(value)
            if have is None:
                found[value] = Phone(value, kind, round(base * factor, 2), (ev,))
            else:  # read back by the agent, or repeated
                conf = min(0.98, max(have.confidence, base * factor) + 0.05)
                found[value] = Phone(value, kind, round(conf, 2), (*have.evidence, ev))
    return tuple(found.values())
