"""Worker processes and Ctrl-C: a terminal's Ctrl-C sends SIGINT to its whole foreground
process group, the service's (and ``hotline worker``'s) worker processes included; systemd's
default stop sends SIGTERM to the whole group too. A worker must not die of either with a
traceback in the middle of a job: its parent stops it, in order.

The parent starts each worker with SIGINT and SIGTERM blocked (``stop_signals_blocked``), so
neither reaches it during its start-up (its imports), before it can handle them; the worker
installs its SIGTERM handler, then ignores SIGINT and unblocks both (``ignore_interrupt``): a
SIGTERM that came meanwhile is handled then. A signal for the parent meanwhile stays pending
and is delivered when the block ends: none is lost.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held back in this thread (and so in the processes it starts)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_interrupt() -> None:
    """In a worker process started under ``stop_signals_blocked``, once its SIGTERM handler is
    installed: SIGINT ignored from now on (a pending one discarded), both unblocked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
