"""The seams of ``telephony.sip``: what each side needs from the other, as Protocols.

The package has two sides. The asyncio side (``stack``, ``phone``, ``call``) is what
applications use; the pjsip-thread side (``pj_thread``, ``pj_account``, ``pj_call``,
``pj_media``, ``pj_endpoint``) owns every pjsua2 object. Their seams:

* ``CallHost`` / ``PhoneHost``: what a call handle / a phone needs from its stack
  (implemented by ``SipStack``);
* ``CallOps``: what a call handle may ask of its pjsip-side call, on the pjsip thread
  (``PjCall``);
* ``CallEvents`` / ``PhoneEvents``: what the pjsip side reports back to the loop side
  (``CallHandle`` / ``Phone``);
* ``PjsipServices``: what pjsip-side objects need from the thread running them
  (``PjsipThread``), with the ``ManagedCall`` / ``ManagedAccount`` it keeps.

The pjsip side imports nothing of the asyncio side: it reports back through these
Protocols only. The asyncio side drives it by submitting jobs to the pjsip thread
(``SipStack.run``/``post``): the ``pj_account`` functions, ``CallOps`` calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from telephony.sip.config import IncomingPolicy, PhoneConfig

T = TypeVar("T")
CallT = TypeVar("CallT", bound="CallEvents")

Direction = Literal["outgoing", "incoming"]


class Timer(Protocol):
    """A callback scheduled on the pjsip thread."""

    def cancel(self) -> None: ...


# ------------------------------------------------------------- pjsip-thread side


class CallOps(Protocol):
    """The pjsip-side call, as its handle uses it. Every method runs on the pjsip thread."""

    def respond(self, status: int) -> None: ...

    def end_call(self, status: int | None) -> None: ...

    def dial_dtmf(self, digits: str) -> None: ...

    def start_player(
        self, path: Path, looping: bool, on_done: Callable[[bool], None] | None
    ) -> int: ...

    def stop_player(self, player_id: int) -> None: ...

    def start_recorder(self, path: Path) -> None: ...

    def stop_recorders(self, on_done: Callable[[list[Path]], None]) -> None: ...


class ManagedCall(CallOps, Protocol):
    """A pjsip-side call as the pjsip thread keeps it (until it is released)."""

    @property
    def key(self) -> int: ...

    @property
    def disconnected(self) -> bool: ...

    @property
    def finalizing(self) -> bool: ...

    def hangup_for_shutdown(self) -> None: ...

    def force_release(self) -> None: ...

    def destroy(self) -> None: ...


class ManagedAccount(Protocol):
    """A pjsip-side account as the pjsip thread keeps it."""

    def shutdown_account(self, *, close_transport: bool) -> None: ...


class PjsipServices(Protocol):
    """What pjsip-side objects (accounts, calls, media) need from the pjsip thread.

    ``notify``, ``post`` and ``new_key`` may be called from any thread; everything else
    only on the pjsip thread.
    """

    @property
    def endpoint(self) -> Any: ...  # the pjsua2 Endpoint

    def new_key(self) -> int: ...

    def notify(self, fn: Callable[..., object], *args: object) -> None:
        """Schedule ``fn(*args)`` on the event loop."""

    def post(self, fn: Callable[[], object], what: str) -> None:
        """Run ``fn`` on the pjsip thread, fire and forget."""

    def call_later(self, delay: float, fn: Callable[[], None], what: str) -> Timer: ...

    def retire(self, obj: object, delay: float = 0.5) -> None:
        """Destroy ``obj`` (a stopped player) after ``delay`` seconds."""

    def add_call(self, call: ManagedCall) -> None: ...

    def remove_call(self, key: int) -> None: ...

    def release_call(self, key: int) -> None:
        """Drop call ``key`` once the current pjsua callback has returned."""

    def add_account(self, acc_id: int, sip_port: int, account: ManagedAccount) -> None: ...

    def find_account(self, acc_id: int) -> ManagedAccount | None: ...

    def remove_account(self, acc_id: int) -> ManagedAccount | None: ...


# ------------------------------------------------------------------ asyncio side


class CallEvents(Protocol):
    """The loop side of one call, as its pjsip-side call reports to it.

    The ``on_*`` methods run on the event loop (scheduled with ``notify``). The
    attributes are written on the pjsip thread only while an incoming call is set up,
    before the loop has seen it.
    """

    remote_uri: str
    sip_call_id: str
    ringing_at: float | None
    last_status: int

    def on_ringing(self, at: float, status: int) -> None: ...

    def on_answered(self, at: float, status: int) -> None: ...

    def on_media(self, at: float, codec: str, local_rtp: str) -> None: ...

    def on_dtmf(self, digit: str) -> None: ...

    def on_recording(self, path: Path) -> None: ...

    def on_ended(self, at: float, status: int, reason: str) -> None: ...


class PhoneEvents(Protocol[CallT]):
    """The loop side of one phone, as its pjsip-side account reports to it."""

    @property
    def config(self) -> PhoneConfig: ...

    @property
    def policy(self) -> IncomingPolicy:
        """How to treat incoming calls; read on the pjsip thread."""

    def on_reg_state(self, active: bool, status: int, reason: str) -> None:
        """A registration result (event loop)."""

    def new_incoming_call(self, key: int, invite: str) -> CallT:
        """The loop-side handle of a new incoming call (pjsip thread; unseen by the loop)."""

    def on_incoming(self, call: CallT) -> None:
        """An incoming call, set up and ringing (event loop)."""


class CallHost(Protocol):
    """What a call handle needs from its stack."""

    @property
    def running(self) -> bool: ...

    def notify(self, fn: Callable[..., object], *args: object) -> None:
        """Schedule ``fn(*args)`` on the event loop (from any thread)."""

    def run_on_call(self, key: int, fn: Callable[[CallOps], T], what: str) -> Awaitable[T]:
        """Run ``fn`` with live call ``key`` on the pjsip thread; ``CallFailed`` if it ended."""

    def post_on_call(self, key: int, fn: Callable[[CallOps], object], what: str) -> None:
        """Run ``fn`` with call ``key`` on the pjsip thread if it still exists (no result)."""


class PhoneHost(CallHost, Protocol):
    """What a phone needs from its stack."""

    @property
    def pjsip(self) -> PjsipServices:
        """The pjsip thread, for jobs run there."""

    def run(self, fn: Callable[[], T], what: str) -> Awaitable[T]:
        """Run ``fn`` on the pjsip thread and return its result."""

    def forget_phone(self, phone: object) -> None:
        """``phone`` is closed."""
