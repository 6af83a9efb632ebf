"""``tracseq-gateway``: serve the gateway, run it with the sandbox, or export the schema.

tracseq-gateway serve           the gateway alone (the default command)
tracseq-gateway dev             the sandbox services and the gateway together
tracseq-gateway sandbox ...     the sandbox services alone (see --help)
tracseq-gateway export-schema   write the printed SDL to schema.graphql
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from gateway.settings import Settings, SettingsError

if TYPE_CHECKING:
    from starlette.applications import Starlette

SCHEMA_FILE = "schema.graphql"

# How often a serving process hands the memory freed since to the kernel (malloc_trim).
TRIM_INTERVAL_S = 10.0
# How long SIGTERM waits for the WebSocket close frames before uvicorn hears of it.
SOCKET_CLOSE_TIMEOUT = 1.0
# The allocator settings a serving process runs with (see use_system_allocator); an
# operator's own values in the environment win.
ALLOCATOR_ENV = {"PYTHONMALLOC": "malloc", "MALLOC_ARENA_MAX": "2"}


def _load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"tracseq-gateway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def app_factory() -> Starlette:
    """What each uvicorn worker process runs: settings from its environment, one app."""
    from gateway.app import create_app
    from gateway.logging import configure_logging

    settings = _load_settings()
    configure_logging(settings)
    app = create_app(settings)
    drain_on_sigterm(app, settings.drain_delay)
    freeze_startup_heap()
    start_memory_trimmer()
    return app


def freeze_startup_heap() -> None:
    """Move everything allocated so far (modules, the schema, the app) out of the cyclic
    garbage collector's sight: none of it is ever garbage. Without this a full collection
    walks all of it: 25-42 ms with the event loop stopped, measured under S1 at ~360 req/s,
    and the largest latencies of a run were those pauses (max 36-49 ms, 7-8 ms after)."""
    gc.collect()
    gc.freeze()


def _glibc() -> ctypes.CDLL | None:
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def use_system_allocator() -> None:
    """Re-execute this process (same pid, same arguments) with ``ALLOCATOR_ENV`` when it
    is not already set, on glibc. Why: a burst of big answers (16 concurrent
    ``samples(first: 1000)``) needs ~60 MB of short-lived Python objects at once. pymalloc
    returns an arena (1 MiB) to the system only when every object in it is gone, and the
    few objects that outlive a burst pin most of them: one worker stayed at +80% RSS for
    good after 250 such requests, with its live Python objects back where they started.
    Under glibc malloc the same memory is freed in pages, which ``malloc_trim`` hands back
    (measured: 84 MB before, 140 MB after 120 big answers, 88 MB after a collection and a
    trim, see ``start_memory_trimmer``). Two arenas: the few threads besides the event
    loop need no heap of their own. Only for the program itself (``main()`` without
    arguments): the re-executed process runs ``sys.orig_argv``."""
    missing = {k: v for k, v in ALLOCATOR_ENV.items() if k not in os.environ}
    if not missing or _glibc() is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, **missing})  # noqa: S606


def start_memory_trimmer(interval: float = TRIM_INTERVAL_S) -> None:
    """Every ``interval`` seconds, collect the cyclic garbage and give the pages glibc
    holds free back to the kernel (``malloc_trim(0)``, which runs without the GIL). Both
    are needed after a burst: an idle process allocates nothing, so the collector never
    runs and the burst's reference cycles (~14,000 objects, ~27 MB after 120 big answers)
    stay; and free() returns only the top of the heap, so RSS stays at the peak. The
    collection is a pause of a few milliseconds (the startup heap is frozen), at most
    once per interval."""
    libc = _glibc()
    if libc is None:
        return

    def trim() -> None:
        while True:
            time.sleep(interval)
            gc.collect()
            libc.malloc_trim(0)

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()


def drain_on_sigterm(app: Starlette, delay: float) -> None:
    """Make SIGTERM drain ``app`` before uvicorn hears of it: ``/ready`` answers 503 at
    once, everything else is served for ``delay`` seconds (``TRACSEQ_DRAIN_DELAY``), then
    uvicorn gets the signal (see ``serve``). Another SIGTERM while draining changes nothing
    (a process group signalled, then each worker again by its supervisor); SIGINT ends the
    drain at once, as uvicorn's own handler still takes it.

    The handler goes in when the lifespan has started: uvicorn has installed its own
    handlers by then, in each worker process, and this one hands the signal on to them."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(started: Any) -> AsyncIterator[Any]:
        async with inner(started) as state:
            drain = _Drain(app, delay)
            try:
                yield state
            finally:
                drain.uninstall()

    app.router.lifespan_context = lifespan


class _Drain:
    """The SIGTERM handler of one serving process (only the main thread may have one)."""

    def __init__(self, app: Starlette, delay: float) -> None:
        self._monitor = app.state.health
        self._sockets = app.state.websocket
        self._delay = delay
        self._loop = asyncio.get_running_loop()
        self._timer: threading.Timer | None = None
        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        if self._monitor.draining:
            return
        self._monitor.start_draining()
        # Logged from the loop, not here: a signal handler runs between two bytecodes of
        # whatever the main thread was doing, possibly in the middle of writing a log line.
        self._loop.call_soon_threadsafe(self._log_draining)
        # WebSocket clients are told at once to reconnect elsewhere (1001, going away);
        # uvicorn's own shutdown would close them with 1012 later.
        closing = asyncio.run_coroutine_threadsafe(self._close_sockets(), self._loop)
        if self._delay <= 0:
            # uvicorn hears of the signal once the close frames are on their way.
            closing.add_done_callback(lambda _: self._previous(sig, None))
            return
        self._timer = threading.Timer(self._delay, self._previous, (sig, None))
        self._timer.daemon = True
        self._timer.start()

    async def _close_sockets(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SOCKET_CLOSE_TIMEOUT):
                await self._sockets.close_all()

    def _log_draining(self) -> None:
        structlog.get_logger().info("shutdown.draining", drain_delay_s=self._delay)

    def uninstall(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def serve(settings: Settings) -> None:
    """Run uvicorn. On SIGTERM the gateway drains (``drain_on_sigterm``: /ready 503, for
    ``TRACSEQ_DRAIN_DELAY`` seconds, none by default); then uvicorn stops accepting, lets
    the requests in flight finish for up to ``TRACSEQ_SHUTDOWN_TIMEOUT`` seconds, and runs
    the lifespan's shutdown (pools closed). With ``TRACSEQ_WORKERS`` > 1 it supervises that
    many processes, each draining on its own, whose metrics are merged through a fresh
    ``PROMETHEUS_MULTIPROC_DIR``."""
    from gateway.logging import configure_logging
    from gateway.metrics import MULTIPROC_ENV
    from gateway.tracing import require_otel

    try:
        require_otel(settings)
    except SettingsError as exc:
        print(f"tracseq-gateway: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings)
    if settings.workers == 1:
        from gateway.app import create_app

        app = create_app(settings)
        drain_on_sigterm(app, settings.drain_delay)
        freeze_startup_heap()
        start_memory_trimmer()
        _run(app, settings)
        return
    owned_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        owned_dir = tempfile.mkdtemp(prefix="tracseq-metrics-")
        os.environ[MULTIPROC_ENV] = owned_dir
    stop_metrics = None
    try:
        if settings.metrics_port is not None:
            from gateway.metrics import multiprocess_registry, serve_metrics

            stop_metrics = serve_metrics(
                settings.host, settings.metrics_port, multiprocess_registry()
            )
        _run("gateway.cli:app_factory", settings, factory=True, workers=settings.workers)
    finally:
        if stop_metrics is not None:
            stop_metrics()
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)


def _run(app: Any, settings: Settings, **extra: Any) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # uvicorn's loggers go through ours (JSON in production)
        log_level=settings.log_level,
        access_log=False,  # the gateway writes its own access line
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # X-Forwarded-* is believed only from TRACSEQ_TRUSTED_PROXIES, by the gateway
        # itself: uvicorn must not rewrite the client address from it first.
        proxy_headers=False,
        # Subscriptions' events are small: per-message deflate would cost each socket a
        # compressor (~300 KB) and each event its CPU. And no message beyond a body's limit.
        ws_per_message_deflate=False,
        ws_max_size=settings.security.limits.max_body_bytes,
        **extra,
    )


def dev(settings: Settings, reset: bool) -> None:
    """Start the sandbox (its own process, data kept under .sandbox/) and the gateway."""
    from sandbox.runner import SandboxProcess
    from sandbox.seed import DEMO_USERS

    ports = {name: url.rsplit(":", 1)[-1] for name, url in settings.upstream_urls.items()}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    if reset:
        args.append("--reset")
    db_path = os.path.join(".sandbox", "tracseq.db")
    if settings.directory is None:
        # People's profiles for every role: the sandbox administrator is the directory
        # account (workers read it from the environment).
        from upstreams.auth import DirectoryAccount

        email, password, _ = DEMO_USERS[0]
        os.environ.setdefault("TRACSEQ_DIRECTORY_EMAIL", email)
        os.environ.setdefault("TRACSEQ_DIRECTORY_PASSWORD", password)
        settings = dataclasses.replace(settings, directory=DirectoryAccount(email, password))
    with SandboxProcess(memory=False, db_path=db_path, extra_args=args) as sandbox:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        print(f"\n  Sandbox services: {', '.join(f'{k} {v}' for k, v in sandbox.urls.items())}")
        print(f"  GraphiQL:         http://{host}:{settings.port}/graphql")
        print("  Demo logins (email / password / role):")
        for email, password, role in DEMO_USERS:
            print(f"    {email:<24} {password:<18} {role}")
        print()
        serve(settings)


def export_schema(path: Path) -> None:
    from graph.schema import create_schema

    path.write_text(str(create_schema()) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracseq-gateway", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gateway (settings from TRACSEQ_* variables)")
    dev_parser = sub.add_parser("dev", help="run the sandbox services and the gateway together")
    dev_parser.add_argument("--reset", action="store_true", help="reseed the sandbox data")
    sub.add_parser("sandbox", help="run the sandbox services alone", add_help=False)
    export = sub.add_parser("export-schema", help="write the printed SDL")
    export.add_argument("--output", "-o", type=Path, default=Path(SCHEMA_FILE))
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    as_program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        from sandbox.cli import main as sandbox_main

        sandbox_main(argv[1:])
        return
    args = build_parser().parse_args(argv)
    if as_program and args.command in (None, "serve", "dev"):
        use_system_allocator()
    if args.command == "export-schema":
        export_schema(args.output)
    elif args.command == "dev":
        dev(_load_settings(), args.reset)
    else:
        serve(_load_settings())


if __name__ == "__main__":
    main()
