"""Ticket drafts from call transcripts: pure text in, ticket-draft fields out; no I/O.

A lower layer like ``ivr`` and ``asr``: it imports nothing of ``hotline``, ``telephony`` or
``asr``. It reads any transcript shaped like ``asr.types.Transcript`` (speaker turns of timed,
scored words; the protocols of ``types.py``), and ``hotline`` (the transcription worker) hands
it the recogniser's transcript.

``extract(transcript, taxonomy=..., ivr_kind=..., ivr_category=..., now=...)`` reads the
caller's turns (the agent's may confirm, never override) and proposes the request kind and
category (phrase scores, the IVR's choices as priors), places (the gazetteer, then road/district
patterns in English and Mandarin), phone numbers (also spoken digit by digit), dates and times
(resolved against ``now``), urgency, and an extractive summary (the caller's key sentences).
Every field keeps its evidence (what was said, by whom, when) and ``source: "system"`` until
the agent confirms it; ``Draft.ticket_fields()`` is what the ticket form is offered,
``Draft.as_dict()`` the JSON.

The flow, one module each:

1. ``normalise``: ASR words as tokens (lower case, no punctuation; Vosk's [unk] dropped) and the
   compact text Mandarin is matched on (the recogniser's spaces between Chinese words removed).
2. ``segments``: the turns cut into sentences at silences longer than ``taxonomy.sentence_gap``
   (ASR text has no punctuation).
3. The finders, over the sentences: ``phrases`` (kind, category, urgency; the taxonomy's
   phrases as compiled by ``settings``), ``numbers`` (spoken numbers, for the next two),
   ``places``, ``phones``, ``dates``.
4. ``summary``: the caller's sentences scored by what the finders heard in them.
5. ``draft``: ``extract`` puts it together as a ``Draft`` (``types``) whose ``ticket_fields()``
   are the suggested kind, category, location and description.

``settings`` is the ``draft:`` section of the configuration (``DraftTaxonomy``): phrases per
kind and category, the gazetteer, urgency words, weights.
"""

from drafting.draft import extract
from drafting.settings import DraftTaxonomy
from drafting.types import (
    Choice,
    DateMention,
    Draft,
    Evidence,
    Phone,
    PlaceMention,
    Sentence,
    Summary,
    Urgency,
)

__all__ = [
    "Choice",
    "DateMention",
    "Draft",
    "DraftTaxonomy",
    "Evidence",
    "Phone",
    "PlaceMention",
    "Sentence",
    "Summary",
    "Urgency",
    "extract",
]
