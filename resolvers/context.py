"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resolvers.loaders import Loaders
from upstreams.config import CallContext
from upstreams.registry import Upstreams


@dataclass(slots=True)
class Context:
    """Built once per GraphQL request by the gateway's ``get_context``.

    ``loaders`` are fresh for every request, so their caches never leak between callers.
    """

    upstreams: Upstreams
    call: CallContext
    loaders: Loaders
    request_id: str
    default_page_size: int
    max_page_size: int
    request: Any = None
    response: Any = None

    @classmethod
    def create(
        cls,
        upstreams: Upstreams,
        call: CallContext,
        *,
        default_page_size: int,
        max_page_size: int,
        request: Any = None,
        response: Any = None,
    ) -> Context:
        return cls(
            upstreams=upstreams,
            call=call,
            loaders=Loaders(call),
            request_id=call.request_id or "",
            default_page_size=default_page_size,
            max_page_size=max_page_size,
            request=request,
            response=response,
        )
