"""Persisted queries: Apollo's Automatic Persisted Queries, and trusted documents.

APQ (Apollo's protocol): a request carries ``extensions.persistedQuery = {version: 1,
sha256Hash}``. With the hash alone, a known hash runs its stored document and an unknown
one answers ``PERSISTED_QUERY_NOT_FOUND``; the client then sends the document with its
hash, which is checked, and stored once its operation starts executing: after it parsed,
validated, passed the operation limits and its cost was spent (the endpoint performs the
``Registration`` at that point). Because a hash-only GET names its document,
cacheable queries can travel as GET.

Stores are bounded: this process's by bytes (least recently used first out); Redis's by a
time to live that slides on every use and by a budget in bytes, beyond which a new
document runs but is not kept.

Trusted documents: a manifest (JSON, ``{hash: document}`` or Apollo's
``{"operations": [{"id", "body"}]}``) of documents known in advance. With
``trusted_only``, every other document is refused (the production lock-down), and APQ
cannot register new ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from security.config import (
    DEFAULT_APQ_MEMORY_BYTES,
    DEFAULT_APQ_REDIS_BYTES,
    DEFAULT_APQ_TTL,
)

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_TRUSTED = "OPERATION_NOT_TRUSTED"
# One hash tag: the store's three keys live in one slot of a Redis cluster.
KEY_PREFIX = "{tracseq:apq}"
# Expired documents a registration removes from Redis at most (each put sweeps some).
SWEEP_BATCH = 100


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class QueryStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, document: str) -> bool:
        """Keep ``document``; False when the store has no room for it."""
        ...


class MemoryQueryStore:
    """Registered documents of one process, at most ``max_bytes`` (UTF-8) in all: the least
    recently used leave first; a document larger than the whole budget is not kept."""

    def __init__(self, max_bytes: int = DEFAULT_APQ_MEMORY_BYTES) -> None:
        self._max = max_bytes
        self._docs: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self.used_bytes = 0

    async def get(self, digest: str) -> str | None:
        entry = self._docs.get(digest)
        if entry is None:
            return None
        self._docs.move_to_end(digest)
        return entry[0]

    async def put(self, digest: str, document: str) -> bool:
        size = len(document.encode("utf-8"))
        if size > self._max:
            return False
        previous = self._docs.pop(digest, None)
        if previous is not None:
            self.used_bytes -= previous[1]
        self._docs[digest] = (document, size)
        self.used_bytes += size
        while self.used_bytes > self._max:
            _, (_, evicted) = self._docs.popitem(last=False)
            self.used_bytes -= evicted
        return True


# KEYS: documents (hash digest -> document), expiry (sorted set digest -> expiry time),
# bytes (the documents' total size). Every script keeps the three consistent, and gives
# the three keys the time to live of the newest entry, so an unused store leaves Redis.
_EXPIRE_KEYS = """
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[3]) end
"""
_DROP = """
local function drop(digest)
  local document = redis.call('HGET', KEYS[1], digest)
  if document then
    redis.call('DECRBY', KEYS[3], string.len(document))
    redis.call('HDEL', KEYS[1], digest)
  end
  redis.call('ZREM', KEYS[2], digest)
end
"""
# ARGV: digest, now (s), ttl (ms), ttl (s)
_GET = (
    _DROP
    + """
local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expires then return false end
if tonumber(expires) <= tonumber(ARGV[2]) then
  drop(ARGV[1])
  return false
end
local document = redis.call('HGET', KEYS[1], ARGV[1])
if not document then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[4]), ARGV[1])
"""
    + _EXPIRE_KEYS
    + """
return document
"""
)
# ARGV: digest, now (s), ttl (ms), ttl (s), document, budget (bytes), sweep batch
_PUT = (
    _DROP
    + """
local now = tonumber(ARGV[2])
for _, digest in ipairs(
  redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
) do
  drop(digest)
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local size = string.len(ARGV[5])
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used + size > tonumber(ARGV[6]) then return 0 end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
  redis.call('INCRBY', KEYS[3], size)
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
"""
    + _EXPIRE_KEYS
    + """
return 1
"""
)


class RedisQueryStore:
    """Registered documents shared by every replica: each kept ``ttl`` seconds after its
    last use (an expired one is a miss), at most ``max_bytes`` in all (when full, a new
    document is not kept). One hash of documents, a sorted set of expiry times and a byte
    counter, changed only by the scripts above; a registration sweeps expired entries."""

    def __init__(
        self,
        redis: Any,
        *,
        max_bytes: int = DEFAULT_APQ_REDIS_BYTES,
        ttl: float = DEFAULT_APQ_TTL,
        prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._max = max_bytes
        self._ttl = ttl
        self._clock = clock
        self.keys = (f"{prefix}:documents", f"{prefix}:expiry", f"{prefix}:bytes")
        self._get = redis.register_script(_GET)
        self._put = redis.register_script(_PUT)

    def _times(self) -> list[Any]:
        return [self._clock(), max(1, round(self._ttl * 1000)), self._ttl]

    async def get(self, digest: str) -> str | None:
        value = await self._get(keys=self.keys, args=[digest, *self._times()])
        return None if value is None else bytes(value).decode("utf-8")

    async def put(self, digest: str, document: str) -> bool:
        args = [digest, *self._times(), document.encode("utf-8"), self._max, SWEEP_BATCH]
        return bool(await self._put(keys=self.keys, args=args))


@dataclass(frozen=True, slots=True)
class Registration:
    """A document sent with its hash, to store once its operation starts executing."""

    store: QueryStore
    digest: str
    document: str

    async def perform(self) -> bool:
        return await self.store.put(self.digest, self.document)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document to execute, its registration when the request brought one, and its
    SHA-256 when the request named it (checked against the document when both came)."""

    document: str | None
    registration: Registration | None = None
    digest: str | None = field(default=None, compare=False)


def load_manifest(path: str) -> dict[str, str]:
    """Hash → document from a manifest file; every hash is checked against its document."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        pairs = [(str(op["id"]), str(op["body"])) for op in data["operations"]]
    elif isinstance(data, dict):
        pairs = [(str(k), str(v)) for k, v in data.items()]
    else:
        raise ValueError(f"{path}: expected an object of hash to document")
    manifest = {}
    for digest, document in pairs:
        if sha256_hex(document) != digest.lower():
            raise ValueError(f"{path}: the hash {digest[:16]}... does not match its document")
        manifest[digest.lower()] = document
    return manifest


class PersistedQueries:
    def __init__(
        self,
        store: QueryStore,
        *,
        manifest: dict[str, str] | None = None,
        trusted_only: bool = False,
    ) -> None:
        self._store = store
        self._manifest = manifest or {}
        self._trusted_only = trusted_only

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> Resolved:
        """The document to execute, with its registration when ``query`` came with a new
        hash; or ``PersistedQueryError`` with the protocol's code. Stores nothing."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self._trusted_only and sha256_hex(query) not in self._manifest:
                raise PersistedQueryError(NOT_TRUSTED, "Only trusted documents may run here")
            return Resolved(query)
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(NOT_SUPPORTED, "Unsupported persisted query version")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError(NOT_SUPPORTED, "persistedQuery.sha256Hash is malformed")
        digest = digest.lower()
        if query is None:
            document = self._manifest.get(digest)
            if document is None and not self._trusted_only:
                document = await self._store.get(digest)
            if document is None:
                raise PersistedQueryError(NOT_FOUND, "PersistedQueryNotFound")
            return Resolved(document, digest=digest)
        if sha256_hex(query) != digest:
            raise PersistedQueryError(HASH_MISMATCH, "provided sha does not match query")
        if digest in self._manifest:
            return Resolved(query, digest=digest)
        if self._trusted_only:
            raise PersistedQueryError(NOT_TRUSTED, "Only trusted documents may run here")
        return Resolved(query, Registration(self._store, digest, query), digest)
