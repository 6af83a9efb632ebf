"""Salted password hashes for the sandbox's users (PBKDF2-SHA256; few rounds: a sandbox)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_ROUNDS = 2_000


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_password(password: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), _ROUNDS)
    return digest.hex()


def verify_password(password: str, salt: str, expected: str) -> bool:
    return hmac.compare_digest(hash_password(password, salt), expected)
