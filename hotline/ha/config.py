"""The ``ha:`` section: active/standby instances of the service."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from telephony.settings import Strict

_ADDRESS = re.compile(r"^[A-Za-z0-9._-]+:\d{1,5}$")


class HaSettings(Strict):
    """Two (or more) instances against the same PBXes and the same PostgreSQL database.

    Only the instance holding a PostgreSQL advisory lock is active: it consumes AMI events,
    serves the IVR and the API, and runs the schedulers. The others wait for the lock (a
    standby answers ``/healthz`` and ``/readyz`` only). A dead active's connection closes and
    PostgreSQL frees the lock at once; an active that can no longer confirm it holds the lock
    stops, so two instances are never active together.
    """

    enabled: bool = False
    # This instance's name in logs, /healthz and the database's activity view (default: the
    # host name and process id).
    instance: str = Field("", max_length=48)
    # The advisory lock's key: one per hotline sharing a database.
    lock_key: int = Field(0x12345, ge=1, le=2**63 - 1)
    retry_seconds: float = Field(1.0, gt=0, le=60)  # a standby asks for the lock this often
    check_seconds: float = Field(1.0, gt=0, le=60)  # the active confirms it holds it this often
    check_timeout: float = Field(3.0, gt=0, le=60)  # no answer within this: the active stops
    # FastAGI addresses (host:port) of every instance as the PBX reaches them, in the order the
    # dialplan tries them: the IVR follows whichever instance is active.
    agi_addresses: list[str] = []

    @field_validator("agi_addresses")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _ADDRESS.match(a) or not 0 < int(a.rsplit(":", 1)[1]) < 65536]
        if bad:
            raise ValueError(f"must be host:port, got {bad}")
        if len(set(v)) != len(v):
            raise ValueError("an address is listed twice")
        return v
