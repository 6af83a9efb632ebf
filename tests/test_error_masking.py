"""A bug inside the gateway reaches the client as INTERNAL_SERVER_ERROR with a generic
message: no exception text, traceback, address or secret."""

from __future__ import annotations

from typing import Any

from graph.schema import create_schema
from resolvers.context import Context
from security.principal import Principal
from upstreams.config import CallContext


class _BrokenSamples:
    async def list(self, _call: CallContext, **_kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2 at http://10.0.0.5:8081/samples")


class _Upstreams:
    samples = _BrokenSamples()


async def test_an_unexpected_error_is_masked_with_a_code() -> None:
    context = Context.create(
        _Upstreams(),  # type: ignore[arg-type]
        CallContext(),
        default_page_size=50,
        max_page_size=1000,
        principal=Principal("u", "e", "lab_administrator", "s", 0),
    )
    result = await create_schema().execute(
        "{ samples(first: 1) { totalCount } }", context_value=context
    )
    assert result.errors is not None
    (error,) = result.errors
    assert error.message == "Internal server error"
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    text = str(error.formatted)
    assert "hunter2" not in text
    assert "10.0.0.5" not in text
    assert "Traceback" not in text
