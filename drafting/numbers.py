"""Numbers as the recogniser writes them: words ("one hundred twenty three", 一百零五), digits,
or digit by digit ("one two", 幺三九) as phone and house numbers are read."""

from __future__ import annotations

from collections.abc import Sequence

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
EN_DIGIT = {w: str(i) for w, i in _EN_SMALL.items() if i < 10} | {"oh": "0", "o": "0"}
EN_NUMBER_WORDS = frozenset({*_EN_SMALL, *_EN_TENS, "hundred", "thousand"})
# 幺 is how 1 is read in phone numbers; 两 is 2 before a measure word.
ZH_DIGIT = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "幺": 1, "两": 2}  # noqa: RUF001
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}


def en_number(tokens: Sequence[str]) -> int | None:
    """'twelve', 'one hundred twenty three', '12', or digit by digit 'one two' (12)."""
    if not tokens:
        return None
    if all(t.isdigit() for t in tokens):
        return int("".join(tokens))
    if len(tokens) > 1 and all(t in EN_DIGIT for t in tokens):
        return int("".join(EN_DIGIT[t] for t in tokens))
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


def zh_number(text: str) -> int | None:
    """十二 → 12, 一百零五 → 105, 一二三 (read digit by digit) → 123, 12 → 12."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in ZH_DIGIT and ch not in _ZH_UNIT for ch in text):
        return None
    if len(text) > 1 and not any(ch in _ZH_UNIT for ch in text):
        return int("".join(str(ZH_DIGIT[ch]) for ch in text))
    total = num = 0
    for ch in text:
        if ch in ZH_DIGIT:
            num = ZH_DIGIT[ch]
        else:
            total += (num or 1) * _ZH_UNIT[ch]
            num = 0
    return total + num
