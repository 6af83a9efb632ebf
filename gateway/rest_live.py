"""Status changes legacy clients make through the REST passthrough, announced as the GraphQL
mutations announce theirs (``resolvers.live``): a 2xx answer of
``PUT /api/samples/{id}/status``, ``PUT /api/sequencing/jobs/{id}/status`` or
``POST /api/sequencing/jobs/{id}/cancel`` holds the changed record, which the tap hands to
the hub before the client hears of it (subscribers here at once, the other replicas through
Redis). Other writes (a delete, which answers no record) are found by the pollers."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from resolvers.live import JOBS, SAMPLES, Live
from upstreams.normalize import normalize, unwrap

# (method, path segments with "*" for an id) -> (topic, service)
_ANNOUNCED: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {
    ("PUT", ("api", "samples", "*", "status")): (SAMPLES, "samples"),
    ("PUT", ("api", "sequencing", "jobs", "*", "status")): (JOBS, "sequencing"),
    ("POST", ("api", "sequencing", "jobs", "*", "cancel")): (JOBS, "sequencing"),
}
_LENGTHS = frozenset(len(shape) for _, shape in _ANNOUNCED)


def _announced(method: str, path: str) -> tuple[str, str] | None:
    parts = tuple(path.strip("/").split("/"))
    if len(parts) not in _LENGTHS:
        return None
    for (wanted, shape), target in _ANNOUNCED.items():
        if (
            method == wanted
            and len(shape) == len(parts)
            and all(s == "*" or s == p for s, p in zip(shape, parts, strict=True))
        ):
            return target
    return None


class LiveTap:
    """The passthrough tap of the module docstring."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def wants(self, method: str, path: str) -> bool:
        return method in ("PUT", "POST") and _announced(method, path) is not None

    async def before(self, request: Request, body: bytes) -> Response | None:
        return None

    async def after(self, request: Request, body: bytes, status: int, answer: bytes) -> None:
        target = _announced(request.method, request.url.path)
        if target is None or not 200 <= status < 300:
            return
        topic, service = target
        try:
            record: Any = normalize(unwrap(service, orjson.loads(answer)), service)
        except orjson.JSONDecodeError:
            return
        if isinstance(record, dict) and record.get("id") is not None:
            await self.live.changed(topic, record)
