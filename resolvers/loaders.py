"""Per-request DataLoaders: every relation between services is loaded through one of these.

A loader collects the keys asked for in one tick of the event loop and hands them to the
client's ``get_many``, which makes one call through the upstream's batch filter where the
deployment offers it, or a de-duplicated fan-out capped by the bulkhead where it does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiodataloader import DataLoader

from upstreams.config import CallContext
from upstreams.registry import Upstreams

Record = dict[str, Any]
BatchFn = Callable[[CallContext, Sequence[str]], Awaitable[Sequence[Record | None]]]


def _loader(fetch: BatchFn, call: CallContext) -> DataLoader:
    async def batch(keys: list[str]) -> list[Record | None]:
        return list(await fetch(call, keys))

    return DataLoader(batch_load_fn=batch)


class Loaders:
    """The loaders of one request, created lazily so a query pays only for what it uses."""

    __slots__ = ("_call", "_sample", "_template", "_upstreams")

    def __init__(self, upstreams: Upstreams, call: CallContext) -> None:
        self._upstreams = upstreams
        self._call = call
        self._sample: DataLoader | None = None
        self._template: DataLoader | None = None

    @property
    def sample(self) -> DataLoader:
        if self._sample is None:
            self._sample = _loader(self._upstreams.samples.get_many, self._call)
        return self._sample

    @property
    def template(self) -> DataLoader:
        if self._template is None:
            self._template = _loader(self._upstreams.templates.get_many, self._call)
        return self._template

    def prime_samples(self, records: Sequence[Record]) -> None:
        """Seed the sample cache with records a list call already returned."""
        loader = self.sample
        for record in records:
            loader.prime(record["id"], record)
