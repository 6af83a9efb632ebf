"""Bearer tokens are verified locally: algorithm allowlist, claims, expiry, issuer, audience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from security.config import JwtConfig
from security.jwt_secret import DEFAULT_JWT_SECRET
from security.revocation import MemoryRevocations, RedisRevocations
from security.tokens import InvalidToken, TokenVerifier, bearer_token

SECRET = DEFAULT_JWT_SECRET


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "7f7d2f6c-3c0a-4d55-9d7e-0d5f3c2b9a11",
        "email": "tech@tracseq.lab",
        "role": "lab_technician",
        "exp": now + 3600,
        "iat": now,
        "iss": "auth-service",
        "aud": "lab-management-system",
        "jti": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def test_valid_token_gives_the_principal() -> None:
    principal = TokenVerifier(JwtConfig()).verify(hs256(claims()))
    assert principal.id == "7f7d2f6c-3c0a-4d55-9d7e-0d5f3c2b9a11"
    assert principal.role == "lab_technician"
    assert principal.session_id == "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
    assert principal.email == "tech@tracseq.lab"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims(exp=int(time.time()) - 120), "expired"),
        (claims(iat=int(time.time()) + 600), "not yet valid"),
        (claims(iss="someone-else"), "issuer"),
        (claims(aud="another-system"), "audience"),
        (claims(jti=None), "'jti'"),
        (claims(role=None), "'role'"),
        (claims(role="superuser"), "unknown role"),
    ],
)
def test_bad_claims_are_rejected(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        TokenVerifier(JwtConfig()).verify(hs256(payload))


def test_expiry_has_a_small_leeway() -> None:
    token = hs256(claims(exp=int(time.time()) - 5))
    assert TokenVerifier(JwtConfig(leeway=30)).verify(token).role == "lab_technician"
    with pytest.raises(InvalidToken, match="expired"):
        TokenVerifier(JwtConfig(leeway=0)).verify(token)


@pytest.mark.parametrize(
    "marker",
    [
        {"token_type": "refresh"},
        {"typ": "Refresh"},
        {"type": "refresh_token"},
        {"token_use": "id"},
        {"token_type": 1},
    ],
    ids=["token_type", "typ", "type", "token_use", "not-a-string"],
)
def test_a_token_that_says_it_is_not_an_access_token_is_rejected(marker: dict[str, Any]) -> None:
    """Signed with the right key and carrying every access claim, yet a refresh or ID token."""
    with pytest.raises(InvalidToken, match="not an access token"):
        TokenVerifier(JwtConfig()).verify(hs256(claims(**marker)))


@pytest.mark.parametrize("typ", ["refresh+jwt", "id+jwt", "JWE"])
def test_a_header_type_other_than_an_access_jwt_is_rejected(typ: str) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"typ": typ})
    with pytest.raises(InvalidToken, match="not an access token"):
        TokenVerifier(JwtConfig()).verify(token)


def test_tokens_that_say_they_are_access_tokens_are_accepted() -> None:
    verifier = TokenVerifier(JwtConfig())
    rfc9068 = jwt.encode(
        claims(token_type="access"), SECRET, algorithm="HS256", headers={"typ": "at+jwt"}
    )
    assert verifier.verify(rfc9068).role == "lab_technician"
    assert verifier.verify(hs256(claims(typ="Bearer", token_use="access"))).role == (
        "lab_technician"
    )


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidToken, match="signature"):
        TokenVerifier(JwtConfig()).verify(hs256(claims(), "another-secret-that-is-32-bytes-long!"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_is_rejected() -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims()).encode())
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        TokenVerifier(JwtConfig()).verify(f"{header}.{body}.")


def _rsa() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, public_pem


def test_rs256_with_public_key_and_algorithm_confusion_rejected() -> None:
    key, public_pem = _rsa()
    verifier = TokenVerifier(JwtConfig(algorithm="RS256", public_key=public_pem))
    token = jwt.encode(claims(), key, algorithm="RS256")
    assert verifier.verify(token).role == "lab_technician"
    # HS256 "signed" with the public key as the secret: the classic confusion attack
    # (built by hand: PyJWT itself refuses to sign with a PEM key as an HMAC secret).
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims(role="lab_administrator")).encode())
    mac = hmac.new(public_pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{_b64(mac)}"
    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        verifier.verify(forged)


def test_rs256_from_a_jwks_file_picks_the_key_by_kid(tmp_path: Any) -> None:
    key, _ = _rsa()
    other, _ = _rsa()
    jwks = {
        "keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
            for k, kid in ((key, "one"), (other, "two"))
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    verifier = TokenVerifier(JwtConfig(algorithm="RS256", jwks_path=str(path)))
    token = jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "two"})
    assert verifier.verify(token).email == "tech@tracseq.lab"
    wrong_kid = jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "one"})
    with pytest.raises(InvalidToken):
        verifier.verify(wrong_kid)


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer a b", "token"])
def test_malformed_authorization_header_is_an_error(header: str) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header)


def test_absent_authorization_header_is_anonymous() -> None:
    assert bearer_token(None) is None
    assert bearer_token("  ") is None
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"


def test_short_hs256_secret_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtConfig(secret="short")


async def test_a_memory_revocation_lasts_until_the_time_it_is_given() -> None:
    now = [1000.0]
    revocations = MemoryRevocations(clock=lambda: now[0])
    await revocations.revoke("session-1", until=1060.0)
    assert await revocations.is_revoked("session-1")
    assert not await revocations.is_revoked("session-2")
    now[0] = 1061.0
    assert not await revocations.is_revoked("session-1")


async def test_a_redis_revocation_is_shared_and_expires_at_the_time_it_is_given(
    redis_client: Any,
) -> None:
    one, two = RedisRevocations(redis_client), RedisRevocations(redis_client)
    session = f"test-{time.monotonic_ns()}"
    await one.revoke(session, until=time.time() + 30)
    assert await two.is_revoked(session)
    ttl = await redis_client.ttl(f"tracseq:revoked:{session}")
    assert 0 < ttl <= 31
    await redis_client.delete(f"tracseq:revoked:{session}")


def test_a_verified_token_is_remembered_for_a_while_then_verified_again() -> None:
    now = [time.time()]
    verifier = TokenVerifier(JwtConfig(leeway=0), clock=lambda: now[0])
    token = hs256(claims(exp=int(now[0]) + 3600))
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # remembered, not verified again
    now[0] += 61  # past the cache's bound: verified afresh
    assert verifier.verify(token) is not first
    assert verifier.verify(token).id == first.id
