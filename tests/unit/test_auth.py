"""API tokens (JWT HS256 with key ids: claims, rotation, tampering, algorithms, expiry on a
frozen clock) and passwords (argon2id, legacy scrypt, re-hashing). hotline/core/auth.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher, Type

from hotline.core.auth import (
    LEEWAY_SECONDS,
    MIN_KEY_BYTES,
    Principal,
    SigningKey,
    TokenError,
    TokenSigner,
    hash_password,
    needs_rehash,
    parse_keys,
    verify_password,
)
from testkit.clock import Clock
from testkit.support import legacy_scrypt_hash

# 64 bytes: long enough for HS512 too (the tests sign with it to see it refused).
K1 = SigningKey("k1", b"first-signing-key-".ljust(64, b"1"))
K2 = SigningKey("k2", b"second-signing-key-".ljust(64, b"2"))
TTL = 12 * 3600
AGENT = Principal("ag1", ("agent",))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A token's header, claims (unverified) and signature segment."""
    head, body, sig = token.split(".")
    header: dict[str, Any] = json.loads(unb64(head))
    claims: dict[str, Any] = json.loads(unb64(body))
    return header, claims, sig


def craft(header: dict[str, Any], claims: dict[str, Any], sig: str) -> str:
    seg = [b64(json.dumps(x, separators=(",", ":")).encode()) for x in (header, claims)]
    return f"{seg[0]}.{seg[1]}.{sig}"


def signed(claims: dict[str, Any], key: SigningKey = K1, alg: str = "HS256") -> str:
    """A token of our kind (kid header) with exactly ``claims``, signed with ``key``."""
    return jwt.encode(claims, key.secret, algorithm=alg, headers={"kid": key.kid})


def claims_at(now: datetime, **changes: Any) -> dict[str, Any]:
    t = int(now.timestamp())
    claims: dict[str, Any] = {
        "sub": "ag1",
        "roles": ["agent"],
        "iat": t,
        "exp": t + TTL,
        "jti": "jti-1",
    }
    claims.update(changes)
    return claims


def rejected(signer: TokenSigner, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        signer.verify(token)
    return str(caught.value)


# -- tokens ----------------------------------------------------------------------------------------
def test_round_trip_and_the_standard_claims(frozen_now: datetime) -> None:
    signer = TokenSigner([K1], ttl=TTL, clock=Clock(frozen_now))
    token = signer.issue(Principal("boss", ("admin", "supervisor")))
    header, claims, _ = parts(token)
    assert header == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert set(claims) == {"sub", "roles", "iat", "exp", "jti"}
    iat = int(frozen_now.timestamp())
    assert claims["sub"] == "boss" and claims["roles"] == ["admin", "supervisor"]
    assert claims["iat"] == iat and claims["exp"] == iat + TTL
    who = signer.verify(token)
    assert (who.agent_id, who.roles, who.jti) == ("boss", ("admin", "supervisor"), claims["jti"])
    assert who.supervises and who.has("admin")
    assert who.expires_at is not None and who.expires_at.timestamp() == iat + TTL
    # The id is random: two tokens of the same agent at the same instant differ by it.
    jtis = {signer.verify(signer.issue(AGENT)).jti for _ in range(20)}
    assert len(jtis) == 20 and all(j and len(j) >= 16 for j in jtis)


def test_expiry_on_the_injected_clock_with_a_small_leeway(frozen_now: datetime) -> None:
    clock = Clock(frozen_now)
    signer = TokenSigner([K1], ttl=TTL, clock=clock)
    token = signer.issue(AGENT)
    clock.advance(seconds=TTL - 1)
    assert signer.verify(token).agent_id == "ag1"
    clock.advance(seconds=LEEWAY_SECONDS)  # past exp, within the leeway
    assert signer.verify(token).agent_id == "ag1"
    clock.advance(seconds=1)  # exp + leeway
    assert rejected(signer, token) == "token expired"
    # Issued in the future (beyond the leeway): not a token of ours.
    early = TokenSigner([K1], ttl=TTL, clock=Clock(frozen_now))
    later = frozen_now + timedelta(seconds=LEEWAY_SECONDS + 5)
    assert rejected(early, signed(claims_at(later))) == "invalid token"
    assert early.verify(signed(claims_at(frozen_now + timedelta(seconds=5)))).agent_id == "ag1"


def test_rotation_old_tokens_live_until_they_expire(frozen_now: datetime) -> None:
    clock = Clock(frozen_now)
    before = TokenSigner([K1], ttl=TTL, clock=clock)
    old = before.issue(AGENT)
    clock.advance(hours=1)
    # The new key first (it signs), the old one after it (it still verifies).
    rotated = TokenSigner([K2, K1], ttl=TTL, clock=clock)
    assert rotated.kid == "k2" and rotated.kids == ("k2", "k1")
    new = rotated.issue(AGENT)
    assert parts(new)[0]["kid"] == "k2" and parts(old)[0]["kid"] == "k1"
    assert rotated.verify(old).agent_id == rotated.verify(new).agent_id == "ag1"
    # An instance that does not know the new key yet refuses its tokens (hence the two-step
    # rotation for active/standby, docs/operations.md).
    assert rejected(before, new) == "invalid token"
    # The old token dies at its own expiry; the new one lives on.
    clock.advance(seconds=TTL - 3600 + LEEWAY_SECONDS)
    assert rejected(rotated, old) == "token expired"
    assert rotated.verify(new).agent_id == "ag1"
    # Once the old key is removed, its tokens are refused even before they expire.
    done = TokenSigner([K2], ttl=TTL, clock=Clock(frozen_now + timedelta(hours=1)))
    assert rejected(done, old) == "invalid token"
    assert done.verify(new).agent_id == "ag1"


def test_tampered_tokens_are_refused(frozen_now: datetime) -> None:
    signer = TokenSigner([K1, K2], ttl=TTL, clock=Clock(frozen_now))
    token = signer.issue(AGENT)
    header, claims, sig = parts(token)
    forged = [
        craft(header, {**claims, "roles": ["admin"]}, sig),  # roles raised, signature kept
        craft(header, {**claims, "sub": "ag2"}, sig),
        craft(header, {**claims, "exp": claims["exp"] + 3600}, sig),
        craft({**header, "kid": "k2"}, claims, sig),  # the other key's id
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature changed
        signed(claims, SigningKey("k1", b"not-the-real-key-".ljust(64, b"x"))),  # wrong key
        signed(claims, SigningKey("k9", K1.secret)),  # unknown key id
        jwt.encode(claims, K1.secret, algorithm="HS256"),  # no key id
        "",
        "garbage",
        "a.b.c",
        token + ".extra",
    ]
    for bad in forged:
        assert rejected(signer, bad) == "invalid token", bad
    assert signer.verify(token).roles == ("agent",)


def test_alg_none_and_other_algorithms_are_refused(frozen_now: datetime) -> None:
    signer = TokenSigner([K1], ttl=TTL, clock=Clock(frozen_now))
    claims = claims_at(frozen_now)
    for alg in ("none", "None", "NONE"):
        assert rejected(signer, craft({"alg": alg, "kid": "k1", "typ": "JWT"}, claims, "")) == (
            "invalid token"
        )
    # A real token with its header switched to "none" and the signature dropped.
    header, body, _ = parts(signer.issue(AGENT))
    assert rejected(signer, craft({**header, "alg": "none"}, body, "")) == "invalid token"
    # Correctly signed with the right key, but not with HS256.
    for alg in ("HS384", "HS512"):
        assert rejected(signer, signed(claims, K1, alg)) == "invalid token"
    assert signer.verify(signed(claims, K1, "HS256")).agent_id == "ag1"


@pytest.mark.parametrize("claim", ["sub", "roles", "iat", "exp", "jti"])
def test_a_missing_claim_is_refused(claim: str, frozen_now: datetime) -> None:
    signer = TokenSigner([K1], ttl=TTL, clock=Clock(frozen_now))
    claims = claims_at(frozen_now)
    del claims[claim]
    assert rejected(signer, signed(claims)) == "invalid token"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": ""},
        {"sub": 42},
        {"roles": "admin"},
        {"roles": ["agent", 7]},
        {"jti": ""},
        {"jti": 5},
        {"exp": "never"},
        {"exp": True},
        {"iat": "now"},
    ],
    ids=repr,
)
def test_a_claim_of_the_wrong_type_is_refused(
    changes: dict[str, Any], frozen_now: datetime
) -> None:
    signer = TokenSigner([K1], ttl=TTL, clock=Clock(frozen_now))
    assert rejected(signer, signed(claims_at(frozen_now, **changes))) == "invalid token"


def test_key_lists_from_the_environment() -> None:
    s1, s2 = "s" * MIN_KEY_BYTES, "t" * 40 + ":colon"
    keys = parse_keys(f"k2:{s1}, k1:{s2}")
    assert [(k.kid, k.secret) for k in keys] == [("k2", s1.encode()), ("k1", s2.encode())]
    bad = {
        f"k2:{s1},": "entry 2 is empty",
        s1: "entry 1 is not kid:key",
        f"k2:{s1},:{s1}": "entry 2 is not kid:key",
        f"k 2:{s1}": "entry 1: a key id is 1-64 letters",
        "k2:short-key": f"key 'k2' is shorter than {MIN_KEY_BYTES} bytes",
        f"k2:{s1},k2:{s2}": "key id 'k2' appears twice",
    }
    for text, problem in bad.items():
        with pytest.raises(ValueError) as caught:
            parse_keys(text)
        assert problem in str(caught.value)
        assert s1 not in str(caught.value) and "short-key" not in str(caught.value)


def test_signers_need_keys_and_hide_them() -> None:
    with pytest.raises(ValueError):
        TokenSigner([])
    with pytest.raises(ValueError):
        TokenSigner([K1, SigningKey("k1", K2.secret)])
    with pytest.raises(ValueError):
        SigningKey("k1", b"")
    with pytest.raises(ValueError):
        SigningKey("bad kid", K1.secret)
    shown = repr(TokenSigner([K2, K1])) + repr(K1) + repr([K1, K2])
    assert "k1" in shown and "k2" in shown
    assert K1.secret.decode() not in shown and K2.secret.decode() not in shown


# -- passwords -------------------------------------------------------------------------------------
def test_passwords_are_argon2id() -> None:
    stored = hash_password("agent-pw-0001")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("agent-pw-0001", stored)
    assert not verify_password("agent-pw-0002", stored)
    assert hash_password("agent-pw-0001") != stored  # salted
    assert not needs_rehash(stored)


def test_legacy_scrypt_hashes_still_verify_and_need_a_rehash() -> None:
    stored = legacy_scrypt_hash("old-password-1")
    assert stored.startswith("scrypt$")
    assert verify_password("old-password-1", stored)
    assert not verify_password("old-password-2", stored)
    assert needs_rehash(stored)


def test_argon2_hashes_with_other_parameters_need_a_rehash() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw-123456")
    other_type = PasswordHasher(
        time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.I
    ).hash("pw-123456")
    for stored in (weaker, other_type):
        assert verify_password("pw-123456", stored)  # still lets its owner in ...
        assert needs_rehash(stored)  # ... who then gets today's hash


def test_no_password_or_a_damaged_hash_lets_nobody_in() -> None:
    good = hash_password("pw-123456")
    for stored in (
        "",  # an agent created without a password
        "pw-123456",  # never stored in clear, but if it were: no
        "md5$abc$def",
        "scrypt$only-two",
        "scrypt$!!!$???",
        "$argon2id$garbage",
        good[:-5],
    ):
        assert not verify_password("pw-123456", stored), stored
    assert not needs_rehash("")
