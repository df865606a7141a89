"""Small asyncio helpers shared by the loop-side objects (phones and call handles)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def resolve(fut: asyncio.Future[T], value: T) -> None:
    """Set ``fut``'s result unless it is already done (e.g. cancelled by its awaiter)."""
    if not fut.done():
        fut.set_result(value)


def reject(fut: asyncio.Future[T], exc: BaseException) -> None:
    """Set ``fut``'s exception unless it is already done."""
    if not fut.done():
        fut.set_exception(exc)


class Waitable:
    """Base for loop-side objects whose state is updated by callbacks on the loop.

    Updaters change attributes and call ``_wake()``; waiters re-check a predicate.
    Everything runs on the event loop thread, so there is no lost-wakeup race.
    """

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            resolve(fut, None)

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float | None, what: str
    ) -> None:
        """Wait until ``predicate()`` is true; raise ``TimeoutError`` naming ``what``."""
        if predicate():
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    fut: asyncio.Future[None] = loop.create_future()
                    self._waiters.append(fut)
                    await fut
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}") from None
