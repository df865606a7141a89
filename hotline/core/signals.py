"""Worker processes and Ctrl-C: a terminal's Ctrl-C sends SIGINT to its whole foreground
process group, the service's (and ``hotline worker``'s) worker processes included. A worker
must not die of it with a traceback in the middle of a job: its parent stops it, in order.

The parent starts each worker with SIGINT blocked (``interrupt_blocked``), so a Ctrl-C during
the worker's start-up (its imports) does not reach it; the worker then ignores SIGINT and
unblocks it (``ignore_interrupt``). A SIGINT for the parent meanwhile stays pending and is
delivered when the block ends: none is lost.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupt_blocked() -> Iterator[None]:
    """SIGINT held back in this thread (and so in the processes it starts) for the block."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_interrupt() -> None:
    """In a worker process started under ``interrupt_blocked``: SIGINT ignored from now on (a
    pending one discarded), then unblocked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
