"""``python -m sandbox``: run the sandbox services (also reused by ``tracseq-gateway sandbox``).

``build_parser()`` defines the flags, ``run(args)`` serves in the current event loop, and
``main(argv)`` does both for a console entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence

import orjson

from sandbox.options import EXTENSIONS, FIXES, options_from
from sandbox.runner import ALL_SERVICES, DEFAULT_PORTS, serve
from sandbox.seed import DEMO_USERS
from sandbox.services.auth import DEFAULT_JWT_SECRET
from sandbox.store import DEFAULT_DB_PATH, open_store
from sandbox.tls import tls_from


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The sandbox's flags, on a new parser or added to ``parser`` (e.g. a subcommand's)."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m sandbox",
            description="Run the TracSeq sandbox services (UPSTREAMS.md) on a SQLite store.",
        )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="0: every service on a free port; N: services on N, N+1, ... in the order "
        f"{','.join(ALL_SERVICES)}",
    )
    for name in ALL_SERVICES:
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=None,
            dest=f"{name}_port",
            help=f"port of {name} (default {DEFAULT_PORTS[name]})",
        )
    parser.add_argument(
        "--only",
        default=",".join(ALL_SERVICES),
        help="comma-separated services to run (default: all)",
    )
    parser.add_argument("--db", default=DEFAULT_DB_PATH, help=f"SQLite file ({DEFAULT_DB_PATH})")
    parser.add_argument("--memory", action="store_true", help="use an in-memory database")
    parser.add_argument("--reset", action="store_true", help="delete and reseed the database")
    parser.add_argument("--jwt-secret", default=DEFAULT_JWT_SECRET, help="HS256 signing secret")
    parser.add_argument(
        "--extensions",
        default="none",
        help="[extension] batch filters to answer: all, none (the release, default) or a "
        f"comma list of {', '.join(EXTENSIONS)}",
    )
    fixes = "; ".join(f"{name}: {what}" for name, what in FIXES.items())
    parser.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME",
        help=f"turn one release defect off (repeatable). Defects: {fixes}",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve every service over https:// with this PEM certificate (and chain); "
        "needs --tls-key (default: plain HTTP)",
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="with --tls-cert: require a client certificate signed by this PEM CA bundle",
    )
    parser.add_argument(
        "--announce",
        action="store_true",
        help='print one JSON line {"urls": {service: url}} on stdout once listening',
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the parent process dies (used by SandboxProcess)",
    )
    return parser


def selected_services(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for n in str(args.only).split(",") if n.strip()]
    unknown = [n for n in names if n not in DEFAULT_PORTS]
    if unknown or not names:
        raise SystemExit(
            f"--only: unknown service(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(ALL_SERVICES)}"
        )
    return names


def ports_from(args: argparse.Namespace) -> dict[str, int]:
    ports = dict(DEFAULT_PORTS)
    if args.port is not None:
        for index, name in enumerate(ALL_SERVICES):
            ports[name] = 0 if args.port == 0 else args.port + index
    for name in ALL_SERVICES:
        value = getattr(args, f"{name}_port", None)
        if value is not None:
            ports[name] = value
    return ports


def banner(urls: dict[str, str]) -> str:
    lines = ["TracSeq sandbox listening:"]
    lines += [f"  {name:<14} {url}" for name, url in urls.items()]
    lines.append("Demo users (email / password / role):")
    lines += [f"  {email:<24} {password:<20} {role}" for email, password, role in DEMO_USERS]
    return "\n".join(lines)


async def run(args: argparse.Namespace, *, handle_signals: bool = True) -> None:
    """Open the store and serve the selected services until cancelled or signalled."""
    services = selected_services(args)
    try:
        options = options_from(args.extensions, args.fix)
        tls = tls_from(args.tls_cert, args.tls_key, args.tls_client_ca)
    except ValueError as exc:
        raise SystemExit(f"sandbox: {exc}") from None
    store = open_store(args.db, memory=args.memory, reset=args.reset)

    def ready(urls: dict[str, str]) -> None:
        if args.announce:
            sys.stdout.write(orjson.dumps({"urls": urls}).decode() + "\n")
            sys.stdout.flush()
            print(banner(urls), file=sys.stderr, flush=True)
        else:
            print(banner(urls), flush=True)

    serving = asyncio.ensure_future(
        serve(
            services,
            host=args.host,
            ports=ports_from(args),
            store=store,
            jwt_secret=args.jwt_secret,
            options=options,
            on_ready=ready,
            handle_signals=handle_signals,
            tls=tls,
        )
    )
    watchdog = (
        asyncio.create_task(_watch_parent(serving))
        if getattr(args, "exit_with_parent", False)
        else None
    )
    try:
        await serving
    except asyncio.CancelledError:
        if watchdog is None or not watchdog.done():
            raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
        store.close()


async def _watch_parent(serving: asyncio.Future[None]) -> None:
    """Cancel ``serving`` once the parent process is gone (we get re-parented)."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - no event exists for a dying parent
        await asyncio.sleep(0.5)
    serving.cancel()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it): ~30% less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run(args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0
