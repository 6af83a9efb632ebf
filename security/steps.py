"""The security steps of the edge, and how a step refuses a request.

A step is a function of the request, run by the edge (``gateway.edge``) before the app, in
a fixed order: authentication, the minimum spend, the body limit, CSRF. It looks at the
scope (and may add to it: the principal) and returns the ``receive`` to go on with, the
one it was given or one that watches the body as it streams in; or it raises ``Refused``.
``Refused`` may also come later, out of such a ``receive`` while the app reads the body.
Either way the edge answers it with ``reject``, in the shape of the surface called, unless
the response has already started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from security.responses import reject

Step = Callable[[Scope, Receive], Awaitable[Receive]]


class Refused(Exception):
    """A request a step will not let on: the status, code and message of its answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extensions = extensions

    async def answer(self, scope: Scope, send: Send) -> None:
        await reject(
            scope, send, self.status, self.code, self.message, self.headers, self.extensions
        )
