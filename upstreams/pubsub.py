"""One Redis pub/sub channel listened to for as long as the process runs: each message's
data handed on, the subscription made again after a failure, after a backoff that doubles
from ``LISTEN_BACKOFF`` up to ``LISTEN_BACKOFF_MAX`` seconds (and starts again once
subscribed). The response cache's invalidations and the live changes of subscriptions
(``resolvers.live``) each listen on their own channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

LISTEN_BACKOFF, LISTEN_BACKOFF_MAX = 0.1, 5.0


async def listen(
    redis: Any,
    channel: str,
    on_message: Callable[[Any], None],
    *,
    errors: tuple[type[BaseException], ...],
    on_failure: Callable[[BaseException], None],
) -> None:
    """Call ``on_message`` with the data of each message on ``channel``; a failure of
    Redis (one of ``errors``) goes to ``on_failure``, and the listening goes on."""
    delay = LISTEN_BACKOFF
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(channel)
            delay = LISTEN_BACKOFF
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message.get("type") == "message":
                    on_message(message.get("data"))
        except errors as exc:
            on_failure(exc)
        finally:
            with contextlib.suppress(*errors):
                await pubsub.aclose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, LISTEN_BACKOFF_MAX)
