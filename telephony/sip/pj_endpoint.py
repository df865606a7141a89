"""The pjsua2 Endpoint (pjsip thread): settings, initialisation, request routing, logging."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from telephony.sip.pj_util import describe_pj_error, destroy_now

log = logging.getLogger(__name__)
pjsip_log = logging.getLogger("telephony.sip.pjsip")

_PJ_TO_PY_LEVEL = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
_CODEC_PRIORITIES = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}


@dataclass(frozen=True)
class EndpointSettings:
    """How the Endpoint is configured (see ``SipStack`` for the meaning of each)."""

    log_level: int
    route_logs: bool
    user_agent: str
    max_calls: int
    clock_rate: int


def compiled_max_calls() -> int:
    """Concurrent call legs the installed pjsua2 supports (PJSUA_MAX_CALLS)."""
    # pjsua_config_default() initialises max_calls to PJSUA_MAX_CALLS.
    return int(pj.UaConfig().maxCalls)


def _set_pj_log_level_early(level: int) -> None:
    """Lower pjlib's log level before ``libCreate`` (its startup banner ignores EpConfig)."""
    try:
        lib = ctypes.CDLL(pj._pjsua2.__file__)
        lib.pj_log_set_level(ctypes.c_int(level))
    except (OSError, AttributeError) as exc:
        log.debug("cannot pre-set pjlib log level: %s", exc)


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    """Routes pjsip log lines to the ``telephony.sip.pjsip`` Python logger."""

    def write(self, entry: Any) -> None:
        try:
            level = _PJ_TO_PY_LEVEL.get(entry.level, logging.DEBUG)
            pjsip_log.log(level, "%s", entry.msg.rstrip())
        except Exception:  # an exception escaping a director callback aborts the process
            log.exception("pjsip log writer failed")


class RoutingEndpoint(pj.Endpoint):  # type: ignore[misc]
    """Endpoint that routes incoming requests to the account ``select_account`` names.

    ``select_account(whole_msg)`` returns a pjsua account id, or None to keep pjsua's choice.
    """

    def __init__(self, select_account: Callable[[str], int | None]) -> None:
        super().__init__()
        self.select_account = select_account

    def onSelectAccount(self, prm: Any) -> None:
        try:
            acc_id = self.select_account(prm.rdata.wholeMsg)
            if acc_id is not None:
                prm.accountIndex = acc_id
        except Exception:
            log.exception("onSelectAccount failed; keeping pjsua's choice")


def init_endpoint(ep: RoutingEndpoint, settings: EndpointSettings) -> None:
    """Create, configure and start the pjsua library behind ``ep``."""
    _set_pj_log_level_early(settings.log_level)
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = settings.max_calls
    cfg.uaConfig.userAgent = settings.user_agent
    cfg.logConfig.level = settings.log_level
    cfg.logConfig.consoleLevel = settings.log_level
    if settings.route_logs:
        writer = _LogWriter()
        cfg.logConfig.writer = writer
        cfg.logConfig.decor = pj.PJ_LOG_HAS_SENDER | pj.PJ_LOG_HAS_SPACE  # logging adds time
        # The Endpoint deletes its writer in libDestroy(): hand ownership to C++.
        writer.__disown__()
    cfg.medConfig.clockRate = settings.clock_rate
    cfg.medConfig.sndClockRate = settings.clock_rate
    cfg.medConfig.channelCount = 1
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, _CODEC_PRIORITIES.get(codec.codecId, 0))
    ep.libStart()


def destroy_endpoint(ep: RoutingEndpoint) -> None:
    """Shut the pjsua library down and delete ``ep`` (clears pjsua2's singleton)."""
    try:
        ep.libDestroy()
    except Exception as exc:
        log.error("libDestroy failed: %s", describe_pj_error(exc))
    # Deleting the Endpoint object clears pjsua2's singleton for a later SipStack.
    destroy_now(ep)
