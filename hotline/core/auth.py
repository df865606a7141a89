"""Passwords (argon2id; legacy scrypt hashes still verify) and API tokens (JWT, HS256, with key
ids for rotation). No secret is ever logged.

Hashing and verifying a password is CPU-heavy (tens of milliseconds): callers in async code
run them in a thread. Tokens are cheap (one HMAC).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("agent", "supervisor", "admin")

# -- passwords ----------------------------------------------------------------------------------
# argon2id with OWASP's first recommended configuration (19 MiB, 2 passes, 1 lane): about 40 ms
# on the 2-core machines, what the scrypt it replaces cost (n=2^14, r=8: 16 MiB), so a shift's
# logins at once take no more CPU or memory than before. RFC 9106's low-memory profile (64 MiB,
# 3 passes, 4 lanes) costs about four times as much per login on a service that shares its two
# cores with the PBX link and the web. Raising these later re-hashes each password at its
# next login (``needs_rehash``).
_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
# The legacy format "scrypt$<salt>$<digest>" (urlsafe base64 without padding), fixed parameters.
_SCRYPT = "scrypt$"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """An argon2id hash ("$argon2id$v=19$m=19456,t=2,p=1$...")."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored`` (argon2id, or a legacy scrypt hash). An empty
    ``stored`` (no password set), an unknown scheme or a damaged hash let nobody in."""
    if stored.startswith("$argon2"):
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):  # a mismatch, or a damaged hash
            return False
    if stored.startswith(_SCRYPT):
        return _verify_scrypt(password, stored)
    return False


def needs_rehash(stored: str) -> bool:
    """True if ``stored`` (already verified) should be replaced by a new ``hash_password``:
    a legacy scrypt hash, or an argon2 one with other parameters than today's. Cheap."""
    if stored.startswith(_SCRYPT):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:  # not an argon2 hash: it cannot have verified either
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        want = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
        )
    except ValueError:  # wrong number of fields, bad base64: a damaged hash
        return False
    return hmac.compare_digest(got, want)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- tokens -------------------------------------------------------------------------------------
ALGORITHM = "HS256"  # the one accepted: "none" and every other algorithm are refused
DEFAULT_KID = "default"  # the key id of a single key given without one (HOTLINE_API_SECRET)
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_KEY_BYTES = 32
# Tolerated clock difference between the instances that issue and check a token.
LEEWAY_SECONDS = 30.0
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REQUIRED = ["sub", "roles", "iat", "exp", "jti"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenError(Exception):
    """A token that is malformed, forged, signed with an unknown key or expired."""


@dataclass(frozen=True)
class Principal:
    """Who is calling the API. ``jti`` and ``expires_at`` are the token's (None for a
    principal not made from a token): its unique id, the one a revocation names."""

    agent_id: str
    roles: tuple[str, ...]
    jti: str | None = None
    expires_at: datetime | None = None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def supervises(self) -> bool:
        return "supervisor" in self.roles or "admin" in self.roles


@dataclass(frozen=True, repr=False)
class SigningKey:
    """One HS256 key and its id, the ``kid`` in the header of the tokens it signs."""

    kid: str
    secret: bytes

    def __post_init__(self) -> None:
        if not _KID.fullmatch(self.kid):
            raise ValueError(f"key id {self.kid!r}: 1-64 letters, digits, '.', '_' or '-'")
        if not self.secret:
            raise ValueError(f"key {self.kid!r} is empty")

    def __repr__(self) -> str:
        return f"SigningKey({self.kid!r}, <hidden>)"


def parse_keys(text: str) -> list[SigningKey]:
    """Keys written "kid:key,kid:key,..." (the first signs; all verify). ValueError names the
    entry by its position and key id, never by its key. Each key needs ``MIN_KEY_BYTES``."""
    keys: list[SigningKey] = []
    for n, entry in enumerate(text.split(","), 1):
        if not entry.strip():
            raise ValueError(f"entry {n} is empty")
        kid, sep, secret = entry.strip().partition(":")
        kid = kid.strip()
        if not sep or not kid or not secret:
            raise ValueError(f"entry {n} is not kid:key")
        if not _KID.fullmatch(kid):
            raise ValueError(f"entry {n}: a key id is 1-64 letters, digits, '.', '_' or '-'")
        if len(secret.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
        if any(k.kid == kid for k in keys):
            raise ValueError(f"key id {kid!r} appears twice")
        keys.append(SigningKey(kid, secret.encode()))
    return keys


class TokenSigner:
    """Issues and checks the API's tokens: JWTs signed HS256 with the first key, its id in the
    ``kid`` header; a token verifies with the key its ``kid`` names, so one signed with a key
    that is no longer first stays valid until it expires, and none does once its key is gone.
    Claims: ``sub`` (agent id), ``roles``, ``iat``, ``exp``, ``jti`` (random, unique).
    ``clock`` gives "now" for issuing and expiry (tests inject a frozen one)."""

    def __init__(
        self,
        keys: Sequence[SigningKey],
        *,
        ttl: float = 12 * 3600,
        clock: Clock | None = None,
        leeway: float = LEEWAY_SECONDS,
    ) -> None:
        if not keys:
            raise ValueError("a token signer needs at least one key")
        self._keys = {k.kid: k.secret for k in keys}
        if len(self._keys) != len(keys):
            raise ValueError("two signing keys have the same id")
        self._signing = keys[0]
        self.ttl = ttl
        self.leeway = leeway
        self._clock = clock or _utc_now

    @property
    def kid(self) -> str:
        """The id of the key new tokens are signed with."""
        return self._signing.kid

    @property
    def kids(self) -> tuple[str, ...]:
        """The ids of every key a token may be signed with (the signing one first)."""
        return tuple(self._keys)

    def issue(self, who: Principal) -> str:
        now = int(self._clock().timestamp())
        claims = {
            "sub": who.agent_id,
            "roles": list(who.roles),
            "iat": now,
            "exp": now + int(self.ttl),
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(
            claims, self._signing.secret, algorithm=ALGORITHM, headers={"kid": self.kid}
        )

    def verify(self, token: str) -> Principal:
        """The token's principal; TokenError when it is malformed, forged, signed with an
        unknown key or another algorithm, lacks a claim, or has expired."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            secret = self._keys.get(kid) if isinstance(kid, str) else None
            if secret is None:
                raise TokenError("invalid token")
            # Times are checked below on the injected clock, not PyJWT's reading of the real one.
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                options={
                    "require": _REQUIRED,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError:
            raise TokenError("invalid token") from None
        sub, roles, jti = claims["sub"], claims["roles"], claims["jti"]
        iat, exp = claims["iat"], claims["exp"]
        if not (
            isinstance(sub, str)
            and sub
            and isinstance(jti, str)
            and jti
            and isinstance(roles, list)
            and all(isinstance(r, str) for r in roles)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in (iat, exp))
        ):
            raise TokenError("invalid token")
        now = self._clock().timestamp()
        if iat > now + self.leeway:  # issued in the future: not a token of ours
            raise TokenError("invalid token")
        if exp <= now - self.leeway:
            raise TokenError("token expired")
        return Principal(sub, tuple(roles), jti, datetime.fromtimestamp(exp, UTC))

    def __repr__(self) -> str:
        return f"TokenSigner(kids={self.kids!r}, <keys hidden>)"
