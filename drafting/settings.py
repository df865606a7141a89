"""The ``draft:`` section of the configuration: what the ticket-draft extractor listens for.

Plain data (phrases per request kind and per category in English and Mandarin, a gazetteer of
the city's places, urgency words, weights), so a centre tunes it without code. The ids are
those of ``tickets.categories`` and the request kinds; ``problems()`` names any that are not,
and the whole-file settings call it (``drafting`` imports nothing of ``hotline``).

Matching rules (see ``drafting/phrases.py``): English phrases match whole words in lower-case
ASR text (a plural or -ed/-ing ending is allowed), so "street light" finds "street lights";
Mandarin phrases match as substrings of the text with the recogniser's spaces between Chinese
words removed, so 路灯 finds "路 灯".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import jieba
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drafting.normalise import CJK
from drafting.soundalike import SoundIndex
from drafting.types import PlaceKind


class Strict(BaseModel):
    """Unknown keys are errors, as in every section (``telephony.settings.Strict``, which this
    lower layer does not import)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _clean(phrases: list[str], *, chinese: bool) -> list[str]:
    for i, p in enumerate(phrases):
        if not p.strip():
            raise ValueError(f"[{i}]: empty phrase")
        if chinese and not CJK.search(p):
            raise ValueError(f"[{i}]: {p!r} has no Chinese characters (list it under en)")
        if not chinese and CJK.search(p):
            raise ValueError(f"[{i}]: {p!r} has Chinese characters (list it under zh)")
    return phrases


class Phrases(Strict):
    """Trigger phrases of one request kind, category or urgency level."""

    en: list[str] = []
    zh: list[str] = []

    @field_validator("en")
    @classmethod
    def _en(cls, v: list[str]) -> list[str]:
        return _clean(v, chinese=False)

    @field_validator("zh")
    @classmethod
    def _zh(cls, v: list[str]) -> list[str]:
        return _clean(v, chinese=True)

    def all(self) -> list[tuple[str, str]]:
        """(language, phrase) pairs, lower-cased."""
        return [("en", p.lower()) for p in self.en] + [("zh", p) for p in self.zh]


class CategoryPhrases(Phrases):
    """A category's phrases, and the request kind a clerk files such a call under when the
    caller names none (a broken street light is a request for help, a noisy bar a
    complaint): the draft proposes it with less confidence and says it was inferred."""

    default_kind: str | None = None


class UrgencyWords(Strict):
    # high: danger to people or property now (fire, gas, flood); medium: pressing but not
    # dangerous (elderly without water, "as soon as possible").
    high: Phrases = Phrases()
    medium: Phrases = Phrases()


class GazetteerPlace(Strict):
    """A known place of the city: its English and Chinese names and what the ASR may write."""

    name: str = Field(min_length=1)  # canonical English, e.g. "Heping Road"
    zh: str = ""  # e.g. 和平路
    kind: PlaceKind = "road"
    # Other spellings the recogniser produces ("he ping road") or local names; Chinese ones
    # go here too.
    aliases: list[str] = []

    def spellings(self) -> tuple[list[str], list[str]]:
        """(English lower-case spellings, Chinese spellings)."""
        en = [self.name.lower()] + [a.lower() for a in self.aliases if not CJK.search(a)]
        zh = ([self.zh] if self.zh else []) + [a for a in self.aliases if CJK.search(a)]
        return en, zh


class DraftTaxonomy(Strict):
    # Added to the score of the request kind the caller chose in the IVR. Below one phrase's
    # weight (1.0): a caller who says "report" outweighs key 3 ("complaint or report"), but
    # the key tips a tie between what the caller said.
    ivr_prior: float = Field(0.8, ge=0, le=10)
    # The agent's words count this much of the caller's: they may confirm, never override.
    agent_weight: float = Field(0.3, ge=0, le=1)
    # ASR text has no punctuation: a silence longer than this between words ends a sentence.
    sentence_gap: float = Field(0.7, gt=0, le=10)
    summary_sentences: int = Field(2, ge=1, le=10)
    # An English recogniser writes local names it does not know as English words that sound
    # alike ("Heping Road" heard as "keeping road"): a "<name> road" whose name is this
    # similar (0..1, letters compared) to a gazetteer name of the same kind is taken for it,
    # with less confidence. 1 turns it off.
    sounds_like: float = Field(0.75, ge=0.5, le=1)
    kinds: dict[str, Phrases] = {}
    categories: dict[str, CategoryPhrases] = {}
    # The kind inferred when neither a phrase, the IVR nor the category's default_kind says.
    default_kind: str | None = None
    urgency: UrgencyWords = UrgencyWords()
    places: list[GazetteerPlace] = []

    @model_validator(mode="after")
    def _unique(self) -> DraftTaxonomy:
        # One phrase under two labels would only ever produce a tie: say which.
        for section, table in (("kinds", self.kinds), ("categories", self.categories)):
            owner: dict[tuple[str, str], str] = {}
            for label, phrases in table.items():
                for lang, p in phrases.all():
                    other = owner.setdefault((lang, p), label)
                    if other != label:
                        raise ValueError(
                            f"{section}.{label}.{lang}: phrase {p!r} is also listed under "
                            f"{section}.{other}"
                        )
        names: dict[str, int] = {}
        for i, place in enumerate(self.places):
            en, zh = place.spellings()
            for s in en + zh:
                j = names.setdefault(s, i)
                if j != i:
                    raise ValueError(f"places[{i}]: {s!r} also names places[{j}]")
        return self

    def problems(self, categories: Iterable[str], kinds: Iterable[str]) -> list[str]:
        """Ids this section uses that the rest of the configuration does not know."""
        known_categories, known_kinds = set(categories), list(kinds)
        out = [
            f"draft.kinds.{k}: unknown request kind; use {', '.join(known_kinds)}"
            for k in self.kinds
            if k not in known_kinds
        ]
        out += [
            f"draft.categories.{c}: unknown category (not an id of tickets.categories)"
            for c in self.categories
            if c not in known_categories
        ]
        defaults = [(f"draft.categories.{c}", p.default_kind) for c, p in self.categories.items()]
        out += [
            f"{where}.default_kind: unknown request kind {k!r}; use {', '.join(known_kinds)}"
            for where, k in [*defaults, ("draft", self.default_kind)]
            if k is not None and k not in known_kinds
        ]
        return out

    @cached_property
    def compiled(self) -> CompiledTaxonomy:
        """The phrases as regular expressions, built once per loaded configuration."""
        return CompiledTaxonomy.build(self)


@dataclass(frozen=True)
class PhraseMatcher:
    label: str  # kind, category or urgency level
    phrase: str  # as configured (lower-case for English)
    language: str  # "en" matches word-bounded in spaced text, "zh" in compact text
    pattern: re.Pattern[str]
    weight: float


def phrase_weight(language: str, phrase: str) -> float:
    # Longer phrases are more specific ("loud music" against "music"; 路灯不亮 against 路灯).
    long = (" " in phrase) if language == "en" else len(phrase) >= 3
    return 1.5 if long else 1.0


def _compile(language: str, phrase: str) -> re.Pattern[str]:
    if language == "zh":
        return re.compile(re.escape(phrase.replace(" ", "")))
    words = [w.replace("'", "").replace("\u2019", "") for w in phrase.split()]
    body = r"\s+".join(re.escape(w) for w in words)
    # Whole words; one plural or verb ending so "complain" finds "complained".
    return re.compile(rf"(?<!\w){body}(?:s|es|ed|ing)?(?!\w)")


def _matchers(table: Mapping[str, Phrases]) -> tuple[PhraseMatcher, ...]:
    return tuple(
        PhraseMatcher(label, p, lang, _compile(lang, p), phrase_weight(lang, p))
        for label, phrases in table.items()
        for lang, p in phrases.all()
    )


@dataclass(frozen=True)
class CompiledTaxonomy:
    kinds: tuple[PhraseMatcher, ...]
    categories: tuple[PhraseMatcher, ...]
    urgency: tuple[PhraseMatcher, ...]
    # Gazetteer: English spellings as word tuples, Chinese spellings as strings.
    places_en: tuple[tuple[tuple[str, ...], GazetteerPlace], ...]
    places_zh: tuple[tuple[str, GazetteerPlace], ...]
    zh_phrases: tuple[str, ...]  # every Mandarin phrase, longest first (not place names)
    sounds_like: float = 0.75  # DraftTaxonomy.sounds_like

    @cached_property
    def segmenter(self) -> jieba.Tokenizer:
        """jieba's word segmenter with the gazetteer's Chinese names as words, so a place
        name found by pattern starts where a word does (not 边跳广场 in 那边跳广场舞). Built
        on first use, once per taxonomy: loading jieba's dictionary takes a second."""
        tk = jieba.Tokenizer()
        for name, _ in self.places_zh:
            tk.add_word(name)
        return tk

    @cached_property
    def places_zh_sounds(self) -> SoundIndex[GazetteerPlace]:
        """The gazetteer's Chinese names by their syllables, for names the recogniser wrote
        with characters that sound alike (``drafting/soundalike.py``)."""
        return SoundIndex(self.places_zh)

    def warm(self) -> None:
        """Load what the first Mandarin draft would otherwise wait for: jieba's dictionary
        (about a second) and the gazetteer's syllables."""
        self.segmenter.initialize()
        _ = self.places_zh_sounds

    def word_starts(self, text: str) -> frozenset[int]:
        """Offsets in ``text`` where a word starts (and its end), by the segmenter."""
        starts, at = {len(text)}, 0
        for word in self.segmenter.cut(text, HMM=False):
            starts.add(at)
            at += len(word)
        return frozenset(starts)

    @classmethod
    def build(cls, t: DraftTaxonomy) -> CompiledTaxonomy:
        en: list[tuple[tuple[str, ...], GazetteerPlace]] = []
        zh: list[tuple[str, GazetteerPlace]] = []
        for place in t.places:
            en_names, zh_names = place.spellings()
            en += [(tuple(n.replace("'", "").split()), place) for n in en_names]
            zh += [(n.replace(" ", ""), place) for n in zh_names]
        # Longest first, so "Jiefang East Road" wins over "Jiefang Road" inside it.
        en.sort(key=lambda e: -len(e[0]))
        zh.sort(key=lambda e: -len(e[0]))
        urgency = {"high": t.urgency.high, "medium": t.urgency.medium}
        kinds, categories, urgent = (
            _matchers(t.kinds),
            _matchers(t.categories),
            _matchers(urgency),
        )
        zh_phrases = {m.phrase for m in (*kinds, *categories, *urgent) if m.language == "zh"}
        return cls(
            kinds=kinds,
            categories=categories,
            urgency=urgent,
            zh_phrases=tuple(sorted(zh_phrases, key=len, reverse=True)),
            places_en=tuple(en),
            places_zh=tuple(zh),
            sounds_like=t.sounds_like,
        )
