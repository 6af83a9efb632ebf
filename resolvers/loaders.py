"""Per-request DataLoaders: every relation between services is loaded through one of these.

A loader collects the keys asked for in one tick of the event loop and hands them to a
client's batch method (``get_many`` and friends), which makes one call through the
upstream's batch filter where the deployment offers it, or a de-duplicated fan-out capped
by the bulkhead where it does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiodataloader import DataLoader

from upstreams.config import CallContext

BatchFn = Callable[[CallContext, Sequence[str]], Awaitable[Sequence[Any]]]
# Told of every batch a loader dispatches: (the batch method's qualified name, number of keys).
BatchHook = Callable[[str, int], None]


class _Loader(DataLoader):
    """A DataLoader whose primed records wait in a list until a key is loaded or cleared:
    a list call primes every record it returned (1,000 futures for a page of 1,000), and
    most requests never load one of them again. Priming later is priming alike: a load
    applies the waiting records first, and ``prime`` never overwrites a key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting: list[list[tuple[Any, dict[str, Any]]]] = []

    def _apply_waiting(self) -> None:
        waiting, self.waiting = self.waiting, []
        for pairs in waiting:
            for key, record in pairs:
                self.prime(key, record)

    def load(self, key: Any) -> Any:
        if self.waiting:
            self._apply_waiting()
        return super().load(key)

    def clear(self, key: Any) -> Any:
        if self.waiting:
            self._apply_waiting()
        return super().clear(key)

    def clear_all(self) -> Any:
        self.waiting = []
        return super().clear_all()


class Loaders:
    """The loaders of one request, keyed by the batch method they call and created on first
    use, so a query pays only for the relations it asks for.

    Nothing a loader holds refers back to its ``Loaders`` (the hook lives in a cell of its
    own): a cycle would keep the request's records (a page primes 1,000) alive after the
    request, until the cyclic collector finds them, by then in the older generations that
    it scans whole, and rarely."""

    __slots__ = ("_call", "_hook", "_loaders")

    def __init__(self, call: CallContext, on_batch: BatchHook | None = None) -> None:
        self._call = call
        self._loaders: dict[BatchFn, _Loader] = {}
        self._hook: list[BatchHook | None] = [on_batch]

    @property
    def on_batch(self) -> BatchHook | None:
        return self._hook[0]

    @on_batch.setter
    def on_batch(self, hook: BatchHook | None) -> None:
        self._hook[0] = hook

    def of(self, fetch: BatchFn) -> _Loader:
        """The request's loader over ``fetch`` (e.g. ``upstreams.templates.get_many``)."""
        loader = self._loaders.get(fetch)
        if loader is None:
            call, cell = self._call, self._hook
            name = getattr(fetch, "__qualname__", "loader")

            async def batch(keys: list[str]) -> list[Any]:
                hook = cell[0]
                if hook is not None:
                    hook(name, len(keys))
                return list(await fetch(call, keys))

            loader = self._loaders[fetch] = _Loader(batch_load_fn=batch)
        return loader

    def release(self) -> None:
        """Drop every loader (their caches and waiting records): the request is answered.
        Its executor ends in a reference cycle (graphql-core's), which holds the context
        and so these loaders until the cyclic collector runs; without this, a page's
        records would live that long too (see the class doc)."""
        self._loaders.clear()

    def prime(self, fetch: BatchFn, records: Sequence[dict[str, Any]], key: str = "id") -> None:
        """Seed ``fetch``'s loader with records a list call already returned (applied
        when the loader next loads a key)."""
        if records:
            self.of(fetch).waiting.append([(record[key], record) for record in records])


async def load_each(loader: DataLoader, keys: Sequence[str]) -> dict[str, Any]:
    """Each distinct key's value through ``loader`` (one batch for them all), or the
    exception it failed with in its place, so that every asker meets its own outcome."""
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return {}
    outcomes = await asyncio.gather(*(loader.load(k) for k in distinct), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome  # cancellation is not a key's outcome
    return dict(zip(distinct, outcomes, strict=True))
