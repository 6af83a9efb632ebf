"""Request ids: taken from ``X-Request-ID`` when well formed, generated otherwise.

A generated id is 32 lowercase hex digits, as a uuid4's hex was: 64 random bits drawn once
per process (again in a forked child) followed by a 64-bit counter. Unique across workers
and restarts without a system call or a ``UUID`` object per request; ids are labels for
logs and upstream correlation, not secrets.
"""

from __future__ import annotations

import itertools
import os
import re

HEADER = b"x-request-id"
MAX_LENGTH = 128
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _Ids:
    """The process's prefix and counter."""

    __slots__ = ("counter", "prefix")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)


_ids = _Ids()
os.register_at_fork(after_in_child=_ids.reset)


def new_request_id() -> str:
    """A fresh id, unique to this process and request."""
    return f"{_ids.prefix}{next(_ids.counter):016x}"


def accept_request_id(value: str | None) -> str:
    """The client's id when it is short and made of safe characters; a fresh one otherwise."""
    if value and len(value) <= MAX_LENGTH and _SAFE.match(value):
        return value
    return new_request_id()
