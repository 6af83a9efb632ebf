"""Floors: what the stack itself allows, with none of the gateway's features.

Three reference measurements, each bounding one target of the suite. They answer "how far
could the gateway go on this machine with this stack?" and so tell a missed target that
code can still reach from one that it cannot.

- **relay** (bounds S5): uvicorn with httptools and uvloop, the gateway's server, runs a
  bare ASGI function that relays ``GET /api/samples/{id}`` through one aiohttp session,
  the I/O under the gateway's pool. No route map, guards, breaker, bulkhead, timeouts,
  header hygiene, disconnect watch, logs or metrics. Driven exactly like S5; S5 / S6 cannot
  exceed relay / S6.
- **strawberry** (bounds S1): Strawberry's own ASGI view with its parser and validation
  caches, one resolver that fetches the sample with aiohttp and returns ``id name status``.
  No authentication, limits, DataLoader, breaker, logs or metrics. Driven exactly like S1.
- **S2 execution** (bounds S2): graphql-core alone executes S2's document over in-memory
  records with async relation resolvers; no HTTP, no Strawberry, no upstream calls. One
  operation's time is the least CPU S2 can cost on one core.

The two servers run as child processes on the gateway's CPU (``python -m bench.floors
relay|strawberry --port P --upstream URL``); ``measure`` starts, drives and stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import strawberry

from bench.harness import free_port, wait_until_serving, wrk

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def relay_app(upstream: str) -> Any:
    """The bare relay (see the module docstring)."""
    import aiohttp

    session: list[aiohttp.ClientSession] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session.append(aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await session[0].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        async with session[0].get(upstream + scope["path"].removeprefix("/api")) as answer:
            body = await answer.read()
            headers = [
                (k.lower().encode(), v.encode())
                for k, v in answer.headers.items()
                if k.lower() not in HOP_BY_HOP
            ]
            status = answer.status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@strawberry.type
class FloorSample:
    id: strawberry.ID
    name: str
    status: str


@strawberry.type
class FloorQuery:
    @strawberry.field
    async def sample(self, info: strawberry.Info, id: strawberry.ID) -> FloorSample | None:
        upstream, session = info.context["upstream"], info.context["session"]
        async with session.get(f"{upstream}/samples/{id}") as answer:
            record = (await answer.json())["data"]
        return FloorSample(id=record["id"], name=record["name"], status=record["status"])


def strawberry_app(upstream: str) -> Any:
    """The bare Strawberry view (see the module docstring)."""
    import aiohttp
    from strawberry.asgi import GraphQL
    from strawberry.extensions import ParserCache, ValidationCache

    session: list[aiohttp.ClientSession] = []

    class View(GraphQL[dict[str, Any], None]):
        async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
            if not session:
                session.append(aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()))
            return {"upstream": upstream, "session": session[0]}

    schema = strawberry.Schema(
        query=FloorQuery, extensions=[lambda: ParserCache(maxsize=100), ValidationCache]
    )
    return View(schema, graphql_ide=None)


@contextmanager
def serving(kind: str, upstream: str, cpus: str | None) -> Iterator[str]:
    """Run one floor server as a child process; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "bench.floors", kind, "--port", str(port)]
    command += ["--upstream", upstream]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        # The relay answers the samples service's /health; the view a GET query.
        ready = "/health" if kind == "relay" else "/?query=%7B__typename%7D"
        wait_until_serving(proc, url + ready, f"the {kind} floor server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(
    kind: str,
    upstream: str,
    path: str,
    *,
    cpus: str | None,
    driver: str | None,
    duration: float,
    warmup: float,
    connections: int = 32,
    method: str = "GET",
    body: bytes | None = None,
) -> dict[str, Any]:
    """One floor server driven by wrk like the scenario it bounds: req/s and latencies."""
    headers = {"Content-Type": "application/json"} if body is not None else None
    with serving(kind, upstream, cpus) as url:
        check = httpx.request(method, url + path, content=body, headers=headers, timeout=10)
        if check.status_code != 200 or b'"errors"' in check.content:
            raise RuntimeError(f"{kind} floor: HTTP {check.status_code}: {check.text[:300]}")
        common: dict[str, Any] = {
            "connections": connections, "cpus": driver, "method": method, "body": body,
            "headers": headers,
        }  # fmt: skip
        wrk(url + path, duration=warmup, **common)
        result = wrk(url + path, duration=duration, **common)
    return {
        "rps": round(result["rps"], 1),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "errors": result["non_2xx"] + result["socket_errors"],
    }


S2_DOCUMENT = """{ samples(first: 50) { edges { node {
  id name status
  template { id name }
  storage { path location { name } }
  sequencingJobs { id name status }
} } } }"""


def s2_execution(rounds: int = 200) -> dict[str, Any]:
    """graphql-core alone on S2's shape (see the module docstring): ms per operation."""
    from graphql import (
        GraphQLArgument,
        GraphQLField,
        GraphQLID,
        GraphQLInt,
        GraphQLList,
        GraphQLNonNull,
        GraphQLObjectType,
        GraphQLSchema,
        GraphQLString,
        execute,
        parse,
    )

    def scalars(*names: str) -> dict[str, GraphQLField]:
        return {
            n: GraphQLField(GraphQLNonNull(GraphQLID if n == "id" else GraphQLString))
            for n in names
        }

    job = GraphQLObjectType("SequencingJob", scalars("id", "name", "status"))
    template = GraphQLObjectType("Template", scalars("id", "name"))
    location = GraphQLObjectType("StorageLocation", scalars("name"))
    storage = GraphQLObjectType(
        "SampleStorage", {**scalars("path"), "location": GraphQLField(location)}
    )

    async def resolve_template(record: dict[str, Any], _info: Any) -> dict[str, Any]:
        return record["template"]

    async def resolve_storage(record: dict[str, Any], _info: Any) -> dict[str, Any] | None:
        return record["storage"]

    async def resolve_jobs(record: dict[str, Any], _info: Any) -> list[dict[str, Any]]:
        return record["jobs"]

    sample = GraphQLObjectType(
        "Sample",
        {
            **scalars("id", "name", "status"),
            "template": GraphQLField(template, resolve=resolve_template),
            "storage": GraphQLField(storage, resolve=resolve_storage),
            "sequencingJobs": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(job))), resolve=resolve_jobs
            ),
        },
    )
    edge = GraphQLObjectType("SampleEdge", {"node": GraphQLField(GraphQLNonNull(sample))})
    connection = GraphQLObjectType(
        "SampleConnection", {"edges": GraphQLField(GraphQLNonNull(GraphQLList(edge)))}
    )
    # 50 samples; as in the sandbox, one in five has a place in storage and the jobs
    # spread over them (60 in all).
    records = [
        {
            "id": f"s{i}", "name": f"Sample {i}", "status": "VALIDATED",
            "template": {"id": f"t{i % 12}", "name": f"Template {i % 12}"},
            "storage": {"path": "A/1", "location": {"name": "Freezer"}} if i % 5 == 0 else None,
            "jobs": [{"id": f"j{i}-{k}", "name": "run", "status": "COMPLETED"} for k in range(6)]
            if i % 5 == 0 else [],
        }
        for i in range(50)
    ]  # fmt: skip

    async def resolve_samples(_root: Any, _info: Any, first: int) -> dict[str, Any]:
        return {"edges": [{"node": r} for r in records[:first]]}

    query = GraphQLObjectType(
        "Query",
        {
            "samples": GraphQLField(
                connection, args={"first": GraphQLArgument(GraphQLInt)}, resolve=resolve_samples
            )
        },
    )
    schema = GraphQLSchema(query=query)
    document = parse(S2_DOCUMENT)

    async def run() -> list[float]:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            outcome = execute(schema, document)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            times.append(time.perf_counter() - started)
            if outcome.errors:
                raise RuntimeError(f"S2 floor document failed: {outcome.errors}")
        return times

    times = _run(run)
    per_op_ms = statistics.median(times[len(times) // 4 :]) * 1000
    return {
        "rounds": rounds,
        "ms_per_operation": round(per_op_ms, 2),
        "max_rps_one_core": round(1000 / per_op_ms),
    }


def _run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """On uvloop when installed, as the gateway runs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("relay", "strawberry"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the samples service's base URL")
    args = parser.parse_args(argv)
    import uvicorn

    build = relay_app if args.kind == "relay" else strawberry_app
    uvicorn.run(
        build(args.upstream.rstrip("/")),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
