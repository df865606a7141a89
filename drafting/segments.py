"""Segmentation: a transcript's speaker turns cut into sentences at silences.

ASR text has no punctuation: a silence longer than ``taxonomy.sentence_gap`` between two words
ends a sentence. Each ``Segment`` carries its normalised tokens, its English (spaced) and
Mandarin (compact) texts and its mean word confidence; every finder reads segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drafting.normalise import compact_offsets, ends_clause, normalise_word
from drafting.types import Evidence, Speaker, Transcript, Turn, Word


@dataclass(frozen=True)
class Segment:
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
    # Offsets in ``zh`` where written punctuation stood (text input, punctuating
    # recognisers): a clause boundary no place name crosses. Vosk writes none.
    zh_breaks: frozenset[int] = frozenset()

    @property
    def asr_factor(self) -> float:
        # A mention heard with low ASR confidence counts less.
        return 0.5 + 0.5 * self.conf


def speaker_turns(transcript: Transcript) -> Sequence[Turn]:
    if transcript.turns:
        return transcript.turns
    # Not merged yet: one turn per leg still gives the caller's words.
    return tuple(leg for leg in transcript.legs if leg.words)


def segments(turns: Iterable[Turn], gap: float) -> list[Segment]:
    out: list[Segment] = []

    def flush(speaker: Speaker, words: list[Word]) -> None:
        kept: list[tuple[Word, str]] = []
        break_before: set[int] = set()  # indexes into kept
        for w in words:
            t = normalise_word(w.text)
            if t:
                kept.append((w, t))
            if ends_clause(w.text) and kept:
                break_before.add(len(kept))
        if not kept:
            return
        ws = tuple(w for w, _ in kept)
        tokens = tuple(t for _, t in kept)
        zh, offsets = compact_offsets(tokens)
        out.append(
            Segment(
                index=len(out),
                speaker=speaker,
                start=ws[0].start,
                end=ws[-1].end,
                words=ws,
                tokens=tokens,
                en=" ".join(tokens),
                zh=zh,
                conf=sum(w.conf for w in ws) / len(ws),
                zh_breaks=frozenset(offsets[i] for i in break_before if i < len(offsets)),
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


def segment_evidence(phrase: str, text: str, seg: Segment) -> Evidence:
    return Evidence(phrase=phrase, text=text, speaker=seg.speaker, at=round(seg.start, 2))
