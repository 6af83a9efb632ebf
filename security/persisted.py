"""Persisted queries: Apollo's Automatic Persisted Queries, and trusted documents.

APQ (Apollo's protocol): a request carries ``extensions.persistedQuery = {version: 1,
sha256Hash}``. With the hash alone, a known hash runs its stored document and an unknown
one answers ``PERSISTED_QUERY_NOT_FOUND``; the client then sends the document with its
hash, which is checked and stored. Because a hash-only GET names its document, cacheable
queries can travel as GET.

Trusted documents: a manifest (JSON, ``{hash: document}`` or Apollo's
``{"operations": [{"id", "body"}]}``) of documents known in advance. With
``trusted_only``, every other document is refused (the production lock-down), and APQ
cannot register new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_TRUSTED = "OPERATION_NOT_TRUSTED"
KEY_PREFIX = "tracseq:apq:"
DEFAULT_MEMORY_ENTRIES = 10_000
DEFAULT_TTL_SECONDS = 7 * 24 * 3600


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class QueryStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, document: str) -> None: ...


class MemoryQueryStore:
    """A bounded LRU of registered documents, for one process."""

    def __init__(self, max_entries: int = DEFAULT_MEMORY_ENTRIES) -> None:
        self._max = max_entries
        self._docs: OrderedDict[str, str] = OrderedDict()

    async def get(self, digest: str) -> str | None:
        document = self._docs.get(digest)
        if document is not None:
            self._docs.move_to_end(digest)
        return document

    async def put(self, digest: str, document: str) -> None:
        self._docs[digest] = document
        self._docs.move_to_end(digest)
        while len(self._docs) > self._max:
            self._docs.popitem(last=False)


class RedisQueryStore:
    """Registered documents shared by every replica, each kept ``ttl`` seconds after use."""

    def __init__(self, redis: Any, ttl: int = DEFAULT_TTL_SECONDS) -> None:
        self._redis = redis
        self._ttl = ttl

    async def get(self, digest: str) -> str | None:
        value = await self._redis.getex(KEY_PREFIX + digest, ex=self._ttl)
        return None if value is None else bytes(value).decode("utf-8")

    async def put(self, digest: str, document: str) -> None:
        await self._redis.set(KEY_PREFIX + digest, document.encode("utf-8"), ex=self._ttl)


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

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to execute, or ``PersistedQueryError`` with the protocol's code."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self._trusted_only and sha256_hex(query) not in self._manifest:
                raise PersistedQueryError(NOT_TRUSTED, "Only trusted documents may run here")
            return query
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
            return document
        if sha256_hex(query) != digest:
            raise PersistedQueryError(HASH_MISMATCH, "provided sha does not match query")
        if self._trusted_only:
            if digest not in self._manifest:
                raise PersistedQueryError(NOT_TRUSTED, "Only trusted documents may run here")
            return query
        await self._store.put(digest, query)
        return query
