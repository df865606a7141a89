"""AMI messages as plain, typed values, free of I/O (``telephony.ami.protocol`` makes them)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import cast

# What a PBX answers to an action that went well (``Follows``: Command output, Asterisk <= 13;
# ``Goodbye``: Logoff).
SUCCESS = frozenset({"Success", "Follows", "Goodbye"})


@dataclass(frozen=True)
class AmiEvent:
    """One AMI event: its name, its headers (last value wins) and when it happened.

    ``at`` is the PBX's own ``Timestamp`` header when the PBX sends one (``timestampevents``),
    otherwise the time the service received the event.
    """

    name: str
    headers: Mapping[str, str]
    at: float
    received_at: float = field(default=0.0, compare=False)

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)

    @classmethod
    def from_headers(
        cls, headers: Mapping[str, object], received_at: float | None = None
    ) -> AmiEvent:
        """Build from raw headers (values may be lists for repeated keys)."""
        return cls.from_pairs(headers.items(), received_at)

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[str, object]], received_at: float | None = None
    ) -> AmiEvent:
        """Build from ``(key, value)`` pairs; of repeated keys the last pair wins.

        A value may be a list (a header repeated in one event): its last item wins. Anything
        else that is not a ``str`` is converted with ``str()``.
        """
        # This runs for every event: dict() copies at C speed, and values are nearly always
        # str already, so only the rare event with another value pays for converting them.
        raw: dict[str, object] = dict(pairs)
        for value in raw.values():
            if value.__class__ is not str:
                flat = {key: _text(v) for key, v in raw.items()}
                break
        else:
            flat = cast(dict[str, str], raw)
        now = time.time() if received_at is None else received_at
        try:
            at = float(flat.get("Timestamp", ""))
        except ValueError:
            at = now
        return cls(flat.get("Event", ""), flat, at, now)


def _text(value: object) -> str:
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return str(value)


@dataclass(frozen=True)
class AmiResponse:
    """The PBX's whole answer to one action.

    ``status`` is the ``Response`` header (``Success``, ``Error``, ...). ``headers`` holds the
    response's own lines (of a repeated key the last value wins); ``pairs`` every line in
    order, repeats kept. A list answer (``CoreShowChannels``, ``QueueStatus``) carries its
    events in ``events`` and the closing ``...Complete`` event in ``complete``. ``body`` is
    the text of a ``Response: Follows``.
    """

    status: str
    headers: Mapping[str, str]
    pairs: tuple[tuple[str, str], ...] = ()
    events: tuple[AmiEvent, ...] = ()
    complete: AmiEvent | None = None
    body: str = ""
    received_at: float = field(default=0.0, compare=False)

    @property
    def action_id(self) -> str:
        return self.headers.get("ActionID", "")

    @property
    def success(self) -> bool:
        return self.status in SUCCESS

    @property
    def message(self) -> str:
        return self.headers.get("Message", "")

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)

    def getall(self, key: str) -> list[str]:
        """Every value of ``key``, in order (``Output`` of ``Command``, ``ChanVariable``)."""
        return [v for k, v in self.pairs if k == key]

    @property
    def output(self) -> list[str]:
        """A command's output lines: the ``Output`` headers, or a ``Follows`` body."""
        return self.getall("Output") or self.body.splitlines()

    def __iter__(self) -> Iterator[Mapping[str, str]]:
        """The answer's messages as header mappings: the response, each listed event, the
        closing event (the shape of a list answer as panoramisk returned it)."""
        yield self.headers
        for event in self.events:
            yield event.headers
        if self.complete is not None:
            yield self.complete.headers
