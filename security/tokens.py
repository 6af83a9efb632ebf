"""Bearer-token verification, done locally with PyJWT.

The algorithm comes from configuration, never from the token: a token whose header names
another algorithm (``none``, or HS256 signed with an RS256 public key: algorithm confusion)
is rejected before any key is used. ``exp``, ``iat``, ``iss`` and ``aud`` are checked with a
small leeway, and every claim the principal is built from must be present, the session
(``jti``) included.

Only access tokens are bearer credentials. The release's refresh tokens are opaque UUIDs
(they do not even parse), but an issuer that signs other tokens with the same key marks
them: a header ``typ`` other than ``JWT`` or ``at+jwt`` (RFC 9068), or a ``typ``,
``token_type``, ``type`` or ``token_use`` claim that does not say access (a refresh or ID
token), is refused before any other claim is read.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from security.config import JwtConfig
from security.principal import ROLES, Principal

REQUIRED_CLAIMS = ("sub", "email", "role", "exp", "iat", "iss", "aud", "jti")

# What a token says it is, where its issuer says it (compared in lower case).
ACCESS_HEADER_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
TYPE_CLAIMS = ("typ", "token_type", "type", "token_use")
ACCESS_TYPES = frozenset({"access", "access_token", "at+jwt", "bearer"})


class InvalidToken(Exception):
    """The token cannot be trusted; ``reason`` is safe to show and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is none.

    A header that is present but not a well-formed bearer credential is an error, not
    anonymity: a client that meant to authenticate must hear that it did not.
    """
    if authorization is None or authorization.strip() == "":
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return token


VERIFIED_CACHE_SIZE = 4096
VERIFIED_CACHE_SECONDS = 60.0


class TokenVerifier:
    """Verifies tokens; a token that verified is remembered for a short while (bounded by
    its own expiry), since a client sends the same token with every request and a full
    verification costs a few hundred microseconds. Revocation is checked per request
    elsewhere, never cached here."""

    def __init__(self, config: JwtConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._algorithms = [config.algorithm]
        self._keys = _load_keys(config)
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        now = self._clock()
        hit = self._verified.get(token)
        if hit is not None:
            principal, until = hit
            if now < until:
                return principal
            del self._verified[token]
        principal = self._verify(token)
        until = min(now + VERIFIED_CACHE_SECONDS, principal.expires_at + self._config.leeway)
        self._verified[token] = (principal, until)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") not in self._algorithms:
            raise InvalidToken("token algorithm not allowed")
        if not _names_type(header.get("typ"), ACCESS_HEADER_TYPES):
            raise InvalidToken("not an access token")
        key = self._key_for(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._config.audience,
                issuer=self._config.issuer,
                leeway=self._config.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token issuer not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("token signature or claims invalid") from None
        if not all(_names_type(claims.get(name), ACCESS_TYPES) for name in TYPE_CLAIMS):
            raise InvalidToken("not an access token")
        role = claims["role"]
        if role not in ROLES:
            raise InvalidToken("token names an unknown role")
        for name in ("sub", "email", "jti"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise InvalidToken(f"token claim {name!r} is malformed")
        return Principal(
            id=claims["sub"],
            email=claims["email"],
            role=role,
            session_id=claims["jti"],
            expires_at=float(claims["exp"]),
        )

    def _key_for(self, header: dict[str, Any]) -> Any:
        if len(self._keys) == 1:
            return next(iter(self._keys.values()))
        kid = header.get("kid")
        if kid not in self._keys:
            raise InvalidToken("token key id unknown")
        return self._keys[kid]


def _names_type(value: Any, accepted: frozenset[str]) -> bool:
    """Whether a type marker is absent or names one of the ``accepted`` types."""
    return value is None or (isinstance(value, str) and value.lower() in accepted)


def _load_keys(config: JwtConfig) -> dict[str | None, Any]:
    if config.algorithm == "HS256":
        return {None: config.secret}
    if config.public_key:
        return {None: _public_key(config.public_key)}
    if config.jwks_path is None:
        raise ValueError("RS256 needs a public key or a JWKS file")
    jwks = json.loads(Path(config.jwks_path).read_text(encoding="utf-8"))
    keys: dict[str | None, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig":
            keys[jwk.get("kid")] = jwt.PyJWK.from_dict(jwk, algorithm="RS256").key
    if not keys:
        raise ValueError(f"no RSA signing key in the JWKS file {config.jwks_path}")
    return keys


def _public_key(pem_or_path: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = pem_or_path
    if "-----BEGIN" not in text:
        text = Path(pem_or_path).read_text(encoding="utf-8")
    return load_pem_public_key(text.encode())
