"""What a well-formed GraphQL-over-HTTP request is, and the refusal of one that is not.

A POST body is one request (a JSON object) or a batch (a non-empty JSON list of them, at
most ``max_batch``); a GET carries one request in its query string, where ``variables``
and ``extensions`` are JSON strings and an empty parameter counts as absent. In each
request ``query`` and ``operationName`` are strings, ``variables`` and ``extensions``
objects, every one of them optional (null counts as absent); other members are ignored.
Anything else is refused with 400 and a message that says what is wrong, before any
document is looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from security.operation import LIMIT_EXCEEDED

BAD_REQUEST = "BAD_REQUEST"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"

_OBJECT_MEMBERS = ("variables", "extensions")
_STRING_MEMBERS = ("query", "operationName")


class RequestRefused(Exception):
    """A request the endpoint refuses before executing anything: its status, code, message
    and any headers the status calls for (``Allow`` with 405)."""

    def __init__(
        self,
        status_code: int,
        reason: str,
        code: str = BAD_REQUEST,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason
        self.code = code
        self.headers = dict(headers or {})


@dataclass(slots=True)
class GraphQLRequest:
    """One GraphQL request of an HTTP request (a batch holds several)."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def body_requests(data: object, max_batch: int) -> GraphQLRequest | list[GraphQLRequest]:
    """The request, or the batch, a decoded POST body (or multipart ``operations``) holds."""
    if isinstance(data, dict):
        return _request(data, "The request")
    if isinstance(data, list):
        if not data:
            raise RequestRefused(400, "A batch must hold at least one operation")
        if len(data) > max_batch:
            raise RequestRefused(400, "Too many operations", LIMIT_EXCEEDED)
        return [
            _request(item, f"Operation {index} of the batch") for index, item in enumerate(data)
        ]
    raise RequestRefused(
        400,
        "The request body must be a JSON object (one GraphQL request) or a list of them "
        f"(a batch), not {_json_kind(data)}",
    )


def query_string_request(params: Mapping[str, object]) -> GraphQLRequest:
    """The request a GET's query string holds."""
    data: dict[str, Any] = {}
    for name in (*_STRING_MEMBERS, *_OBJECT_MEMBERS):
        value = params.get(name)
        if not isinstance(value, str) or not value:
            continue
        if name in _OBJECT_MEMBERS:
            try:
                data[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise RequestRefused(
                    400, f"The `{name}` parameter must be a JSON object; it is not valid JSON"
                ) from None
        else:
            data[name] = value
    return _request(data, "The request")


def _request(data: object, what: str) -> GraphQLRequest:
    if not isinstance(data, dict):
        raise RequestRefused(400, f"{what} must be a JSON object, not {_json_kind(data)}")
    for name in _STRING_MEMBERS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise RequestRefused(400, f"{what}: `{name}` must be a string, not {_json_kind(value)}")
    for name in _OBJECT_MEMBERS:
        value = data.get(name)
        if value is not None and not isinstance(value, dict):
            raise RequestRefused(
                400, f"{what}: `{name}` must be an object, not {_json_kind(value)}"
            )
    return GraphQLRequest(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a file"
