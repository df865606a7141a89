"""Mandarin place names the recogniser wrote with other characters that sound alike.

Whisper writes a name it does not know with whatever characters fit the sounds: 舜耕小区
comes out as 顺更小区, or 顺更小其 when one syllable is misheard. Names are compared by their
syllables (pypinyin, tones dropped, and the sounds a telephone line and a regional accent
blur folded: zh/z, ch/c, sh/s, n/l, -ing/-in, -eng/-en, -ang/-an).

A window of the text is taken for a gazetteer name when every syllable matches (a homophone
spelling), or, for names of four syllables or more, all but one do and the odd one still
shares its initial or its final with the name's (小其 xiao qi for 小区 xiao qu). Shorter names
need every syllable: two or three syllables with one off match ordinary words by chance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pypinyin import Style, pinyin

from drafting.normalise import is_chinese

T = TypeVar("T")

# Longest first, so "zh" is not read as "z" + "h...".
_INITIALS = sorted(
    "b p m f d t n l g k h j q x zh ch sh r z c s y w".split(), key=len, reverse=True
)
_FOLD_INITIAL = {"zh": "z", "ch": "c", "sh": "s", "l": "n"}
_FOLD_FINAL = {"ing": "in", "eng": "en", "ang": "an", "iang": "ian", "uang": "uan"}


@dataclass(frozen=True)
class Syllable:
    initial: str
    final: str


def syllable(pinyin: str) -> Syllable:
    """A toneless pinyin syllable split and folded (``shun`` → s + un)."""
    initial = next((i for i in _INITIALS if pinyin.startswith(i) and len(pinyin) > len(i)), "")
    final = pinyin[len(initial) :]
    return Syllable(_FOLD_INITIAL.get(initial, initial), _FOLD_FINAL.get(final, final))


# Every reading of a character: 长 is chang in 长清区 and zhang in 长大, and pypinyin cannot
# tell which a place name means.
Sounds = frozenset[Syllable]


def syllables(text: str) -> tuple[Sounds | None, ...]:
    """One entry per character of ``text``: the syllables it may be read as, None for a
    character that is not Chinese (a digit, a letter, punctuation), so offsets stay those of
    ``text``."""
    return tuple(
        frozenset(syllable(p) for p in pinyin(c, style=Style.NORMAL, heteronym=True)[0])
        if is_chinese(c)
        else None
        for c in text
    )


def _alike(a: Sounds, b: Sounds) -> bool:
    return not a.isdisjoint(b)


def _near(a: Sounds, b: Sounds) -> bool:
    """One sound off: a reading of each with the same initial or the same final."""
    return any(x.initial == y.initial or x.final == y.final for x in a for y in b)


@dataclass(frozen=True)
class SoundMatch(Generic[T]):
    start: int
    end: int
    name: str  # the gazetteer's spelling it sounds like
    value: T  # what the index holds for that name
    exact: bool  # every syllable alike (a homophone), not one off


class SoundIndex(Generic[T]):
    """Gazetteer names (three Chinese characters or more) by their syllables, to find where a
    text says one of them with other characters."""

    def __init__(self, names: Iterable[tuple[str, T]]) -> None:
        self._names: list[tuple[str, tuple[Sounds, ...], T]] = []
        # A name one syllable off still has its first or its second syllable right.
        self._by_first: dict[Syllable, set[int]] = defaultdict(set)
        self._by_second: dict[Syllable, set[int]] = defaultdict(set)
        for name, value in names:
            if len(name) < 3 or not all(is_chinese(c) for c in name):
                continue
            sy = tuple(s for s in syllables(name) if s is not None)
            k = len(self._names)
            self._names.append((name, sy, value))
            for first in sy[0]:
                self._by_first[first].add(k)
            for second in sy[1]:
                self._by_second[second].add(k)

    def __bool__(self) -> bool:
        return bool(self._names)

    def find(
        self,
        text: str,
        taken: Sequence[tuple[int, int]] = (),
        starts: Collection[int] | None = None,
    ) -> list[SoundMatch[T]]:
        """Where ``text`` sounds like a name, longest names first, never overlapping each
        other nor the spans in ``taken`` (the names found spelled right). ``starts``: the
        offsets where a word starts; a match must begin at one (里山路 in 七里山路 is the
        end of another road, not 历山路)."""
        sy = syllables(text)
        spans = list(taken)
        candidates: list[tuple[int, int, int, bool]] = []  # (-length, start, name index, exact)
        for i in range(len(text)):
            if starts is not None and i not in starts:
                continue
            near = {k for x in sy[i] or () for k in self._by_first.get(x, ())}
            near |= {k for x in _at(sy, i + 1) for k in self._by_second.get(x, ())}
            for k in sorted(near):
                name, want, _ = self._names[k]
                heard = [h for h in sy[i : i + len(want)] if h is not None]
                if len(heard) < len(want) or text[i : i + len(name)] == name:
                    continue  # runs into a digit or the end; or spelled right
                pairs = list(zip(heard, want, strict=True))
                off = [j for j, (h, w) in enumerate(pairs) if not _alike(h, w)]
                if not off:
                    candidates.append((-len(want), i, k, True))
                elif len(off) == 1 and len(want) >= 4 and _near(*pairs[off[0]]):
                    candidates.append((-len(want), i, k, False))
        out: list[SoundMatch[T]] = []
        # Longest first, then the exact ones, then left to right.
        for neg, i, k, exact in sorted(candidates, key=lambda c: (c[0], not c[3], c[1])):
            end = i - neg
            if any(a < end and i < b for a, b in spans):
                continue
            spans.append((i, end))
            name, _, value = self._names[k]
            out.append(SoundMatch(i, end, name, value, exact))
        return sorted(out, key=lambda m: m.start)


def _at(sy: tuple[Sounds | None, ...], i: int) -> Sounds:
    return (sy[i] or frozenset()) if i < len(sy) else frozenset()
