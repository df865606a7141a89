"""Places: where the problem is, from the gazetteer and from naming patterns.

The gazetteer (``taxonomy.places``) first, longest names first and normalised to their names
(Heping Road / 和平路); then patterns: "<name> road/street/district…" (more sure after
on/at/near; a name that sounds like a gazetteer one is taken for it) and XX路/街/区/小区/村,
each with its house number (twelve, 12号). Mentions of one place are merged, caller first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import pairwise

from drafting.normalise import is_chinese
from drafting.numbers import EN_NUMBER_WORDS, en_number, zh_number
from drafting.segments import Segment, segment_evidence
from drafting.settings import CompiledTaxonomy, GazetteerPlace
from drafting.types import Evidence, PlaceKind, PlaceMention

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
_ZH_NUM = r"\d+|[零〇一二两三四五六七八九十百千]+"
# 和平路12号; in a compound, the building, its unit and the flat: 阳光小区3号楼2单元501室.
_ZH_HOUSE = re.compile(
    rf"\s?(?P<n>{_ZH_NUM})(?P<what>号楼|号院|栋|幢|号)"
    rf"(?:(?P<unit>{_ZH_NUM})单元)?(?:(?P<room>{_ZH_NUM})(?:室|号))?"
)
# Words that end like a place and are not one: 马路 (a road), 知道, 线路 (a power line), 小区.
_ZH_GENERIC_ENDINGS = (
    "马路 公路 道路 小路 大路 铁路 线路 电路 水路 网路 思路 出路 走路 迷路 一路 上路 带路 "
    "过路 让路 半路 大街 逛街 上街 市区 城区 郊区 山区 景区 园区 辖区 片区 地区 灾区 农村 "
    "乡村 山村 全村 本村 老区 新区 这区"
).split()
# What a caller says to correct the place just said: 人民路，不对，是解放路.
# 不是 only before a second 是 (不是，是解放路): 是人民路，不是解放路 keeps 人民路 and names both.
_ZH_CORRECTION = re.compile(r"不对|说错了|说错|应该是|我是说|哦不|不是.*是")
_EN_CORRECTION = re.compile(r"\b(?:sorry|i mean|no wait|correction|or rather)\b")
# Words that begin with a suffix and are not one: 大坑路面 is a pit and a road surface.
_ZH_NOT_SUFFIX = tuple(
    "路面 路灯 路边 路况 路线 路费 路人 路过 路口儿 街坊 广场舞 区别 区域 村民 村里 桥下".split()
)
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
    detail: str | None = None  # building, unit, flat (Chinese compounds): 3号楼2单元
    confidence: float = 0.0
    mentions: int = 0
    caller: bool = False
    evidence: list[Evidence] = field(default_factory=list)


def _en_house_number(tokens: Sequence[str], start: int, end: int) -> str | None:
    """A number said before the name ("twelve heping road") or after it ("number twelve")."""
    j = start
    while j > 0 and start - j < 5 and (tokens[j - 1] in EN_NUMBER_WORDS or tokens[j - 1].isdigit()):
        j -= 1
    if j < start and not (
        j > 0 and (tokens[j - 1] in EN_NUMBER_WORDS or tokens[j - 1].isdigit())
    ):  # a longer run of numbers (a phone number) is not a house number
        n = en_number(tokens[j:start])
        if n is not None and 0 < n < 10000:
            return str(n)
    if end < len(tokens) and tokens[end] in ("number", "no"):
        k = end + 1
        while (
            k < len(tokens)
            and k - end <= 4
            and (tokens[k] in EN_NUMBER_WORDS or tokens[k].isdigit())
        ):
            k += 1
        n = en_number(tokens[end + 1 : k])
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


def _places_of(seg: Segment, compiled: CompiledTaxonomy) -> list[tuple[_PlaceAcc, float, Evidence]]:
    found: list[tuple[_PlaceAcc, float, Evidence]] = []
    # Where each mention was said (start, end, index in found): English in tokens, Mandarin
    # in the compact text, to find the ones the caller corrected.
    en_at: list[tuple[int, int, int]] = []
    zh_at: list[tuple[int, int, int]] = []
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
                found.append(
                    (known(place, False, number), 0.9, segment_evidence(place.name, said, seg))
                )
                en_at.append((i, i + n, len(found) - 1))
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
            and tokens[j - 1] not in EN_NUMBER_WORDS
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
            found.append((known(place, False, number), 0.5, segment_evidence(rule, said, seg)))
            en_at.append((j, i + 1, len(found) - 1))
            continue
        acc = _PlaceAcc(name, _EN_SUFFIX[t], number, False, name, None)
        rule = "on/at/near <name> " + t if cue else "<name> " + t
        found.append((acc, 0.6 if cue or number else 0.45, segment_evidence(rule, said, seg)))
        en_at.append((j, i + 1, len(found) - 1))

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
                acc = known(place, True, number)
                acc.detail = _zh_detail(house)
                found.append((acc, 0.9, segment_evidence(name, said, seg)))
                zh_at.append((pos, end, len(found) - 1))
            pos = text.find(name, end)
    # Then names the recogniser spelled with other characters that sound alike (顺更小区).
    starts: frozenset[int] | None = None  # word starts, segmented only when needed
    if is_chinese(text) and compiled.places_zh_sounds:
        starts = compiled.word_starts(text)
        for m in compiled.places_zh_sounds.find(text, spans, starts):
            spans.append((m.start, m.end))
            house = _ZH_HOUSE.match(text, m.end)
            acc = known(m.value, True, _zh_house(house))
            acc.detail = _zh_detail(house)
            said = text[m.start : house.end() if house else m.end]
            rule = f"sounds like {m.name}" + ("" if m.exact else " (one syllable off)")
            found.append((acc, 0.7 if m.exact else 0.5, segment_evidence(rule, said, seg)))
            zh_at.append((m.start, m.end, len(found) - 1))
    for mo in _ZH_PLACE.finditer(text):
        a, b = mo.span()
        # A name does not run across punctuation: 有个大坑，路面 has no 大坑路.
        a = max((x for x in seg.zh_breaks if a < x < b), default=a)
        # The regex finds the leftmost start: 我知道阳光小区 gives 知道阳光小区. Words that
        # begin a clause, and the taxonomy's own phrases (投诉, 举报), are not the name.
        a += _name_prefix(text[a : mo.start("suffix")], compiled.zh_phrases)
        if text.startswith(_ZH_NOT_SUFFIX, mo.start("suffix")):
            continue  # 路面, 广场舞: the "suffix" begins another word
        if starts is None:
            starts = compiled.word_starts(text)
        # Nor does it start mid-word: 那边跳广场 is 那边 + 跳广场, not 边跳广场.
        a = min(x for x in starts if x >= a)
        if mo.start("suffix") - a < 2 or text[a : mo.start("suffix")] in _ZH_CLAUSE_WORDS:
            continue  # one character left, or a word like 靠近 (靠近路口): not a name
        whole = text[a:b]
        if any(a < y and x < b for x, y in spans):
            continue
        if whole in _ZH_GENERIC_WORDS or whole.endswith(tuple(_ZH_GENERIC_ENDINGS)):
            continue
        house = _ZH_HOUSE.match(text, b)
        number = _zh_house(house)
        acc = _PlaceAcc(
            whole, _ZH_SUFFIX[mo.group("suffix")], number, False, None, whole, _zh_detail(house)
        )
        said = text[a : house.end() if house else b]
        found.append(
            (acc, 0.6 if number else 0.5, segment_evidence("<名>" + mo.group("suffix"), said, seg))
        )
        zh_at.append((a, b, len(found) - 1))
    # "人民路，不对，是解放路": a correction drops the place said just before it.
    dropped = _corrected(zh_at, text, _ZH_CORRECTION, 8) | _corrected(
        en_at, tokens, _EN_CORRECTION, 5
    )
    return [f for k, f in enumerate(found) if k not in dropped]


def _corrected(
    at: list[tuple[int, int, int]],
    text: str | Sequence[str],
    marker: re.Pattern[str],
    reach: int,
) -> set[int]:
    """Indexes (into found) of mentions followed, within ``reach`` characters (Mandarin) or
    words (English), by a correction marker and then another place."""
    out: set[int] = set()
    ordered = sorted(at)
    for (_, end, k), (start, _, _) in pairwise(ordered):
        between = text[end:start]
        said = between if isinstance(between, str) else " ".join(between)
        if 0 <= start - end <= reach and marker.search(said):
            out.add(k)
    return out


_ZH_CLAUSE_WORDS = tuple(
    "知道 觉得 就是 那个 这个 我们 你们 他们 附近 门口 旁边 对面 楼下 楼上 位于 关于 反映 "
    "还有 现在 已经 然后 所以 因为 但是 而且 这边 那边 里面 外面 一下 靠近 挨着 沿着 往前".split()
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
    n = zh_number(mo.group("n"))
    return str(n) if n is not None and 0 < n < 10000 else None


def _zh_detail(mo: re.Match[str] | None) -> str | None:
    """What follows the name, in digits, when it says more than a house number:
    ``3号楼2单元501室``; None for a plain 12号 (the label adds that one)."""
    if mo is None or (mo.group("what") == "号" and not mo.group("unit") and not mo.group("room")):
        return None
    parts = []
    for group, unit in (("n", mo.group("what")), ("unit", "单元"), ("room", "室")):
        said = mo.group(group)
        n = zh_number(said) if said else None
        if n is None or not 0 < n < 100000:
            break
        parts.append(f"{n}{unit}")
    return "".join(parts) or None


def find_places(segs: Sequence[Segment], compiled: CompiledTaxonomy) -> tuple[PlaceMention, ...]:
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
            if len(acc.detail or "") > len(have.detail or ""):
                have.detail = acc.detail  # 3号楼, then 3号楼2单元: the fuller one
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
        if is_chinese(acc.value):
            detail = acc.detail or (f"{acc.number}号" if acc.number else "")
            label = f"{acc.value}{detail}"
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
