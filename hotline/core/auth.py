"""Passwords (scrypt) and API tokens (HMAC-signed, expiring). No secret is ever logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

ROLES = ("agent", "supervisor", "admin")
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "scrypt$" + _b64(salt) + "$" + _b64(digest)


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=_N, r=_R, p=_P)
    return hmac.compare_digest(got, _unb64(digest))


class TokenError(Exception):
    """A token that is malformed, forged or expired."""


@dataclass(frozen=True)
class Principal:
    """Who is calling the API."""

    agent_id: str
    roles: tuple[str, ...]

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def supervises(self) -> bool:
        return "supervisor" in self.roles or "admin" in self.roles


@dataclass(frozen=True, repr=False)
class TokenSigner:
    secret: bytes
    ttl: float = 12 * 3600

    def issue(self, who: Principal, now: float | None = None) -> str:
        body = {
            "sub": who.agent_id,
            "roles": list(who.roles),
            "exp": (now or time.time()) + self.ttl,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return payload + "." + self._sign(payload)

    def verify(self, token: str, now: float | None = None) -> Principal:
        payload, _, sig = token.partition(".")
        if not payload or not hmac.compare_digest(sig, self._sign(payload)):
            raise TokenError("invalid token")
        try:
            body = json.loads(_unb64(payload))
        except ValueError:
            raise TokenError("invalid token") from None
        if float(body.get("exp", 0)) < (now or time.time()):
            raise TokenError("token expired")
        return Principal(str(body["sub"]), tuple(str(r) for r in body.get("roles", [])))

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def __repr__(self) -> str:
        return "TokenSigner(<hidden>)"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
