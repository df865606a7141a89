"""Phone numbers: mobiles (1[3-9] and 9 digits) and landlines with their area code, also said
digit by digit in words or 幺三九, in groups across pauses, with "double eight"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from drafting.numbers import EN_DIGIT, ZH_DIGIT
from drafting.segments import Segment, segment_evidence
from drafting.types import Phone, Word

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code 010 or 02x then 8 digits; other area codes have 4 digits then 7 or 8.
_LANDLINE = re.compile(r"0(?:10|2\d)\d{8}|0[3-9]\d{2}\d{7,8}")
_PHONE_FILLERS = frozenset({"uh", "um", "er", "erm", "dash", "hyphen", "呃", "嗯", "啊"})
# 洞 is 0 only in digit strings (radio and phone numbers), never in a counted number.
_ZH_PHONE_DIGIT = ZH_DIGIT | {"洞": 0}
# Whisper writes a spoken 幺 (yao, 1) as another yao: 要, 邀, 遥, 姚... Next to a digit it is
# taken for 1, provisionally: kept only where the number is whole with it (我要139… is 139…).
_YAO_LIKE = frozenset("要邀遥姚摇腰窑谣瑶咬药耀")


def _digits(token: str) -> str | None:
    if token.isascii() and token.isdigit():
        return token
    if token in EN_DIGIT:
        return EN_DIGIT[token]
    if token and all(ch in _ZH_PHONE_DIGIT for ch in token):
        return "".join(str(_ZH_PHONE_DIGIT[ch]) for ch in token)
    return None


def _whole(run: str, soft: frozenset[int]) -> tuple[str, int] | None:
    """The phone number a run of digits is, and how many provisional 1s (a misheard 幺) it
    keeps: the whole run, else the run without the provisional 1s at its start (我要 before
    the number)."""
    cut = 0
    while True:
        number = run[cut:]
        if _MOBILE.fullmatch(number) or _LANDLINE.fullmatch(number):
            return number, sum(1 for i in soft if i >= cut)
        if cut not in soft:
            return None
        cut += 1


@dataclass
class _Run:
    """Digits being read across a speaker's sentences, and which are a provisional 1."""

    digits: str = ""
    soft: set[int] = field(default_factory=set)
    words: list[Word] = field(default_factory=list)
    first: Segment | None = None


def _close_run(runs: list[_Run], run: _Run) -> _Run:
    # A provisional 1 at the end is the word it was written as (要 after a number).
    while run.digits and len(run.digits) - 1 in run.soft:
        run.soft.discard(len(run.digits) - 1)
        run.digits = run.digits[:-1]
        run.words.pop()
    if run.first is not None and len(run.digits) >= 7:
        runs.append(run)
    return _Run()


def find_phones(segs: Sequence[Segment]) -> tuple[Phone, ...]:
    # Numbers are said in groups with pauses between them: read runs across a speaker's
    # consecutive sentences, not inside one.
    runs: list[_Run] = []
    run = _Run()
    repeat = 1
    for i, seg in enumerate(segs):
        if i and seg.speaker != segs[i - 1].speaker:
            run = _close_run(runs, run)
        for j, (w, t) in enumerate(zip(seg.words, seg.tokens, strict=True)):
            if t in ("double", "triple"):  # "double eight" is 88
                repeat = 2 if t == "double" else 3
                run.words.append(w)
                continue
            d = _digits(t)
            if d is None and t in _YAO_LIKE:
                after = seg.tokens[j + 1] if j + 1 < len(seg.tokens) else ""
                if run.digits or _digits(after) is not None:
                    d = "1"
                    run.soft.add(len(run.digits))
            if d is None:
                if not (t in _PHONE_FILLERS and run.digits):
                    run = _close_run(runs, run)
                    repeat = 1
                continue
            run.digits += d * repeat
            repeat = 1
            run.words.append(w)
            run.first = run.first or seg
    _close_run(runs, run)

    found: dict[str, Phone] = {}
    for r in runs:
        at = r.first
        assert at is not None  # _close_run keeps only runs that started
        said = " ".join(w.text for w in r.words)
        candidates: list[tuple[str, Literal["mobile", "landline"], float]] = []
        whole = _whole(r.digits, frozenset(r.soft))
        if whole is not None:
            number, guessed = whole
            mobile = _MOBILE.fullmatch(number) is not None
            base = 0.9 if mobile else 0.85
            # Each 1 read from a misheard 幺 makes it a little less sure.
            candidates.append((number, "mobile" if mobile else "landline", base - 0.05 * guessed))
        else:
            # Extra digits around it (a misheard word, an extension): less sure.
            candidates += [(m.group(0), "mobile", 0.5) for m in _MOBILE.finditer(r.digits)]
        factor = at.asr_factor * (1.0 if at.speaker == "caller" else 0.6)
        for value, kind, base in candidates:
            ev = segment_evidence(kind, said, at)
            have = found.get(value)
            if have is None:
                found[value] = Phone(value, kind, round(base * factor, 2), (ev,))
            else:  # read back by the agent, or repeated
                conf = min(0.98, max(have.confidence, base * factor) + 0.05)
                found[value] = Phone(value, kind, round(conf, 2), (*have.evidence, ev))
    return tuple(found.values())
