"""Dates and times: when it started, how long, how often, at what time of day. English and
Mandarin rules ("three days ago", "for a week", "since monday", 昨天, 上周, 晚上十点…) give dates,
ranges, durations, "since", recurring and clock times, resolved against ``now`` (the call's
time); without ``now`` relative dates are kept as phrases, not resolved."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from drafting.normalise import is_chinese
from drafting.numbers import en_number, zh_number
from drafting.segments import Segment, segment_evidence
from drafting.types import DateKind, DateMention

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
            # Minutes, unless the number is another measure: 十点三月 is 22:00 in March.
            r"(?P<m>半|(?:[零一二三四五六七八九十]+|\d{1,2})(?:分|(?![零一二三四五六七八九十\d月日号天年周个次多])))?"
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
    value = en_number([n])
    return float(value if value is not None else 1), False


def _zh_count(n: str) -> tuple[float, bool]:
    if n == "半":
        return 0.5, False
    if n in ("几", "好几"):
        return 3, True
    value = zh_number(n)
    return float(value if value is not None else 1), False


# A span longer than this is no date but a misheard number ("13912345678 days"): dropped.
_MAX_SPAN_DAYS = 100 * 366


def _duration(today: date | None, count: float, unit_days: int, approx: bool) -> _When | None:
    days = round(count * unit_days)
    if days > _MAX_SPAN_DAYS:
        return None
    start = today - timedelta(days=days) if today else None
    return _When("duration", start, today, days, approximate=approx or unit_days >= 30)


def _point(today: date | None, offset_days: int, approx: bool = False) -> _When | None:
    if abs(offset_days) > _MAX_SPAN_DAYS:
        return None
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
        hour = en_number([g["h"]])
        minute = en_number(g["m"].split()) if g["m"] else 0
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
        hour = zh_number(g["h"])
        if g["h"] == "一" and not (g["part"] or g["zhong"] or g["m"]):
            return None  # 一点 is also "a little"
        m = g["m"] or ""
        minute = 30 if m == "半" else (zh_number(m.rstrip("分")) or 0) if m else 0
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


def find_dates(segs: Sequence[Segment], now: datetime | None) -> tuple[DateMention, ...]:
    today = now.date() if now is not None else None
    out: list[DateMention] = []
    for seg in segs:
        for language, text, rules in (("en", seg.en, _EN_RULES), ("zh", seg.zh, _ZH_RULES)):
            if language == "zh" and not is_chinese(text):
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


def _mention(phrase: str, when: _When, seg: Segment) -> DateMention:
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
        evidence=(segment_evidence(when.kind, phrase, seg),),
    )
