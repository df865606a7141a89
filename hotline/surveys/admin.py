"""What an operator may do to survey callbacks (API and command line alike): hold, resume or
cancel one survey, stop and restart the whole dialer, and keep a citizen off the list.

The store's moves are conditional updates (one statement, no read-then-write race); when one
does not happen, the survey is read to tell "no such survey" (404) from "not in a state that
allows it" (409), each with its stable error id.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from hotline.core.errors import Conflict, Invalid, NotFound
from hotline.surveys.policy import CALLING, INTERRUPTED, PAUSED, SCHEDULED
from hotline.surveys.store import Survey, SurveyStore

log = logging.getLogger(__name__)

# A number as the PBX hands it over: digits, optionally a leading "+" (no prefixes or
# wildcards here: those belong to the configured do-not-call list).
NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
REASON_MAX = 200


def check_number(number: str) -> str:
    if not NUMBER.match(number):
        raise Invalid("survey.bad_number", f"{number!r} is not a phone number (digits, leading +)")
    return number


def mask(number: str) -> str:
    """All but the last 4 characters hidden: enough to tell surveys apart on a screen or in a
    terminal's scroll-back without showing a citizen's number."""
    return "*" * max(0, len(number) - 4) + number[-4:]


def _found(store: SurveyStore, survey_id: int) -> Survey:
    survey = store.get(survey_id)
    if survey is None:
        raise NotFound("survey.not_found", f"no survey {survey_id}")
    return survey


def _refused(store: SurveyStore, survey_id: int, code: str, what: str) -> Conflict:
    survey = _found(store, survey_id)
    return Conflict(code, f"survey {survey_id} is {survey.status}; {what}")


def pause(store: SurveyStore, survey_id: int, by: str) -> Survey:
    moved = store.pause(survey_id)
    if moved is None:
        raise _refused(
            store, survey_id, "survey.not_pausable", f"only a {SCHEDULED} survey can be paused"
        )
    log.info("survey %d paused by %s", survey_id, by)
    return moved


def resume(store: SurveyStore, survey_id: int, by: str, now: datetime | None = None) -> Survey:
    """Due at once: the scheduler dials only inside the calling window, so a survey resumed
    at night simply waits for the window to open."""
    moved = store.resume(survey_id, now or datetime.now(UTC))
    if moved is None:
        what = f"only a {PAUSED} or {INTERRUPTED} survey can be resumed"
        raise _refused(store, survey_id, "survey.not_resumable", what)
    log.info("survey %d resumed by %s", survey_id, by)
    return moved


def cancel(store: SurveyStore, survey_id: int, by: str, reason: str = "") -> Survey:
    # Who cancelled is kept in the reason: the survey has no other place for it.
    text = f"cancelled by {by}" + (f": {reason.strip()}" if reason.strip() else "")
    moved = store.cancel(survey_id, text[:REASON_MAX])
    if moved is None:
        what = f"only a {SCHEDULED}, {PAUSED} or {CALLING} survey can be cancelled"
        raise _refused(store, survey_id, "survey.not_cancellable", what)
    log.info("survey %d %s", survey_id, text)
    return moved


def set_dialer(store: SurveyStore, paused: bool, by: str) -> None:
    store.set_paused(paused, by)
    log.warning("survey dialer %s by %s", "paused" if paused else "resumed", by)


def opt_out(store: SurveyStore, number: str, by: str, reason: str = "") -> bool:
    """True if the number was not opted out yet. Surveys already scheduled for it are left
    as they are: the scheduler checks opt-outs again when it dials and skips them."""
    check_number(number)
    changed = not store.opted_out(number)
    store.opt_out(number, reason[:REASON_MAX], by)
    log.info("number %s opted out of surveys by %s", mask(number), by)
    return changed


def opt_in(store: SurveyStore, number: str, by: str) -> bool:
    """True if the number was opted out."""
    check_number(number)
    changed = store.opt_in(number)
    log.info("number %s opted in to surveys by %s", mask(number), by)
    return changed
