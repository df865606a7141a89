"""``hotline draft``: the ticket draft of a transcript file, as the agent page would get it.

A file is a typed transcript (one turn per line: ``drafting.text_input.parse_turns``) or the
transcription JSON (``asr.transcript.to_dict``, what ``hotline transcribe --format json`` and
the worker write). The draft is the worker's (``drafting.extract``) and its JSON the agent
page's (``Draft.as_dict`` checked by ``DraftAnalysis``), with the suggested location and the
category's department (the ticket taxonomy's, as ``TicketService`` fills it on filing).
The rendering functions are pure; ``draft_file`` reads one file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from drafting import Draft, DraftTaxonomy, extract
from drafting.text_input import parse_turns
from drafting.types import Transcript, Turn
from hotline.metrics.labels import ZH
from hotline.screenpop.schemas import DraftAnalysis
from hotline.tickets.config import TicketSettings

NowSource = Literal["transcript", "option", "file"]


class DraftInputError(Exception):
    """A file that cannot be drafted; the message names the reason (and line)."""


@dataclass(frozen=True)
class _Relabelled:
    """A transcript with its language set by ``--language``."""

    turns: Sequence[Turn]
    legs: Sequence[Turn]
    language: str


@dataclass(frozen=True)
class FileDraft:
    file: str
    now: datetime
    now_source: NowSource  # where the call's time came from
    fields: dict[str, Any]  # the JSON object (the API's names)


def read_transcript(path: Path) -> tuple[Transcript, datetime | None, bool]:
    """The transcript in ``path``, the call's time when the file gives one (the JSON's
    ``started_at``, top level or in ``extra``), and whether it was the transcription JSON."""
    from asr.transcript import from_dict

    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DraftInputError("no such file") from exc
    except OSError as exc:
        raise DraftInputError(exc.strerror or str(exc)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DraftInputError(f"not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise DraftInputError("empty file")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DraftInputError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from exc
        try:
            transcript = from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DraftInputError(f"not a transcription JSON: {exc!r}") from exc
        extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
        started = data.get("started_at") or extra.get("started_at")
        if started is None:
            return transcript, None, True
        try:
            return transcript, datetime.fromisoformat(str(started)), True
        except ValueError as exc:
            raise DraftInputError(f"started_at: not an ISO time: {started!r}") from exc
    try:
        return parse_turns(text), None, False
    except ValueError as exc:
        raise DraftInputError(str(exc)) from exc


def detect_language(transcript: Transcript) -> str:
    """zh when the words have Chinese characters, else en."""
    from drafting.normalise import is_chinese

    words = (w.text for t in (*transcript.turns, *transcript.legs) for w in t.words)
    return "zh" if any(is_chinese(w) for w in words) else "en"


def draft_fields(draft: Draft, tickets: TicketSettings) -> dict[str, Any]:
    """The draft as the agent page gets it (``DraftAnalysis``: kind, category, places, phones,
    dates, urgency, summary, ticket_fields), plus ``location`` and ``department``."""
    analysis = DraftAnalysis.model_validate(draft.as_dict()).model_dump(mode="json")
    category = tickets.category(draft.category.value) if draft.category.value else None
    return {
        **analysis,
        "location": draft.location,
        "department": category.department if category is not None else None,
    }


def draft_file(
    path: Path,
    *,
    taxonomy: DraftTaxonomy,
    tickets: TicketSettings,
    language: str | None,
    now: datetime | None,
    zone: tzinfo,
) -> FileDraft:
    """``now``: the ``--now`` option, used when the file gives no time; else the file's
    modification time. Times are taken in ``zone`` (the centre's) to resolve "yesterday"."""
    transcript, started, is_json = read_transcript(path)
    # The JSON says the call's language; a typed text is taken for what its characters are.
    lang = language or (transcript.language if is_json else detect_language(transcript))
    source: NowSource
    if started is not None:
        at, source = started, "transcript"
    elif now is not None:
        at, source = now, "option"
    else:
        at, source = datetime.fromtimestamp(path.stat().st_mtime, zone), "file"
    if at.tzinfo is not None:
        at = at.astimezone(zone)
    relabelled = _Relabelled(transcript.turns, transcript.legs, lang)
    d = extract(relabelled, taxonomy=taxonomy, now=at)
    return FileDraft(str(path), at, source, draft_fields(d, tickets))


def to_json(drafts: Sequence[FileDraft]) -> str:
    """A list with one object per file: its name, the time used and the draft's fields."""
    out = [
        {"file": d.file, "now": d.now.isoformat(), "now_source": d.now_source, **d.fields}
        for d in drafts
    ]
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"


_LABELS = {
    "zh": {
        "kind": "类型",
        "category": "类别",
        "department": "承办部门",
        "location": "地点",
        "phones": "电话",
        "dates": "时间",
        "urgency": "紧急程度",
        "summary": "摘要",
        "now": "来电时间",
        "none": "（无）",
        "inferred": "（推断）",
        "transcript": "转写文件",
        "option": "--now",
        "file": "文件修改时间",
        "mobile": "手机",
        "landline": "座机",
        "medium": "中",
        "high": "高",
    },
    "en": {
        "kind": "Kind",
        "category": "Category",
        "department": "Department",
        "location": "Location",
        "phones": "Phones",
        "dates": "Dates",
        "urgency": "Urgency",
        "summary": "Summary",
        "now": "Call time",
        "none": "(none)",
        "inferred": "(inferred)",
        "transcript": "the transcript",
        "option": "--now",
        "file": "the file's modification time",
        "mobile": "mobile",
        "landline": "landline",
        "medium": "medium",
        "high": "high",
    },
}


def to_txt(d: FileDraft, tickets: TicketSettings) -> str:
    """A readable block: Chinese labels and names for a zh draft, English for en."""
    f = d.fields
    zh = f["language"] == "zh"
    lab = _LABELS["zh" if zh else "en"]
    none = lab["none"]

    def conf(choice: dict[str, Any]) -> str:
        return f" ({choice['confidence']:.2f})"

    kind = f["kind"]
    kind_text = none
    if kind["value"]:
        name = ZH.keys.get(kind["value"], kind["value"]) if zh else kind["value"]
        kind_text = f"{name}{conf(kind)}"
        if kind["note"].startswith("inferred"):  # from the category, no kind phrase heard
            kind_text += f" {lab['inferred']}"
    category = f["category"]
    category_text = none
    if category["value"]:
        c = tickets.category(category["value"])
        name = (c.zh if zh else c.en) if c is not None else category["value"]
        category_text = f"{name} [{category['value']}]{conf(category)}"
    department_text = none
    if f["department"]:
        dep = tickets.department(f["department"])
        name = (dep.zh if zh else dep.en) if dep is not None else f["department"]
        department_text = f"{name} [{f['department']}]"
    phones = "; ".join(f"{p['value']} ({lab[p['kind']]})" for p in f["phones"]) or none
    dates = "; ".join(_date_text(x) for x in f["dates"]) or none
    urgency = f["urgency"]["level"]
    sep = "：" if zh else ": "
    rows = [
        (lab["now"], f"{d.now.isoformat(timespec='minutes')} ({lab[d.now_source]})"),
        (lab["kind"], kind_text),
        (lab["category"], category_text),
        (lab["department"], department_text),
        (lab["location"], f["location"] or none),
        (lab["phones"], phones),
        (lab["dates"], dates),
        (lab["urgency"], none if urgency == "none" else lab[urgency]),
        (lab["summary"], f["summary"]["text"] or none),
    ]
    return f"== {d.file} ==\n" + "".join(f"{k}{sep}{v}\n" for k, v in rows)


def _date_text(x: dict[str, Any]) -> str:
    if x["start"] and x["end"] and x["start"] != x["end"]:
        return f"{x['phrase']} ({x['start']} – {x['end']})"  # noqa: RUF001
    if x["start"]:
        return f"{x['phrase']} ({x['start']})"
    if x["time"]:
        return f"{x['phrase']} ({x['time']})"
    return str(x["phrase"])
