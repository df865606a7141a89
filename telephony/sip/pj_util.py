"""Helpers for pjsua2 objects, shared by the pjsip-thread modules."""

from __future__ import annotations

from typing import Any

import pjsua2 as pj


def describe_pj_error(exc: BaseException) -> str:
    """Readable text for a ``pjsua2.Error`` (whose ``str()`` is empty) or any exception."""
    if isinstance(exc, pj.Error):
        return f"{exc.title}: {exc.reason} (pj status {exc.status})"
    return f"{type(exc).__name__}: {exc}"


def destroy_now(obj: Any) -> None:
    """Delete the C++ object behind a pjsua2 proxy now, on the calling (pjsip) thread.

    Python may drop the last reference to a proxy on any thread (a traceback kept by
    asyncio, a reference cycle collected by the GC on the main thread); pjsua2
    destructors call into pjlib and abort on unregistered threads. Destroying the C++
    side explicitly leaves only an inert Python shell behind.
    """
    if obj is not None and obj.thisown:
        type(obj).__swig_destroy__(obj)
