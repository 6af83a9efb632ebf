"""structlog set-up: JSON lines in production, a readable console in development.

Every line passes ``merge_contextvars`` first, so what the edge (``gateway.edge``) bound,
``request_id`` and ``trace_id`` when tracing, is on every line of that request, the
upstream calls' included. Standard-library loggers (uvicorn's, the libraries') go through
the same processors and renderer, so production output is JSON from end to end.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import orjson
import structlog

from gateway.settings import Settings


def _orjson_dumps(obj: object, default: object = None) -> str:
    return orjson.dumps(obj, default=default).decode()  # type: ignore[arg-type]


def _add_pid(
    logger: object, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    # Which worker wrote the line, when uvicorn runs several.
    event["pid"] = _PID[0]
    return event


_PID = [os.getpid()]


def use_json(settings: Settings) -> bool:
    return settings.log_format == "json" or (settings.log_format == "auto" and settings.production)


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, cache: bool = True
) -> None:
    """Configure structlog and the root logger. ``stream`` defaults to stderr; tests pass
    their own with ``cache=False`` (a cached logger keeps the stream it first saw)."""
    out = sys.stderr if stream is None else stream
    _PID[0] = os.getpid()
    level = getattr(logging, settings.log_level.upper())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if use_json(settings):
        shared += [_add_pid, structlog.processors.format_exc_info]
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line, newline included: the workers share stderr, and unbuffered
        # (PYTHONUNBUFFERED, as the image sets) print() writes a line and its newline apart,
        # so another worker's line could land between them.
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at info, with its URL: the gateway logs upstream calls itself.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # Strawberry logs every error of every response at error level with a traceback: client
    # mistakes and upstream failures served as partial results included. The access line
    # carries each request's error codes, and graph/errors.py logs the unexpected ones.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
