"""A ticket draft from a call's transcript: pure, no I/O, explainable.

``extract(transcript, taxonomy=..., ivr_kind=..., now=...)`` reads the caller's turns (the
agent's may confirm, never override) and proposes the request kind and category (phrase scores,
the IVR choice as a prior), places (the gazetteer, then road/district patterns in English and
Mandarin), phone numbers (also spoken digit by digit), dates and times (resolved against
``now``), urgency, and an extractive summary (the caller's key sentences). Every field keeps its
evidence (what was said, by whom, when) and ``source: "system"`` until the agent confirms it.

ASR text is lower case without punctuation, and Vosk's Mandarin models put spaces between
words: English is matched word by word on the spaced text, Mandarin on the text with the spaces
between Chinese characters removed. Sentences are cut at silences longer than
``taxonomy.sentence_gap`` between words.

Without ``now`` relative dates ("yesterday", 上周) are kept as phrases and not resolved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from typing import Any, Literal

from asr.draft_settings import (
    CJK,
    CompiledTaxonomy,
    DraftTaxonomy,
    GazetteerPlace,
    PhraseMatcher,
    PlaceKind,
)
from asr.types import Speaker, Transcript, Turn, Word

__all__ = [
    "Choice",
    "DateMention",
    "Draft",
    "DraftTaxonomy",  # the settings, re-exported for callers of extract()
    "Evidence",
    "Phone",
    "PlaceMention",
    "Sentence",
    "Summary",
    "Urgency",
    "extract",
]

Source = Literal["system"]
DateKind = Literal["date", "range", "duration", "since", "recurring", "time"]
UrgencyLevel = Literal["none", "medium", "high"]


# ---------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class Evidence:
    """One thing said that supports a field."""

    phrase: str  # the configured phrase, gazetteer name or rule that matched
    text: str  # what the transcript says there
    speaker: Speaker
    at: float  # seconds from the start of the call (its sentence's start)


@dataclass(frozen=True)
class Choice:
    """Request kind or category: the best-scoring label, or None when nothing (or a tie)."""

    value: str | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)  # every candidate, for the agent
    prior: str | None = None  # the IVR's kind, when it counted
    note: str = ""
    source: Source = "system"


@dataclass(frozen=True)
class PlaceMention:
    value: str  # normalised name: "Heping Road", 和平路
    label: str  # with the house number: "12 Heping Road", 和平路12号
    kind: PlaceKind
    number: str | None
    known: bool  # found in the gazetteer
    en: str | None  # both names when the gazetteer knows them
    zh: str | None
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class Phone:
    value: str  # digits only
    kind: Literal["mobile", "landline"]
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class DateMention:
    phrase: str  # as said: "for a week", 昨天
    kind: DateKind
    start: date | None  # resolved against ``now``; None without it (or for a time of day)
    end: date | None
    days: int | None  # length of a duration
    time: str | None  # "HH:MM" for a clock time
    approximate: bool  # "a few days", 几天, months counted as 30 days
    confidence: float
    evidence: tuple[Evidence, ...]
    source: Source = "system"


@dataclass(frozen=True)
class Urgency:
    level: UrgencyLevel
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    negated: tuple[Evidence, ...] = ()  # "not urgent", 不紧急: heard and not counted
    source: Source = "system"


@dataclass(frozen=True)
class Sentence:
    text: str
    start: float
    end: float
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    text: str
    sentences: tuple[Sentence, ...]
    confidence: float
    source: Source = "system"


@dataclass(frozen=True)
class Draft:
    """What the system proposes for the ticket; every field stays ``source: "system"`` until
    the agent confirms it on the form."""

    language: str
    kind: Choice
    category: Choice
    places: tuple[PlaceMention, ...]
    phones: tuple[Phone, ...]
    dates: tuple[DateMention, ...]
    urgency: Urgency
    summary: Summary
    source: Source = "system"

    @property
    def location(self) -> str | None:
        """The best place, with its district when one was named apart from it."""
        if not self.places:
            return None
        best = max(self.places, key=lambda p: (p.kind != "district", p.confidence))
        district = next(
            (p for p in self.places if p.kind == "district" and p is not best), None
        )  # places are sorted by confidence, so this is the likeliest district
        if best.kind == "district" or district is None:
            return best.label
        if _is_chinese(best.label):
            return f"{district.zh or district.label}{best.label}"
        return f"{best.label}, {district.en or district.label}"

    def ticket_fields(self) -> dict[str, str | None]:
        """Suggestions for the ticket form (all system-filled; None where nothing was found)."""
        return {
            "kind": self.kind.value,
            "category": self.category.value,
            "location": self.location,
            "description": self.summary.text or None,
        }

    def as_dict(self) -> dict[str, Any]:
        out = _jsonable(self)
        assert isinstance(out, dict)
        out["ticket_fields"] = self.ticket_fields()
        return out


def _jsonable(v: Any) -> Any:
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, date):
        return v.isoformat()
    return v


# ---------------------------------------------------------------------------------------------
# Sentences


@dataclass(frozen=True)
class _Segment:
    """A sentence: one speaker's words between silences longer than the gap."""

    index: int
    speaker: Speaker
    start: float
    end: float
    words: tuple[Word, ...]
    tokens: tuple[str, ...]  # normalised (lower case, no punctuation or apostrophes)
    en: str  # tokens joined by spaces
    zh: str  # spaces between Chinese characters removed
    conf: float  # mean word confidence

    @property
    def asr_factor(self) -> float:
        # A mention heard with low ASR confidence counts less.
        return 0.5 + 0.5 * self.conf


_UNK = frozenset({"[unk]", "<unk>", "[noise]", "<noise>", "[laughter]"})
_PUNCT = ' \t.,!?;:"()[]{}，。！？；：、“”‘’（）…-'  # noqa: RUF001


def _norm(word: str) -> str:
    w = word.lower()
    if w in _UNK:
        return ""
    return w.strip(_PUNCT).replace("'", "").replace("\u2019", "")


def _is_chinese(text: str) -> bool:
    return CJK.search(text) is not None


def _joins(a: str, b: str) -> bool:
    """No space between two tokens in the compact text (Chinese next to Chinese or digits)."""
    ca, cb = _is_chinese(a[-1]), _is_chinese(b[0])
    return (ca and (cb or b[0].isdigit())) or (cb and a[-1].isdigit())


def _compact(tokens: Sequence[str]) -> str:
    out = ""
    for t in tokens:
        if out and not _joins(out, t):
            out += " "
        out += t
    return out


def _turns(transcript: Transcript) -> tuple[Turn, ...]:
    if transcript.turns:
        return transcript.turns
    # Not merged yet: one turn per leg still gives the caller's words.
    return tuple(
        Turn(leg.speaker, leg.words[0].start, leg.words[-1].end, leg.words)
        for leg in transcript.legs
        if leg.words
    )


def _segments(turns: Iterable[Turn], gap: float) -> list[_Segment]:
    out: list[_Segment] = []

    def flush(speaker: Speaker, words: list[Word]) -> None:
        kept = [(w, t) for w in words if (t := _norm(w.text))]
        if not kept:
            return
        ws = tuple(w for w, _ in kept)
        tokens = tuple(t for _, t in kept)
        out.append(
            _Segment(
                index=len(out),
                speaker=speaker,
                start=ws[0].start,
                end=ws[-1].end,
                words=ws,
                tokens=tokens,
                en=" ".join(tokens),
                zh=_compact(tokens),
                conf=sum(w.conf for w in ws) / len(ws),
            )
        )

    for turn in turns:
        current: list[Word] = []
        for w in turn.words:
            if current and w.start - current[-1].end > gap:
                flush(turn.speaker, current)
                current = []
            current.append(w)
        flush(turn.speaker, current)
    return out


def _evidence(phrase: str, text: str, seg: _Segment) -> Evidence:
    return Evidence(phrase=phrase, text=text, speaker=seg.speaker, at=round(seg.start, 2))


# ---------------------------------------------------------------------------------------------
# Phrases: kind, category, urgency


@dataclass(frozen=True)
class _Hit:
    matcher: PhraseMatcher
    seg: _Segment
    text: str
    span: tuple[int, int]


def _scan(matchers: Iterable[PhraseMatcher], segs: Iterable[_Segment]) -> list[_Hit]:
    hits: list[_Hit] = []
    for seg in segs:
        for m in matchers:
            text = seg.en if m.language == "en" else seg.zh
            hits += [_Hit(m, seg, mo.group(0), mo.span()) for mo in m.pattern.finditer(text)]

    # A phrase inside a longer one of the same label (路灯 in 路灯不亮) is the same evidence.
    def inside(a: _Hit, b: _Hit) -> bool:
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


def _score(hits: Sequence[_Hit], agent_weight: float) -> dict[str, float]:
    by_phrase: dict[tuple[str, str], list[_Hit]] = {}
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


def _choose(
    hits: Sequence[_Hit],
    agent_weight: float,
    prior: str | None = None,
    prior_weight: float = 0.0,
) -> Choice:
    scores = _score(hits, agent_weight)
    if prior is not None and prior_weight > 0:
        scores[prior] = scores.get(prior, 0.0) + prior_weight
    scores = {k: round(v, 3) for k, v in scores.items() if v > 0}
    if not scores:
        return Choice(None, 0.0)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top_label, top = ranked[0]
    tied = [label for label, s in ranked if math.isclose(s, top)]
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
    note = ""
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


def _evidence_of(hits: Iterable[_Hit], labels: set[str]) -> tuple[Evidence, ...]:
    out = [
        _evidence(h.matcher.phrase, h.text, h.seg)
        for h in sorted(hits, key=lambda h: (h.seg.index, h.span[0]))
        if h.matcher.label in labels
    ]
    return tuple(out)


# Words that turn an urgency word around: "not urgent", "no danger", 不紧急, 没有危险.
_EN_NEGATIONS = frozenset({"not", "no", "isnt", "wasnt", "never", "nothing", "dont", "aint"})
_ZH_NEGATION = re.compile(r"(?:不|没有?|并不|不太|不是很|不算|不怎么|无)$")


def _negated(h: _Hit) -> bool:
    if h.matcher.language == "en":
        before = h.seg.en[: h.span[0]].split()[-3:]
        return any(t in _EN_NEGATIONS for t in before)
    return _ZH_NEGATION.search(h.seg.zh[: h.span[0]]) is not None


def _urgency(hits: Sequence[_Hit]) -> Urgency:
    counted = [h for h in hits if not _negated(h)]
    negated = tuple(_evidence(h.matcher.phrase, h.text, h.seg) for h in hits if _negated(h))
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


# ---------------------------------------------------------------------------------------------
# Numbers

_EN_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_EN_DIGIT = {w: str(i) for w, i in _EN_SMALL.items() if i < 10} | {"oh": "0", "o": "0"}
_EN_NUMBER_WORDS = frozenset({*_EN_SMALL, *_EN_TENS, "hundred", "thousand"})
# 幺 is how 1 is read in phone numbers; 两 is 2 before a measure word.
_ZH_DIGIT = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "幺": 1, "两": 2}  # noqa: RUF001
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}


def _en_number(tokens: Sequence[str]) -> int | None:
    """'twelve', 'one hundred twenty three', '12', or digit by digit 'one two' (12)."""
    if not tokens:
        return None
    if all(t.isdigit() for t in tokens):
        return int("".join(tokens))
    if len(tokens) > 1 and all(t in _EN_DIGIT for t in tokens):
        return int("".join(_EN_DIGIT[t] for t in tokens))
    total = current = 0
    for t in tokens:
        if t.isdigit():
            current += int(t)
        elif t in _EN_SMALL:
            current += _EN_SMALL[t]
        elif t in _EN_TENS:
            current += _EN_TENS[t]
        elif t == "hundred":
            current = max(current, 1) * 100
        elif t == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    return total + current


def _zh_number(text: str) -> int | None:
    """十二 → 12, 一百零五 → 105, 一二三 (read digit by digit) → 123, 12 → 12."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGIT and ch not in _ZH_UNIT for ch in text):
        return None
    if len(text) > 1 and not any(ch in _ZH_UNIT for ch in text):
        return int("".join(str(_ZH_DIGIT[ch]) for ch in text))
    total = num = 0
    for ch in text:
        if ch in _ZH_DIGIT:
            num = _ZH_DIGIT[ch]
        else:
            total += (num or 1) * _ZH_UNIT[ch]
            num = 0
    return total + num


# ---------------------------------------------------------------------------------------------
# Places

_EN_SUFFIX: dict[str, PlaceKind] = {
    "road": "road",
    "street": "road",
    "avenue": "road",
    "lane": "road",
    "alley": "road",
    "boulevard": "road",
    "district": "district",
    "community": "community",
    "estate": "community",
    "village": "village",
    "square": "landmark",
    "bridge": "landmark",
}
# "on/at/near X Road": a name right after one of these is most likely a real place.
_EN_CUES = frozenset(
    "on at near in along by to from off of beside behind opposite outside past into onto "
    "around the".split()
)
# Words that are not the name in "<Name> Road" ("the street", "this road", "a broken road").
_EN_NOT_NAME = frozenset(
    "a an the this that these those my our your his her its their which what whose same other "
    "next every each any some no main whole one big small old new broken busy bad dark side "
    "back bus bike cycle dirt private public nearby local i we you he she it they is was are "
    "were be been has have had and or but so if then there here where when".split()
)
_ZH_SUFFIX: dict[str, PlaceKind] = {
    "小区": "community",
    "社区": "community",
    "大道": "road",
    "大街": "road",
    "广场": "landmark",
    "胡同": "road",
    "路": "road",
    "街": "road",
    "巷": "road",
    "区": "district",
    "村": "village",
    "桥": "landmark",
}
# Characters that never start or sit inside a place name here: they end the name search,
# so 住在和平路 gives 和平路, not 住在和平路.
_ZH_STOP = (
    "的了在是我你他她它们这那个就都也还把被从到向往说要会能很太没不呢吗吧啊呀嘛哦喂您"
    "请问想给让叫对跟与或及并而但因所如已住去来过着得每"
)
_ZH_PLACE = re.compile(
    # Two characters at least: one-character "names" are words (马路, 边路 of 那边路灯).
    rf"(?P<name>(?:(?![{_ZH_STOP}])[\u4e00-\u9fff0-9]){{2,8}}?)"
    rf"(?P<suffix>{'|'.join(sorted(_ZH_SUFFIX, key=len, reverse=True))})"
)
_ZH_HOUSE = re.compile(r"\s?(?P<n>\d+|[零〇一二两三四五六七八九十百千]+)号")
# Words that end like a place and are not one: 马路 (a road), 知道, 线路 (a power line), 小区.
_ZH_GENERIC_ENDINGS = (
    "马路 公路 道路 小路 大路 铁路 线路 电路 水路 网路 思路 出路 走路 迷路 一路 上路 带路 "
    "过路 让路 半路 大街 逛街 上街 市区 城区 郊区 山区 景区 园区 辖区 片区 地区 灾区 农村 "
    "乡村 山村 全村 本村 老区 新区 这区"
).split()
_ZH_GENERIC_WORDS = frozenset({"小区", "社区", "街", "大道", "广场", "桥", "村"})


@dataclass
class _PlaceAcc:
    """Mentions of one place being gathered (merged by name and house number)."""

    value: str
    kind: PlaceKind
    number: str | None
    known: bool
    en: str | None
    zh: str | None
    confidence: float = 0.0
    mentions: int = 0
    caller: bool = False
    evidence: list[Evidence] = field(default_factory=list)


def _en_house_number(tokens: Sequence[str], start: int, end: int) -> str | None:
    """A number said before the name ("twelve heping road") or after it ("number twelve")."""
    j = start
    while (
        j > 0 and start - j < 5 and (tokens[j - 1] in _EN_NUMBER_WORDS or tokens[j - 1].isdigit())
    ):
        j -= 1
    if j < start and not (
        j > 0 and (tokens[j - 1] in _EN_NUMBER_WORDS or tokens[j - 1].isdigit())
    ):  # a longer run of numbers (a phone number) is not a house number
        n = _en_number(tokens[j:start])
        if n is not None and 0 < n < 10000:
            return str(n)
    if end < len(tokens) and tokens[end] in ("number", "no"):
        k = end + 1
        while (
            k < len(tokens)
            and k - end <= 4
            and (tokens[k] in _EN_NUMBER_WORDS or tokens[k].isdigit())
        ):
            k += 1
        n = _en_number(tokens[end + 1 : k])
        if n is not None and 0 < n < 10000:
            return str(n)
    return None


def _sounds_like(
    name: Sequence[str], kind: PlaceKind, compiled: CompiledTaxonomy
) -> tuple[GazetteerPlace, float] | None:
    """The gazetteer place of this kind whose name (without its "Road") is most like
    ``name``, if alike enough (``sounds_like``)."""
    threshold = compiled.sounds_like
    heard = "".join(name)
    if threshold >= 1 or len(heard) < 4:  # short words match too much by chance
        return None
    best: tuple[GazetteerPlace, float] | None = None
    for words, place in compiled.places_en:
        if place.kind != kind or len(words) < 2 or words[-1] not in _EN_SUFFIX:
            continue
        ratio = SequenceMatcher(None, heard, "".join(words[:-1])).ratio()
        if ratio >= threshold and (best is None or ratio > best[1]):
            best = (place, ratio)
    return best


def _places_of(
    seg: _Segment, compiled: CompiledTaxonomy
) -> list[tuple[_PlaceAcc, float, Evidence]]:
    found: list[tuple[_PlaceAcc, float, Evidence]] = []
    tokens = seg.tokens

    def known(p: GazetteerPlace, chinese: bool, number: str | None) -> _PlaceAcc:
        value = p.zh if chinese and p.zh else p.name
        return _PlaceAcc(value, p.kind, number, True, p.name, p.zh or None)

    # English: the gazetteer first (longest names first), then "<Name> Road" patterns.
    covered: set[int] = set()
    for i in range(len(tokens)):
        if i in covered:
            continue
        for words, place in compiled.places_en:
            n = len(words)
            if tuple(tokens[i : i + n]) == words and not covered & set(range(i, i + n)):
                covered |= set(range(i, i + n))
                number = _en_house_number(tokens, i, i + n)
                said = " ".join(tokens[i : i + n])
                found.append((known(place, False, number), 0.9, _evidence(place.name, said, seg)))
                break
    for i, word in enumerate(tokens):
        # The recogniser often writes the plural ("heping roads"): the same road.
        t = word[:-1] if word.endswith("s") and word[:-1] in _EN_SUFFIX else word
        if t not in _EN_SUFFIX or i in covered:
            continue
        j = i
        while (
            j > 0
            and i - j < 3
            and tokens[j - 1].isalpha()
            and tokens[j - 1] not in _EN_NOT_NAME
            and tokens[j - 1] not in _EN_CUES
            and tokens[j - 1] not in _EN_SUFFIX
            and tokens[j - 1] not in _EN_NUMBER_WORDS
            and j - 1 not in covered
        ):
            j -= 1
        if j == i:
            continue
        cue = j > 0 and tokens[j - 1] in _EN_CUES
        name = " ".join(w.capitalize() for w in tokens[j : i + 1])
        number = _en_house_number(tokens, j, i + 1)
        said = " ".join(tokens[j : i + 1])
        alike = _sounds_like(tokens[j:i], _EN_SUFFIX[t], compiled)
        if alike is not None:
            place, ratio = alike
            rule = f"sounds like {place.name} ({ratio:.2f})"
            found.append((known(place, False, number), 0.5, _evidence(rule, said, seg)))
            continue
        acc = _PlaceAcc(name, _EN_SUFFIX[t], number, False, name, None)
        rule = "on/at/near <name> " + t if cue else "<name> " + t
        found.append((acc, 0.6 if cue or number else 0.45, _evidence(rule, said, seg)))

    # Mandarin, on the compact text.
    text = seg.zh
    spans: list[tuple[int, int]] = []
    for name, place in compiled.places_zh:
        pos = text.find(name)
        while pos >= 0:
            end = pos + len(name)
            if not any(a < end and pos < b for a, b in spans):
                spans.append((pos, end))
                house = _ZH_HOUSE.match(text, end)
                number = _zh_house(house)
                said = text[pos : house.end() if house else end]
                found.append((known(place, True, number), 0.9, _evidence(name, said, seg)))
            pos = text.find(name, end)
    for mo in _ZH_PLACE.finditer(text):
        a, b = mo.span()
        # The regex finds the leftmost start: 我知道阳光小区 gives 知道阳光小区. Words that
        # begin a clause, and the taxonomy's own phrases (投诉, 举报), are not the name.
        a += _name_prefix(mo.group("name"), compiled.zh_phrases)
        whole = text[a:b]
        if any(a < y and x < b for x, y in spans):
            continue
        if whole in _ZH_GENERIC_WORDS or whole.endswith(tuple(_ZH_GENERIC_ENDINGS)):
            continue
        house = _ZH_HOUSE.match(text, b)
        number = _zh_house(house)
        acc = _PlaceAcc(whole, _ZH_SUFFIX[mo.group("suffix")], number, False, None, whole)
        said = text[a : house.end() if house else b]
        found.append(
            (acc, 0.6 if number else 0.5, _evidence("<名>" + mo.group("suffix"), said, seg))
        )
    return found


_ZH_CLAUSE_WORDS = tuple(
    "知道 觉得 就是 那个 这个 我们 你们 他们 附近 门口 旁边 对面 楼下 楼上 位于 关于 反映 "
    "还有 现在 已经 然后 所以 因为 但是 而且 这边 那边 里面 外面".split()
)


def _name_prefix(name: str, phrases: Sequence[str]) -> int:
    """How many leading characters of a matched place name are other words."""
    cut = 0
    while True:
        rest = name[cut:]
        word = next(
            (
                w
                for w in (*_ZH_CLAUSE_WORDS, *phrases)
                if rest.startswith(w) and len(rest) - len(w) >= 2
            ),
            None,
        )
        if word is None:
            return cut
        cut += len(word)


def _zh_house(mo: re.Match[str] | None) -> str | None:
    if mo is None:
        return None
    n = _zh_number(mo.group("n"))
    return str(n) if n is not None and 0 < n < 10000 else None


def _places(segs: Sequence[_Segment], compiled: CompiledTaxonomy) -> tuple[PlaceMention, ...]:
    accs: dict[tuple[str, str | None], _PlaceAcc] = {}
    order: list[tuple[str, str | None]] = []
    for seg in segs:
        for acc, base, ev in _places_of(seg, compiled):
            # One key for 和平路 and "heping road": the gazetteer's English name.
            key = ((acc.en or acc.value) if acc.known else acc.value, acc.number)
            have = accs.get(key)
            if have is None:
                accs[key] = have = acc
                order.append(key)
            conf = base * seg.asr_factor * (1.0 if seg.speaker == "caller" else 0.5)
            have.confidence = max(have.confidence, conf)
            have.mentions += 1
            have.caller = have.caller or seg.speaker == "caller"
            have.evidence.append(ev)
    # A place with a house number already covers the same place said without one.
    for (value, number), acc in list(accs.items()):
        if number is None and any(v == value and n for v, n in accs):
            numbered = next(a for (v, n), a in accs.items() if v == value and n)
            numbered.evidence += acc.evidence
            numbered.mentions += acc.mentions
            numbered.caller = numbered.caller or acc.caller
            del accs[(value, number)]
    out = []
    for key in order:
        if key not in accs:
            continue
        acc = accs[key]
        # Said again (or read back by the agent): more likely right.
        conf = min(0.98, acc.confidence + 0.05 * (acc.mentions - 1))
        if _is_chinese(acc.value):
            label = f"{acc.value}{acc.number}号" if acc.number else acc.value
        else:
            label = f"{acc.number} {acc.value}" if acc.number else acc.value
        out.append(
            PlaceMention(
                value=acc.value,
                label=label,
                kind=acc.kind,
                number=acc.number,
                known=acc.known,
                en=acc.en,
                zh=acc.zh,
                confidence=round(conf, 2),
                evidence=tuple(acc.evidence),
            )
        )
    out.sort(key=lambda p: -p.confidence)  # stable: equal ones keep the order they were said
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Phone numbers

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code 010 or 02x then 8 digits; other area codes have 4 digits then 7 or 8.
_LANDLINE = re.compile(r"0(?:10|2\d)\d{8}|0[3-9]\d{2}\d{7,8}")
_PHONE_FILLERS = frozenset({"uh", "um", "er", "erm", "dash", "hyphen", "呃", "嗯", "啊"})


def _digits(token: str) -> str | None:
    if token.isascii() and token.isdigit():
        return token
    if token in _EN_DIGIT:
        return _EN_DIGIT[token]
    if token and all(ch in _ZH_DIGIT for ch in token):
        return "".join(str(_ZH_DIGIT[ch]) for ch in token)
    return None


def _close_run(
    runs: list[tuple[str, list[Word], _Segment]],
    digits: str,
    words: list[Word],
    first: _Segment | None,
) -> tuple[str, list[Word], None]:
    if first is not None and len(digits) >= 7:
        runs.append((digits, words, first))
    return "", [], None


def _phones(segs: Sequence[_Segment]) -> tuple[Phone, ...]:
    # Numbers are said in groups with pauses between them: read runs across a speaker's
    # consecutive sentences, not inside one.
    runs: list[tuple[str, list[Word], _Segment]] = []
    digits = ""
    words: list[Word] = []
    first: _Segment | None = None
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
            ev = _evidence(kind, said, seg)
            have = found.get(value)
            if have is None:
                found[value] = Phone(value, kind, round(base * factor, 2), (ev,))
            else:  # read back by the agent, or repeated
                conf = min(0.98, max(have.confidence, base * factor) + 0.05)
                found[value] = Phone(value, kind, round(conf, 2), (*have.evidence, ev))
    return tuple(found.values())


# ---------------------------------------------------------------------------------------------
# Dates and times

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_NUM = (
    r"(?:\d+|a couple of|couple of|a few|few|several|a|an|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)"
)
_EN_UNIT = r"(?:minute|hour|day|night|week|month|year)s?"
_EN_HOUR = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_UNIT_DAYS = {"minute": 0, "hour": 0, "day": 1, "night": 1, "week": 7, "month": 30, "year": 365}
_ZH_UNIT_DAYS = {
    "分钟": 0,
    "小时": 0,
    "天": 1,
    "晚": 1,
    "晚上": 1,
    "周": 7,
    "星期": 7,
    "礼拜": 7,
    "月": 30,
    "年": 365,
}
_ZH_NUM = r"[零〇一二两三四五六七八九十百\d]+|好几|几|半"

_EN_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ago", re.compile(rf"\b(?P<n>{_EN_NUM})\s+(?P<u>{_EN_UNIT})\s+ago\b")),
    ("day_before", re.compile(r"\bthe\s+day\s+before\s+yesterday\b")),
    ("past", re.compile(r"\b(?:for|over|in)\s+the\s+(?:last|past)\s+(?P<u>day|week|month|year)\b")),
    (
        "duration",
        re.compile(
            rf"\b(?:(?:for|over)\s+)?(?:the\s+(?:last|past)\s+)?"
            rf"(?:about\s+|almost\s+|nearly\s+|more\s+than\s+|over\s+)?"
            rf"(?P<n>{_EN_NUM})\s+(?P<u>{_EN_UNIT})\b"
        ),
    ),
    ("period", re.compile(r"\b(?P<mod>last|this)\s+(?P<p>week|month|year)\b")),
    ("weekday", re.compile(rf"\b(?:(?P<mod>last|this|on)\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b")),
    ("yesterday", re.compile(r"\byesterday\b|\blast\s+night\b")),
    ("today", re.compile(r"\btoday\b|\btonight\b|\bthis\s+(?:morning|afternoon|evening)\b")),
    (
        "recurring",
        re.compile(
            r"\b(?:every|each)\s+(?:single\s+)?(?:day|night|morning|evening|afternoon|weekend)\b"
            r"|\ball\s+night(?:\s+long)?\b"
        ),
    ),
    (
        "clock",
        re.compile(
            rf"\b(?:(?:at|around|about|after|before|until|till|from)\s+)?(?P<h>{_EN_HOUR})"
            r"(?:\s+(?P<m>thirty|fifteen|forty\s+five|\d\d))?"
            r"\s*(?P<ap>oclock|a\s?m|p\s?m|in\s+the\s+(?:morning|afternoon|evening)|at\s+night)\b"
        ),
    ),
    ("noon", re.compile(r"\b(?:(?:at|around|after|until|till)\s+)?(?P<w>midnight|noon)\b")),
)
_ZH_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ago",
        re.compile(
            rf"(?P<n>{_ZH_NUM})(?P<c>个)?(?P<more>多)?个?"
            r"(?P<u>天|晚上|晚|周|星期|礼拜|月|年|小时|分钟)(?:多|左右)?(?:以前|之前|前)"
        ),
    ),
    (
        "duration",
        re.compile(
            rf"(?P<n>{_ZH_NUM})(?P<c>个)?(?P<more>多)?个?"
            r"(?P<u>天|晚上|晚|周|星期|礼拜|月|年|小时|分钟)(?P<more2>多)?"
        ),
    ),
    (
        "weekday",
        re.compile(
            r"(?P<pre>上个?|这个?|本|下个?)?(?:星期|礼拜|周)"
            r"(?:(?P<wd>[二三四五六日天])|(?P<one>一)(?![直定样切些般起共点次个会天边]))"
        ),
    ),
    ("relday", re.compile(r"大前天|前天|昨天|昨晚|昨日|今天|今晚|今早|今日|今儿")),
    (
        "period",
        re.compile(
            r"上个?(?:星期|礼拜|周|月)|上月|这个?(?:星期|礼拜|月)|本(?:周|月)|这周|去年|今年"
        ),
    ),
    (
        "recurring",
        re.compile(
            # 每天晚上, but not the 晚上 of 每天晚上十点: the clock rule reads that as 22:00.
            r"每(?:天|晚|日|周|个?星期|个?礼拜|个?月)"
            r"(?:(?:晚上|早上|夜里|凌晨)(?![零一二两三四五六七八九十\d]))?|天天|整晚|整夜|通宵"
        ),
    ),
    (
        "clock",
        re.compile(
            r"(?P<part>早上|上午|中午|下午|傍晚|晚上|夜里|半夜|深夜|凌晨)?"
            r"(?P<h>[零一二两三四五六七八九十]+|\d{1,2})点(?P<zhong>钟)?"
            r"(?P<m>半|[零一二三四五六七八九十]+分?|\d{1,2}分?)?"
        ),
    ),
    ("night", re.compile(r"半夜|深夜|凌晨|夜里")),
)
_ZH_RELDAY = {
    "大前天": -3,
    "前天": -2,
    "昨天": -1,
    "昨晚": -1,
    "昨日": -1,
    "今天": 0,
    "今晚": 0,
    "今早": 0,
    "今日": 0,
    "今儿": 0,
}


@dataclass(frozen=True)
class _When:
    """A date or time phrase before it becomes a DateMention."""

    kind: DateKind
    start: date | None = None
    end: date | None = None
    days: int | None = None
    time: str | None = None
    approximate: bool = False


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _month_start(d: date, back: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - back, 12)
    return date(y, m + 1, 1)


def _period(today: date, what: str, back: int) -> tuple[date, date]:
    """Last (back=1) or this (back=0) week, month or year, as first and last day."""
    if what == "week":
        first = _monday(today) - timedelta(days=7 * back)
        return first, (first + timedelta(days=6)) if back else today
    if what == "month":
        first = _month_start(today, back)
        return first, (_month_start(today, back - 1) - timedelta(days=1)) if back else today
    first = date(today.year - back, 1, 1)
    return first, date(first.year, 12, 31) if back else today


def _last_weekday(today: date, weekday: int, strictly_before: bool) -> date:
    delta = (today.weekday() - weekday) % 7
    if delta == 0 and strictly_before:
        delta = 7
    return today - timedelta(days=delta)


def _en_count(n: str) -> tuple[float, bool]:
    n = n.replace("  ", " ")
    if n in ("a", "an"):
        return 1, False
    if n.endswith("couple of"):
        return 2, True
    if n in ("a few", "few", "several"):
        return 3, True
    value = _en_number([n])
    return float(value if value is not None else 1), False


def _zh_count(n: str) -> tuple[float, bool]:
    if n == "半":
        return 0.5, False
    if n in ("几", "好几"):
        return 3, True
    value = _zh_number(n)
    return float(value if value is not None else 1), False


def _duration(today: date | None, count: float, unit_days: int, approx: bool) -> _When:
    days = round(count * unit_days)
    start = today - timedelta(days=days) if today else None
    return _When("duration", start, today, days, approximate=approx or unit_days >= 30)


def _point(today: date | None, offset_days: int, approx: bool = False) -> _When:
    d = today + timedelta(days=offset_days) if today else None
    return _When("date", d, d, approximate=approx)


def _clock(hour: int | None, minute: int, pm: bool | None) -> str | None:
    if hour is None or not 0 <= hour <= 24 or not 0 <= minute < 60:
        return None
    if pm and hour < 12:
        hour += 12
    elif pm is False and hour == 12:
        hour = 0
    return f"{hour % 24:02d}:{minute:02d}"


def _en_when(rule: str, mo: re.Match[str], before: str, today: date | None) -> _When | None:
    g = mo.groupdict()
    if rule == "ago":
        count, approx = _en_count(g["n"])
        unit = g["u"].rstrip("s")
        return _point(today, -round(count * _UNIT_DAYS[unit]), approx or unit in ("month", "year"))
    if rule == "day_before":
        return _point(today, -2)
    if rule == "past":
        return _duration(today, 1, _UNIT_DAYS[g["u"]], False)
    if rule == "duration":
        # "three times a week", "once a day": a frequency, not how long.
        if re.search(r"\b(?:times|twice|once|per)\s*$", before):
            return None
        count, approx = _en_count(g["n"])
        return _duration(today, count, _UNIT_DAYS[g["u"].rstrip("s")], approx)
    if rule == "period":
        back = 1 if g["mod"] == "last" else 0
        if today is None:
            return _When("range")
        first, last = _period(today, g["p"], back)
        return _When("range", first, last)
    if rule == "weekday":
        if today is None:
            return _When("date")
        d = _last_weekday(today, _WEEKDAYS.index(g["wd"]), g["mod"] == "last")
        return _When("date", d, d)
    if rule == "yesterday":
        return _point(today, -1)
    if rule == "today":
        return _point(today, 0)
    if rule == "recurring":
        return _When("recurring")
    if rule == "clock":
        hour = _en_number([g["h"]])
        minute = _en_number(g["m"].split()) if g["m"] else 0
        ap = g["ap"].replace(" ", "")
        pm = (
            None if ap in ("oclock",) else ap in ("pm", "intheafternoon", "intheevening", "atnight")
        )
        return _When("time", time=_clock(hour, minute or 0, pm))
    if rule == "noon":
        return _When("time", time="00:00" if g["w"] == "midnight" else "12:00")
    return None


def _zh_when(rule: str, mo: re.Match[str], today: date | None) -> _When | None:
    g = mo.groupdict()
    text = mo.group(0)
    if rule in ("ago", "duration"):
        unit = g["u"]
        if unit == "月" and not g["c"] and g["n"] != "半":
            return None  # 三月 is March; three months is 三个月
        count, approx = _zh_count(g["n"])
        if unit == "年" and count >= 100:
            return None  # 2025年 is a year, not a duration
        approx = approx or bool(g["more"]) or bool(g.get("more2"))
        if rule == "ago":
            return _point(today, -round(count * _ZH_UNIT_DAYS[unit]), approx or unit in "月年")
        return _duration(today, count, _ZH_UNIT_DAYS[unit], approx)
    if rule == "weekday":
        wd = _ZH_WEEKDAY[g["wd"] or g["one"]]
        pre = (g["pre"] or "")[:1]
        if today is None:
            return _When("date")
        if pre == "上":
            d = _monday(today) - timedelta(days=7) + timedelta(days=wd)
        elif pre in ("这", "本"):
            d = _monday(today) + timedelta(days=wd)
        elif pre == "下":
            d = _monday(today) + timedelta(days=7 + wd)
        else:
            d = _last_weekday(today, wd, False)
        return _When("date", d, d)
    if rule == "relday":
        return _point(today, _ZH_RELDAY[text])
    if rule == "period":
        if today is None:
            return _When("range")
        what = "year" if "年" in text else "month" if "月" in text else "week"
        back = 1 if text[0] in "上去" else 0
        first, last = _period(today, what, back)
        return _When("range", first, last)
    if rule == "recurring":
        return _When("recurring")
    if rule == "clock":
        hour = _zh_number(g["h"])
        if g["h"] == "一" and not (g["part"] or g["zhong"] or g["m"]):
            return None  # 一点 is also "a little"
        m = g["m"] or ""
        minute = 30 if m == "半" else (_zh_number(m.rstrip("分")) or 0) if m else 0
        return _When("time", time=_clock(hour, minute, _zh_pm(g["part"] or "", hour)))
    if rule == "night":
        return _When("time")
    return None


def _zh_pm(part: str, hour: int | None) -> bool | None:
    """Whether 晚上十点 is 22:00: afternoon and evening words, unless the hour is small
    (夜里两点 is 02:00)."""
    if hour is None or not part:
        return None
    if part in ("下午", "傍晚"):
        return True
    if part in ("晚上", "夜里", "深夜"):
        return hour >= 5
    if part == "中午":
        return hour <= 3  # 中午一点 is 13:00
    return False  # 早上, 上午, 半夜, 凌晨


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


def _dates(segs: Sequence[_Segment], now: datetime | None) -> tuple[DateMention, ...]:
    today = now.date() if now is not None else None
    out: list[DateMention] = []
    for seg in segs:
        for language, text, rules in (("en", seg.en, _EN_RULES), ("zh", seg.zh, _ZH_RULES)):
            if language == "zh" and not _is_chinese(text):
                continue
            taken: list[tuple[int, int]] = []
            for rule, pattern in rules:
                for mo in pattern.finditer(text):
                    if _overlaps(mo.span(), taken):
                        continue
                    a, b = mo.span()
                    when = (
                        _en_when(rule, mo, text[:a], today)
                        if language == "en"
                        else _zh_when(rule, mo, today)
                    )
                    if when is None:
                        continue
                    taken.append((a, b))
                    a, b, when = _since(language, text, a, b, when, today)
                    out.append(_mention(text[a:b].strip(), when, seg))
    out.sort(key=lambda d: d.evidence[0].at)
    return tuple(out)


_EN_SINCE = re.compile(r"\b(?:since|from)\s+$")
_ZH_SINCE_BEFORE = re.compile(r"(?:自从|从|自)$")
_ZH_SINCE_AFTER = re.compile(r"^(?:开始|以来|起)")


def _since(
    language: str, text: str, a: int, b: int, when: _When, today: date | None
) -> tuple[int, int, _When]:
    """'since monday', 从上周开始: from that day until now."""
    if when.kind not in ("date", "range"):
        return a, b, when
    if language == "en":
        mo = _EN_SINCE.search(text[:a])
        if mo is None:
            return a, b, when
        a = mo.start()
    else:
        before = _ZH_SINCE_BEFORE.search(text[:a])
        after = _ZH_SINCE_AFTER.match(text[b:])
        if before is None and after is None:
            return a, b, when
        a = before.start() if before else a
        b = b + after.end() if after else b
    return a, b, _When("since", when.start, today, approximate=when.approximate)


def _mention(phrase: str, when: _When, seg: _Segment) -> DateMention:
    base = {"duration": 0.7, "time": 0.6, "recurring": 0.6}.get(when.kind, 0.8)
    if when.approximate:
        base -= 0.2
    if when.kind == "time" and when.time is None:
        base = 0.4  # 半夜: a part of the day, no clock time
    return DateMention(
        phrase=phrase,
        kind=when.kind,
        start=when.start,
        end=when.end,
        days=when.days,
        time=when.time,
        approximate=when.approximate,
        confidence=round(base * seg.asr_factor, 2),
        evidence=(_evidence(when.kind, phrase, seg),),
    )


# ---------------------------------------------------------------------------------------------
# Summary

_FILLERS = frozenset(
    "hello hi hey yes yeah yep no ok okay right thanks thank you bye goodbye uh um er erm hmm "
    "sorry please 喂 你好 您好 嗯 啊 哦 对 是 是的 好 好的 谢谢 再见 没有 行".split()
)


def _substantive(seg: _Segment) -> bool:
    content = [t for t in seg.tokens if t not in _FILLERS]
    if _is_chinese(seg.zh):
        return len("".join(content)) >= 4
    return len(content) >= 3


def _summary(
    segs: Sequence[_Segment],
    features: Callable[[_Segment], tuple[float, list[str]]],
    n: int,
    places: Sequence[PlaceMention],
) -> Summary:
    caller = [s for s in segs if s.speaker == "caller" and _substantive(s)]
    scored: list[tuple[float, float, _Segment, list[str]]] = []
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
    chinese = all(_is_chinese(s.text) for s in sentences)
    text = (
        "".join(s.text + "。" for s in sentences)
        if chinese
        else " ".join(s.text + "." for s in sentences)
    )
    return Summary(text, sentences, confidence)


def _display(seg: _Segment, places: Sequence[PlaceMention]) -> str:
    if _is_chinese(seg.zh):
        return _compact([w.text for w in seg.words])
    text = seg.en
    # Normalise the places the caller named: "heping road" → "Heping Road".
    for p in places:
        for ev in p.evidence:
            if not _is_chinese(ev.text) and ev.text:
                text = re.sub(rf"(?<!\w){re.escape(ev.text)}(?!\w)", p.value, text)
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------------------------
# The entry point


def extract(
    transcript: Transcript,
    *,
    taxonomy: DraftTaxonomy,
    ivr_kind: str | None = None,
    now: datetime | None = None,
) -> Draft:
    """The ticket draft of one transcribed call. ``ivr_kind``: the request kind the caller
    chose in the IVR (a prior; ignored unless it is one of the taxonomy's kinds). ``now``: the
    time of the call, to resolve "yesterday" and "for a week" into dates."""
    compiled = taxonomy.compiled
    segs = _segments(_turns(transcript), taxonomy.sentence_gap)
    caller = [s for s in segs if s.speaker == "caller"]

    kind_hits = _scan(compiled.kinds, segs)
    category_hits = _scan(compiled.categories, segs)
    urgency_hits = _scan(compiled.urgency, caller)  # the agent's "if it's an emergency" is not
    prior = ivr_kind if ivr_kind in taxonomy.kinds else None
    kind = _choose(kind_hits, taxonomy.agent_weight, prior, taxonomy.ivr_prior)
    if ivr_kind is not None and prior is None:
        note = f"IVR kind {ivr_kind!r} is not a request kind (no prior)"
        kind = replace(kind, note=f"{kind.note}; {note}" if kind.note else note)
    category = _choose(category_hits, taxonomy.agent_weight)
    places = _places(segs, compiled)
    urgency = _urgency(urgency_hits)
    dates = _dates(caller, now)
    phones = _phones(segs)

    def features(seg: _Segment) -> tuple[float, list[str]]:
        score, reasons = 0.0, []
        for h in (*kind_hits, *category_hits):
            if h.seg is seg:
                score += h.matcher.weight
                reasons.append(f"{h.matcher.label}: {h.matcher.phrase}")
        for h in urgency_hits:
            if h.seg is seg and not _negated(h):
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

    summary = _summary(segs, features, taxonomy.summary_sentences, places)
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
