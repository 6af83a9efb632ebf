"""From each service's wire format to one shape, and from error bodies to the error tree.

- **Envelopes.** auth and samples wrap payloads in ``{"success", "data"}``; storage adds
  ``"message"`` and ``"timestamp"``; templates put a single item under ``"template"`` and
  lists under ``"data"`` beside ``"pagination"``; sequencing, notifications and rag answer
  bare JSON. ``unwrap`` returns the payload; when an envelope carries more than the payload
  (``pagination``), the payload stays beside it as ``{"data": ..., "pagination": ...}``.
- **Enums.** Services disagree on casing (``"InStorage"``, ``"in_storage"``,
  ``"IN_STORAGE"``). The gateway's one canonical form is lower snake_case; ``canonical``
  reads any of them, ``to_pascal`` writes the PascalCase the Rust services require.
- **Timestamps.** RFC 3339 strings become aware ``datetime`` values. A value that is not
  one becomes an ``UpstreamBadResponse`` *in place of the value*: whoever reads that field
  meets the error (graphql-core raises an exception it finds as a field's value, so the
  client sees that one field null with ``UPSTREAM_BAD_RESPONSE`` naming the service),
  while the rest of the record stays usable.
- **Errors.** ``parse_error`` reads every service's error body (and the empty or plain-text
  answers of the web framework) into ``UpstreamStatusError`` / ``UpstreamNotFound``, with a
  message that never names an upstream URL or host.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson

from upstreams.errors import UpstreamBadResponse, UpstreamNotFound, UpstreamStatusError

# Keys whose string values are enums (canonicalised). Free-text keys such as
# temperature_zone, sample_type and location status are left alone.
ENUM_KEYS = frozenset({"status", "priority", "role", "field_type", "notification_type"})
TIMESTAMP_KEYS = frozenset(
    {
        "collection_date",
        "estimated_start",
        "estimated_completion",
        "actual_start",
        "actual_completion",
        "timestamp",
    }
)
# Caller-owned JSON that travels through unchanged.
OPAQUE_KEYS = frozenset(
    {
        "metadata",
        "form_config",
        "extracted_data",
        "details",
        "storage_conditions",
        "sample_data",
        "validation_rules",
        "default_value",
        "options",
        "field_options",
        "field_metadata",
        "container_metadata",
        "access_restrictions",
        "special_requirements",
        "position_metadata",
        "coordinates",
        "template_data",
        "run_parameters",
        "samples_data",
    }
)
# Services whose enums travel PascalCase and which therefore want it back on writes.
PASCAL_SERVICES = frozenset({"samples", "templates", "sequencing"})

_ENVELOPE_META = frozenset({"success", "message", "timestamp"})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s\-]+")
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(
    r"\b(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]|[a-z0-9\-]+(?:\.[a-z0-9\-]+)+):\d{2,5}\b",
    re.IGNORECASE,
)
_MAX_MESSAGE = 300


@functools.lru_cache(maxsize=4096)
def canonical(value: str) -> str:
    """``"InStorage"``, ``"in_storage"``, ``"IN_STORAGE"``, ``"in-storage"`` → ``"in_storage"``."""
    # Cached: enum spellings are few and normalize() meets them in every record.
    value = _SEPARATORS.sub("_", value.strip())
    return _CAMEL_BOUNDARY.sub("_", value).lower()


def to_pascal(value: str) -> str:
    """``"in_storage"`` (or any spelling ``canonical`` reads) → ``"InStorage"``."""
    return "".join(part.capitalize() for part in canonical(value).split("_") if part)


def parse_timestamp(value: Any) -> Any:
    """An RFC 3339 string → aware datetime (UTC assumed when no offset); else unchanged."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# What normalize() does with a key's value; keys repeat in every record, so each key's kind
# is worked out once (up to _MAX_KINDS distinct keys, then on every meeting).
_COPY, _ENUM, _TIMESTAMP, _OTHER = range(4)
_KINDS: dict[str, int] = {}
_MAX_KINDS = 4096


def _kind(key: str) -> int:
    if key in OPAQUE_KEYS:
        return _COPY
    if key in ENUM_KEYS:
        return _ENUM
    if key.endswith("_at") or key in TIMESTAMP_KEYS:
        return _TIMESTAMP
    return _OTHER


# The JSON values that are never containers, by exact type: most values of an answer are
# these, and a type lookup rejects them faster than ``isinstance`` against a union.
_LEAVES = frozenset({str, int, float, bool, type(None)})


def normalize(value: Any, service: str = "upstream") -> Any:
    """Canonicalise enums and parse timestamps, recursively, in plain JSON data, in place:
    the caller hands over data it has just parsed and owns. Returns ``value``. A timestamp
    that does not parse is replaced by ``UpstreamBadResponse.for_value(service, ...)``."""
    if isinstance(value, list):
        leaves = _LEAVES
        for index, item in enumerate(value):
            if type(item) not in leaves and isinstance(item, dict | list):
                value[index] = normalize(item, service)
        return value
    if not isinstance(value, dict):
        return value
    # The hot loop of every upstream answer (a 1,000-sample page has ~30,000 values; a
    # sequencing scan far more): only enums and timestamps are rewritten (same keys, so
    # iterating stays valid), only containers recurse, everything else is left where it is.
    kinds = _KINDS
    leaves = _LEAVES
    for key, item in value.items():
        kind = kinds.get(key)
        if kind is None:
            kind = _kind(key)
            if len(kinds) < _MAX_KINDS:
                kinds[key] = kind
        if kind == _OTHER:
            if type(item) not in leaves and isinstance(item, dict | list):
                normalize(item, service)
        elif kind == _ENUM:
            if isinstance(item, str):
                value[key] = canonical(item)
            elif isinstance(item, dict | list):
                normalize(item, service)
        elif kind == _TIMESTAMP and isinstance(item, str):
            parsed = parse_timestamp(item)
            if parsed is item:
                parsed = UpstreamBadResponse.for_value(service, key, item)
            value[key] = parsed
    return value


def unwrap(service: str, payload: Any) -> Any:
    """Strip the service's envelope (see the module docstring)."""
    if service in {"sequencing", "notifications", "rag"} or not isinstance(payload, dict):
        return payload
    if service == "templates" and "template" in payload and "data" not in payload:
        return payload["template"]
    if "data" not in payload or "success" not in payload:
        return payload
    extra = {k: v for k, v in payload.items() if k not in _ENVELOPE_META}
    if len(extra) == 1:
        return payload["data"]
    return extra


def envelope_failure(service: str, payload: Any) -> str | None:
    """The message of a 2xx envelope that says ``"success": false``, else None."""
    if isinstance(payload, dict) and payload.get("success") is False and service not in {"rag"}:
        message = payload.get("message") or payload.get("error") or "request failed"
        return scrub(str(message))
    return None


def scrub(message: str) -> str:
    """Remove URLs and host:port pairs and bound the length: messages reach clients."""
    message = _URL.sub("<upstream>", message)
    message = _HOST_PORT.sub("<upstream>", message)
    message = " ".join(message.split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return message


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _read_error_body(body: bytes) -> tuple[str | None, str | None, Any]:
    """(code, message, details) from any of the services' error shapes."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None, None, None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, text, None  # plain-text rejection from the web framework
    if not isinstance(data, dict):
        return None, None, data
    error = data.get("error")
    if isinstance(error, dict):  # auth, sequencing, notifications
        code = error.get("code")
        details = {"retryable": error["retryable"]} if "retryable" in error else None
        return _str_or_none(code), _str_or_none(error.get("message")), details
    if isinstance(error, str):
        if "message" in data:  # samples: error is the code
            return error, _str_or_none(data.get("message")), data.get("details")
        return None, error, None  # storage
    detail = data.get("detail")  # rag (FastAPI)
    if isinstance(detail, str):
        return None, detail, None
    if detail is not None:
        return None, "validation error", detail
    return None, _str_or_none(data.get("message")), None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_error(service: str, status: int, body: bytes) -> UpstreamStatusError:
    """The error that an error answer of ``service`` means."""
    code, message, details = _read_error_body(body)
    message = scrub(message) if message else _status_phrase(status)
    cls = UpstreamNotFound if status == 404 else UpstreamStatusError
    return cls(service, status, message or _status_phrase(status), code=code, details=details)
