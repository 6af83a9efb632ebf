"""Running the sandbox: ``serve`` (in-process, one event loop) and ``SandboxProcess`` (a
subprocess for tests and benchmarks).

``serve`` runs one uvicorn server per service in the current event loop, on sockets it binds
itself (so port 0 works and the chosen port is known before on_ready), until it is cancelled
or, when it owns the signal handlers, SIGINT/SIGTERM arrive. uvicorn's own signal capture is
switched off: with several servers in one loop it would chain-raise the signal it caught.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import IO, Any

import orjson
import uvicorn

from sandbox.options import RELEASE, Options
from sandbox.services import SERVICE_NAMES, build_app
from sandbox.services.auth import DEFAULT_JWT_SECRET
from sandbox.store import Store, open_store
from sandbox.tls import ServerTls

ALL_SERVICES: tuple[str, ...] = SERVICE_NAMES
DEFAULT_PORTS: dict[str, int] = {
    "auth": 8080,
    "samples": 8081,
    "storage": 8082,
    "templates": 8083,
    "sequencing": 8084,
    "notifications": 8085,
    "rag": 8086,
}
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

__all__ = [
    "ALL_SERVICES",
    "DEFAULT_PORTS",
    "SandboxProcess",
    "bind_socket",
    "open_store",
    "serve",
]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to ``serve``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to (host, port); port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it each response (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def serve(
    services: Iterable[str] = ALL_SERVICES,
    *,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    store: Store | None = None,
    jwt_secret: str = DEFAULT_JWT_SECRET,
    options: Options = RELEASE,
    sockets: Mapping[str, socket.socket] | None = None,
    on_ready: Callable[[dict[str, str]], None] | None = None,
    handle_signals: bool = True,
    tls: ServerTls | None = None,
) -> None:
    """Serve the chosen services until cancelled (or SIGINT/SIGTERM when ``handle_signals``).

    ``ports`` overrides ``DEFAULT_PORTS`` per service (0: a free port); ``sockets`` gives
    pre-bound sockets instead. ``store`` defaults to a fresh in-memory store. ``on_ready``
    receives ``{service: base_url}`` once every server is listening. Pass
    ``handle_signals=False`` when the caller owns the process's signals (e.g. the gateway).
    ``options`` adds [extension] filters and fixed defects to the release's behaviour;
    ``tls`` serves every service over https:// (``sandbox.tls``; None: plain HTTP).
    """
    names = list(dict.fromkeys(services))
    for name in names:
        if name not in DEFAULT_PORTS:
            raise ValueError(f"unknown sandbox service {name!r}")
    if store is None:
        store = open_store(None, memory=True)
    chosen_ports = {**DEFAULT_PORTS, **(ports or {})}
    owned: list[socket.socket] = []
    bound: dict[str, socket.socket] = {}
    try:
        for name in names:
            if sockets is not None and name in sockets:
                bound[name] = sockets[name]
                with contextlib.suppress(OSError):
                    bound[name].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                sock = bind_socket(host, chosen_ports[name])
                owned.append(sock)
                bound[name] = sock
    except BaseException:
        for sock in owned:
            sock.close()
        raise
    servers: dict[str, _Server] = {}
    for name in names:
        config = uvicorn.Config(
            build_app(name, store, jwt_secret=jwt_secret, options=options),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            date_header=False,
            **(tls.uvicorn_options() if tls is not None else {}),
        )
        servers[name] = _Server(config)
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def stop() -> None:
        for server in servers.values():
            server.should_exit = True

    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop)
                installed.append(sig)
    tasks = [
        asyncio.create_task(server.serve(sockets=[bound[name]]), name=f"sandbox-{name}")
        for name, server in servers.items()
    ]
    try:
        while not all(server.started for server in servers.values()):
            failed = next((t for t in tasks if t.done()), None)
            if failed is not None:
                failed.result()
                raise RuntimeError(f"sandbox server {failed.get_name()} stopped during startup")
            await asyncio.sleep(0.005)
        if on_ready is not None:
            scheme = "http" if tls is None else "https"
            on_ready({name: _url(bound[name], scheme) for name in names})
        await asyncio.gather(*tasks)
    finally:
        stop()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), STOP_TIMEOUT)
        for sig in installed:
            loop.remove_signal_handler(sig)
        for sock in owned:
            sock.close()


class SandboxProcess:
    """The sandbox as a subprocess: ``with SandboxProcess() as sb: sb.urls["samples"]``.

    Starts ``python -m sandbox --port 0 --announce`` in its own process group, reads the
    announced URLs, and on exit terminates it (SIGTERM, then SIGKILL after 5 s) and reaps it.
    """

    def __init__(
        self,
        services: Iterable[str] = ALL_SERVICES,
        *,
        memory: bool = True,
        db_path: str | None = None,
        jwt_secret: str = DEFAULT_JWT_SECRET,
        options: Options = RELEASE,
        tls: ServerTls | None = None,
        extra_args: Iterable[str] = (),
    ) -> None:
        self.services = list(services)
        self.options = options
        self.tls = tls
        self.memory = memory
        self.db_path = db_path
        self.jwt_secret = jwt_secret
        self.extra_args = list(extra_args)
        self.urls: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("sandbox process is not running")
        return self._proc.pid

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "sandbox", "--port", "0", "--announce", "--exit-with-parent"]
        args += ["--only", ",".join(self.services), "--jwt-secret", self.jwt_secret]
        if self.memory:
            args.append("--memory")
        elif self.db_path is not None:
            args += ["--db", self.db_path]
        args += self.options.arguments()
        if self.tls is not None:
            args += self.tls.arguments()
        return args + self.extra_args

    def __enter__(self) -> SandboxProcess:
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self._proc.stdout
        assert stdout is not None

        def pump() -> None:
            # Read the announcement, then keep draining so the child never blocks on stdout.
            for line in stdout:
                lines.put(line)
            lines.put(b"")

        self._reader = threading.Thread(target=pump, name="sandbox-stdout", daemon=True)
        self._reader.start()
        try:
            self.urls = self._await_announcement(lines)
        except BaseException:
            self.stop()
            raise
        return self

    def _await_announcement(self, lines: queue.Queue[bytes]) -> dict[str, str]:
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(
                f"sandbox did not announce within {STARTUP_TIMEOUT:.0f} s: {self._errors()}"
            ) from None
        try:
            urls = orjson.loads(line)["urls"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise RuntimeError(f"sandbox failed to start: {line!r} {self._errors()}") from None
        return {str(k): str(v) for k, v in urls.items()}

    def _errors(self) -> str:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0.5)
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            # Whatever the leader left behind in its group goes too.
            _signal_group(proc.pid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(2.0)
            self._reader = None
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._proc = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state: Any = self._proc.pid if self._proc is not None else "stopped"
        return f"SandboxProcess({state}, {self.urls})"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
