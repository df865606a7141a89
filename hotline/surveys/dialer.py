"""The survey user agent: a pjsua2 phone registered with the PBX as its own endpoint that
calls the citizen through the PBX's outbound route, plays the survey in the language of the
original call, reads the key, and records a short comment after a "dissatisfied".

pjsip runs in the SIP stack's own thread (``telephony.sip``); everything here awaits it.
What the PBX tells the survey leg is what Dial saw on the citizen's side: the outbound
dialplan maps busy, no answer, unavailable and rejected to their SIP codes (486, 480, 480,
603), so ``policy.outcome_of_status`` tells them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from hotline.surveys.attempt import AttemptResult
from hotline.surveys.config import SurveySettings
from hotline.surveys.policy import RESULTS, outcome_of_status
from hotline.surveys.store import Claim
from telephony.sip import CallFailed, CallHandle, Phone

log = logging.getLogger(__name__)

ANSWER_MARGIN = 10.0  # seconds beyond the PBX's ring timeout before the survey leg gives up


@dataclass(frozen=True)
class DialJob:
    """One survey call: what the dialer needs of the claim (it may run in another process)."""

    survey_id: int
    n: int  # the attempt
    number: str
    language: str

    @classmethod
    def of(cls, claim: Claim) -> DialJob:
        s = claim.survey
        return cls(s.id, claim.n, s.number, s.language)


@dataclass(frozen=True)
class SurveyPrompts:
    """Prompt id → language → WAV file (built like the IVR's: ``surveys.prompts.build``)."""

    files: dict[str, dict[str, Path]]
    beep: Path
    default_language: str

    def file(self, prompt: str, language: str) -> Path:
        texts = self.files[prompt]
        return texts.get(language) or texts[self.default_language]


class SipDialer:
    def __init__(
        self,
        phone: Phone,
        pbx: str,
        settings: SurveySettings,
        prompts: SurveyPrompts,
        recordings_dir: Path,
    ) -> None:
        self._phone = phone
        self._pbx = pbx  # host:port of the PBX's SIP transport
        self._s = settings
        self._prompts = prompts
        self._recordings = recordings_dir

    async def call(self, claim: Claim) -> AttemptResult:
        return await self.run(DialJob.of(claim))

    async def run(self, job: DialJob) -> AttemptResult:
        uri = f"sip:{job.number}@{self._pbx}"
        headers = {"X-Hotline-Survey": f"{job.survey_id}/{job.n}"}
        try:
            call = await self._phone.dial(uri, headers)
        except CallFailed as exc:
            return AttemptResult("failed", exc.status, detail=str(exc))
        try:
            try:
                await call.wait_answered(self._s.ring_timeout + ANSWER_MARGIN)
            except CallFailed:
                status = call.last_status
                return AttemptResult(outcome_of_status(status), status, detail=call.last_reason)
            except TimeoutError:
                return AttemptResult("no_answer", None, detail="no answer from the PBX in time")
            return await self._survey(call, job)
        finally:
            await call.hangup()
            with contextlib.suppress(TimeoutError):
                await call.wait_ended(10)

    async def _survey(self, call: CallHandle, job: DialJob) -> AttemptResult:
        lang = job.language
        digits = ""
        await call.wait_media(10)
        try:
            for round_ in range(self._s.max_repeats + 1):
                key = await self._ask(call, self._prompts.file("question", lang))
                if call.ended:
                    break
                if key is not None:
                    digits += key
                    if key in RESULTS:
                        return await self._answered(call, job, digits, RESULTS[key])
                if round_ < self._s.max_repeats:
                    await call.play(self._prompts.file("invalid" if key else "no_input", lang))
            else:
                await call.play(self._prompts.file("goodbye", lang))
                return AttemptResult("no_input", 200, digits, detail="no valid key, every repeat")
        except CallFailed:  # the citizen hung up while a prompt was starting
            pass
        return AttemptResult("no_input", 200, digits, detail="hung up before answering")

    async def _answered(
        self, call: CallHandle, job: DialJob, digits: str, result: str
    ) -> AttemptResult:
        """The answer is in: whatever happens next (a hang-up during the comment prompt, the
        tone or the thanks), it is kept."""
        lang = job.language
        comment: str | None = None
        try:
            if result == "dissatisfied":
                await call.play(self._prompts.file("comment", lang))
                await call.play(self._prompts.beep)
                self._recordings.mkdir(parents=True, exist_ok=True)
                path = self._recordings / f"survey-{job.survey_id}-{job.n}.wav"
                await call.start_recording(path)
                comment = str(path)
                key = await self._key(call, self._s.comment_seconds, until="#")
                if key:
                    digits += key
                if not call.ended:
                    await call.stop_recording()
                else:
                    await call.wait_ended(10)  # the recording is complete once the call is
            await call.play(self._prompts.file("thanks", lang))
        except CallFailed as exc:
            log.info("survey %d: the citizen hung up after answering (%s)", job.survey_id, exc)
        return AttemptResult("answered", 200, digits, result, comment)

    async def _ask(self, call: CallHandle, prompt: Path) -> str | None:
        """Play ``prompt``; a key pressed during it stops it. Then wait for a key."""
        play = asyncio.create_task(call.play(prompt))
        key_task = asyncio.create_task(call.received_dtmf.get())
        ended = asyncio.create_task(call.wait_ended())
        try:
            done, _ = await asyncio.wait(
                {play, key_task, ended}, return_when=asyncio.FIRST_COMPLETED
            )
            if key_task in done:
                return key_task.result()
            if ended in done:
                return None
            await play  # to the end: raises if the playback failed
            done, _ = await asyncio.wait(
                {key_task, ended},
                timeout=self._s.digit_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            return key_task.result() if key_task in done else None
        finally:
            for task in (play, key_task, ended):
                if not task.done():
                    task.cancel()
            await asyncio.gather(play, key_task, ended, return_exceptions=True)

    async def _key(self, call: CallHandle, seconds: float, until: str) -> str | None:
        """Wait up to ``seconds`` for the key ``until`` (or the end of the call)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not call.ended:
            left = deadline - loop.time()
            if left <= 0:
                return None
            key_task = asyncio.create_task(call.received_dtmf.get())
            ended = asyncio.create_task(call.wait_ended())
            done, _ = await asyncio.wait(
                {key_task, ended}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (key_task, ended):
                task.cancel()
            await asyncio.gather(key_task, ended, return_exceptions=True)
            if key_task in done and key_task.result() == until:
                return until
        return None
