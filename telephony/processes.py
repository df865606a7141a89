"""Ending child processes in order: ask politely, then terminate, then kill."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def wait_or_kill(proc: asyncio.subprocess.Process, grace: float, what: str) -> None:
    """Wait ``grace`` s for ``proc`` (already asked to stop) to exit; then SIGTERM, then SIGKILL.

    Cancelled or interrupted meanwhile, it kills the process before re-raising: a stop never
    leaves the child running behind us.
    """
    try:
        try:
            await asyncio.wait_for(proc.wait(), grace)
            return
        except TimeoutError:
            log.warning("%s (pid %s) did not stop within %s s; terminating", what, proc.pid, grace)
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 3)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
        raise
