"""Transcription end to end on the real Asterisk: a pjsua2 caller speaks an espeak-ng sentence,
the agent's pjsua2 phone answers with its own; after hang-up the service's worker process
transcribes both recorded legs with the real Vosk model. The stored transcript has both legs in
order (word error rate of each printed), the draft has the street-lighting category and the
place, the agent's screen-pop gets the transcript, and the call record is untouched."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from asr.transcript import from_dict
from asr.wer import wer
from hotline.app.service import Service
from hotline.app.settings import Secrets, Settings
from hotline.jobs.store import DONE, Job, JobStore
from telephony.audio import synthesize
from telephony.sip import Phone, SipStack
from testkit.support import wait_for
from tests.integration.test_call_records import add_agent, call_both_speak, ended_record

CALLER_SAYS = (
    "Hello, I want to report a broken street light. "
    "The street light on Heping Road has been broken for a week."
)
AGENT_SAYS = "Thank you. We will send a repair crew to Heping Road today."


def speech(text: str, out: Path) -> Path:
    """espeak-ng at 8 kHz with half a second of silence first, as a caller draws breath: the
    first syllables are not lost while the media path settles."""
    raw = synthesize(text, out.with_suffix(".raw.wav"))
    subprocess.run(["sox", str(raw), str(out), "pad", "0.5", "0"], check=True)
    return out


async def test_a_recorded_call_is_transcribed_into_turns_and_a_draft(
    service: Service,
    settings: Settings,
    secrets: Secrets,
    sip: SipStack,
    phones: list[Phone],
    tmp_path: Path,
) -> None:
    caller_wav = await asyncio.to_thread(speech, CALLER_SAYS, tmp_path / "c.wav")
    agent_wav = await asyncio.to_thread(speech, AGENT_SAYS, tmp_path / "a.wav")
    await asyncio.to_thread(
        lambda: service.agents.upsert(
            "asr_agent", name="ASR Agent", extension="2019", roles=["agent"], skills={"en": 4}
        )
    )
    seat = await add_agent(sip, settings, secrets, "2019")
    phones.append(seat)
    seat.auto_answer(after_ms=200)
    await service.desk.login("asr_agent", "2019")
    record = await call_both_speak(
        sip,
        settings,
        service,
        phones,
        seat,
        dialled="12361",  # sk_en: English, no menu
        caller_says=caller_wav,
        agent_says=agent_wav,
    )
    before = {c: getattr(record, c) for c in ("disposition", "talk_time", "agent", "ended_at")}

    jobs = JobStore(service.engine)

    def transcribed() -> Job | None:
        job = jobs.get(record.call_id)
        assert job is None or job.status in ("queued", "running", DONE), job
        return job if job is not None and job.status == DONE else None

    job = await wait_for(lambda: asyncio.to_thread(transcribed), 120, "the call's transcript")
    transcript = from_dict(job.transcript)
    for t in transcript.turns:
        print(f"{t.start:6.2f}-{t.end:6.2f} {t.speaker}: {t.text}")
    speakers = [t.speaker for t in transcript.turns]
    assert speakers[0] == "caller" and "agent" in speakers
    assert speakers.index("agent") > max(i for i, s in enumerate(speakers) if s == "caller")
    errors = {
        "caller": wer(CALLER_SAYS, transcript.text_of("caller")),
        "agent": wer(AGENT_SAYS, transcript.text_of("agent")),
    }
    for leg, rate in errors.items():
        print(f"WER {leg} leg: {rate:.3f}  heard: {transcript.text_of(leg)!r}")  # type: ignore[arg-type]
    # espeak-ng's voice through the 8 kHz phone path is hard for the small model (the WER is
    # printed above and reported in docs/benchmarks.md); what the draft needs must come through.
    heard = transcript.text_of("caller").split()
    assert {"street", "broken"} <= set(heard) and any(w.startswith("light") for w in heard), heard
    # Measured through the phone path here: caller 0.33-0.50 (espeak-ng speech at 8 kHz;
    # "Heping" is not in the small model's vocabulary).
    assert errors["caller"] <= 0.6, errors
    # The agent's leg (WER 0.58-0.83 here: its synthetic voice fares worse) holds the agent's
    # words and none of the caller's: the legs are recorded and transcribed apart.
    said = transcript.text_of("agent").split()
    assert len(said) >= 6 and not {"street", "broken", "hello"} & set(said), said

    draft = job.draft
    assert draft["category"]["value"] == "street_lighting", draft["category"]
    assert "Heping Road" in [p["value"] for p in draft["places"]], draft["places"]
    assert draft["ticket_fields"]["location"].endswith("Heping Road")
    assert draft["source"] == "system"

    # The agent's screen-pop got the transcript and the suggestions (delivered once).
    def delivered() -> bool:
        pop = service.screenpop.current("asr_agent")
        return bool(pop and "street light" in (pop.draft.transcript or "").lower())

    await wait_for(delivered, 30, "the transcript in the agent's draft")
    pop = service.screenpop.current("asr_agent")
    assert pop is not None and pop.draft.suggested is not None
    assert pop.draft.suggested.category == "street_lighting"
    # The call record is untouched by transcription.
    after = await ended_record(service, record.caller_number)
    assert {c: getattr(after, c) for c in before} == before
    await service.desk.logout("asr_agent")
