"""Subscriptions over graphql-transport-ws: a real WebSocket client against the gateway
served by uvicorn on a free port, over the sandbox (and a real Redis for two replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from gateway.app import create_app
from gateway.settings import Settings, SocketLimits
from sandbox.options import Options
from sandbox.runner import SandboxProcess
from sandbox.tokens import mint_token
from security.config import RateLimitConfig
from tests.conftest import REDIS_URL, SandboxControl, sandbox_settings, started
from tests.loopback import serve
from tests.processes import gateway_process

PROTOCOL = "graphql-transport-ws"
WATCH_SAMPLE = """
subscription Watch($ids: [ID!]) {
  sampleStatusChanged(ids: $ids) {
    previousStatus status changedAt
    sample { id name status }
  }
}"""
CREATE = """
mutation { createSample(input: {name: "live sample", sampleType: DNA}) {
  sample { id status } userErrors { code } } }"""
MOVE = """
mutation Move($id: ID!, $status: SampleStatus!) {
  changeSampleStatus(input: {id: $id, status: $status}) { sample { status } userErrors { code } }
}"""


def _settings(sb: SandboxProcess, **overrides: Any) -> Settings:
    """Settings whose poller waits long unless a test says otherwise: a test that counts on
    a mutation's event is not helped by the poll."""
    sockets = overrides.pop("sockets", SocketLimits())
    security = overrides.pop("security", None)
    overrides.setdefault("subscription_poll_interval", 60.0)
    settings = sandbox_settings(sb, sockets=sockets, **overrides)
    if security is not None:
        settings = dataclasses.replace(settings, security=security)
    return settings


@asynccontextmanager
async def live_gateway(settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    """The gateway app, its lifespan running, served on a free loopback port: the app and
    its base URL."""
    app = create_app(settings)
    async with started(app), serve(app) as url:
        yield app, url


class Socket:
    """One graphql-transport-ws client connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message that is not a keep-alive ping."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            message: dict[str, Any] = orjson.loads(raw)
            if message["type"] != "ping":
                return message

    async def subscribe(self, key: str, query: str, **variables: Any) -> None:
        payload = {"query": query, "variables": variables}
        await self.send({"type": "subscribe", "id": key, "payload": payload})

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """The close code the server ends the connection with."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        return self.ws.close_code


@asynccontextmanager
async def socket(
    url: str,
    *,
    token: str | None = None,
    role: str | None = "lab_administrator",
    origin: str | None = None,
    init: bool = True,
) -> AsyncIterator[Socket]:
    """A connection to ``url``'s /graphql, acknowledged after ``connection_init`` with a
    token for ``role`` (or ``token``; neither: anonymous) unless ``init`` is false."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    offered = [Subprotocol(PROTOCOL)]
    async with connect(
        ws_url, subprotocols=offered, origin=Origin(origin) if origin else None
    ) as ws:
        client = Socket(ws)
        if init:
            if token is None and role is not None:
                token = mint_token(role)
            payload = {} if token is None else {"authorization": f"Bearer {token}"}
            await client.send({"type": "connection_init", "payload": payload})
            assert (await client.receive())["type"] == "connection_ack"
        yield client


async def _post(url: str, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {mint_token('lab_administrator')}"}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _new_sample(url: str) -> str:
    body = await _post(url, CREATE)
    sample_id: str = body["data"]["createSample"]["sample"]["id"]
    return sample_id


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        await asyncio.sleep(0.01)


async def test_a_status_change_through_a_mutation_reaches_a_subscriber_without_the_poller(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            polls = app.state.live.polls["samples"]
            body = await _post(url, MOVE, id=sample_id, status="VALIDATED")
            assert body["data"]["changeSampleStatus"]["userErrors"] == []
            # The poller's next round is a minute away (_settings): only the mutation's own
            # announcement can deliver this.
            message = await client.receive(timeout=10.0)
            assert app.state.live.polls["samples"] == polls
    assert message["type"] == "next"
    assert message["id"] == "1"
    event = message["payload"]["data"]["sampleStatusChanged"]
    assert event["previousStatus"] == "PENDING"
    assert event["status"] == "VALIDATED"
    assert event["sample"] == {"id": sample_id, "name": "live sample", "status": "VALIDATED"}
    assert "errors" not in message["payload"]


async def test_a_change_made_at_the_sandbox_reaches_a_subscriber_through_the_poller(
    sandbox: SandboxProcess,
) -> None:
    interval = 0.5
    async with live_gateway(_settings(sandbox, subscription_poll_interval=interval)) as (
        app,
        url,
    ):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("w", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            async with httpx.AsyncClient(timeout=10) as http:
                changed = await http.put(
                    f"{sandbox.urls['samples']}/samples/{sample_id}/status",
                    json={"new_status": "Validated"},
                )
            assert changed.status_code == 200, changed.text
            # Only the poller can see a change made at the service directly.
            message = await client.receive(timeout=interval + 10.0)
            event = message["payload"]["data"]["sampleStatusChanged"]
            assert (event["previousStatus"], event["status"]) == ("PENDING", "VALIDATED")
            # Seen by the poller only once: the next rounds deliver nothing more.
            polls = app.state.live.polls["samples"]
            await _until(lambda: app.state.live.polls["samples"] >= polls + 2)
            with pytest.raises(TimeoutError):
                await client.receive(timeout=0.1)


async def test_an_event_seen_by_both_the_mutation_and_the_poller_is_delivered_once(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox, subscription_poll_interval=0.2)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            await _post(url, MOVE, id=sample_id, status="VALIDATED")
            first = await client.receive(timeout=1.0)
            assert first["payload"]["data"]["sampleStatusChanged"]["status"] == "VALIDATED"
            polls = app.state.live.polls["samples"]
            await _until(lambda: app.state.live.polls["samples"] >= polls + 3)
            with pytest.raises(TimeoutError):
                await client.receive(timeout=0.1)


async def test_a_mutation_on_one_gateway_process_reaches_a_subscriber_on_another_through_redis(
    sandbox: SandboxProcess, redis_client: Any
) -> None:
    env = {
        "TRACSEQ_ENV": "test",
        "TRACSEQ_REDIS_URL": REDIS_URL,
        "TRACSEQ_RATE_LIMIT_ENABLED": "false",
        "TRACSEQ_SUBSCRIPTION_POLL_INTERVAL": "60",
    }
    security = dataclasses.replace(
        Settings().security, redis_url=REDIS_URL, rate_limit=RateLimitConfig(enabled=False)
    )
    settings = _settings(sandbox, security=security)
    with gateway_process(sandbox, **env) as writer:
        async with live_gateway(settings) as (app, url):
            sample_id = await _new_sample(writer.url)
            async with socket(url) as client:
                await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
                await _until(lambda: app.state.live.ready("samples"))
                polls = app.state.live.polls["samples"]
                body = await _post(writer.url, MOVE, id=sample_id, status="VALIDATED")
                assert body["data"]["changeSampleStatus"]["userErrors"] == []
                # This process's poller waits a minute: the event came through Redis.
                message = await client.receive(timeout=10.0)
                assert app.state.live.polls["samples"] == polls
    event = message["payload"]["data"]["sampleStatusChanged"]
    assert (event["previousStatus"], event["status"]) == ("PENDING", "VALIDATED")
    assert event["sample"]["id"] == sample_id


async def test_with_redis_down_a_mutation_still_reaches_this_processs_subscribers(
    sandbox: SandboxProcess, closed_port: int
) -> None:
    security = dataclasses.replace(
        Settings().security,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        rate_limit=RateLimitConfig(enabled=False),
    )
    async with live_gateway(_settings(sandbox, security=security)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            body = await _post(url, MOVE, id=sample_id, status="VALIDATED")
            assert body["data"]["changeSampleStatus"]["userErrors"] == []
            message = await client.receive(timeout=2.0)
    assert message["payload"]["data"]["sampleStatusChanged"]["status"] == "VALIDATED"


async def test_a_revoked_token_closes_the_socket_with_4403(sandbox: SandboxProcess) -> None:
    sockets = SocketLimits(auth_check_interval=0.1)
    async with live_gateway(_settings(sandbox, sockets=sockets)) as (app, url):
        session = str(uuid.uuid4())
        token = mint_token("lab_technician", session_id=session)
        async with socket(url, token=token) as client:
            await client.subscribe("1", WATCH_SAMPLE)
            await app.state.security.revoke(session, time.time() + 3600)
            assert await client.closed_with(timeout=2.0) == 4403


async def test_a_token_that_expires_closes_the_socket_with_4403(sandbox: SandboxProcess) -> None:
    sockets = SocketLimits(auth_check_interval=0.2)
    async with (
        live_gateway(_settings(sandbox, sockets=sockets)) as (_, url),
        socket(url, token=mint_token("lab_technician", lifetime=1)) as client,
    ):
        assert await client.closed_with(timeout=3.0) == 4403


async def test_an_invalid_token_in_connection_init_closes_the_socket_with_4403(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url, init=False) as client:
        payload = {"authorization": f"Bearer {mint_token(secret='x' * 40)}"}
        await client.send({"type": "connection_init", "payload": payload})
        assert await client.closed_with() == 4403


async def test_a_foreign_origin_is_refused_at_the_handshake(sandbox: SandboxProcess) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            async with socket(url, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        # The gateway's own origin is welcome.
        async with socket(url, origin=url) as client:
            await client.send({"type": "ping"})
            assert (await client.receive())["type"] == "pong"


async def test_an_allowed_cors_origin_may_open_a_socket(sandbox: SandboxProcess) -> None:
    security = dataclasses.replace(
        Settings().security,
        cors_origins=("https://lab.example",),
        rate_limit=RateLimitConfig(enabled=False),
    )
    async with (
        live_gateway(_settings(sandbox, security=security)) as (_, url),
        socket(url, origin="https://lab.example") as client,
    ):
        await client.send({"type": "ping"})
        assert (await client.receive())["type"] == "pong"


async def test_an_anonymous_subscriber_is_refused_by_rbac(sandbox: SandboxProcess) -> None:
    async with (
        live_gateway(_settings(sandbox)) as (app, url),
        socket(url, role=None) as client,
    ):
        await client.subscribe("1", WATCH_SAMPLE)
        message = await client.receive()
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await client.receive())["type"] == "complete"
        assert app.state.live.subscribers("samples") == 0


async def test_subscriptions_beyond_the_connection_limit_are_refused(
    sandbox: SandboxProcess,
) -> None:
    sockets = SocketLimits(max_per_connection=2)
    async with (
        live_gateway(_settings(sandbox, sockets=sockets)) as (app, url),
        socket(url) as client,
    ):
        # Distinct samples: each subscription has a stream (and a feed) of its own.
        ids = [str(uuid.uuid4()) for _ in range(4)]
        for key, sample_id in zip("123", ids, strict=False):
            await client.subscribe(key, WATCH_SAMPLE, ids=[sample_id])
        message = await client.receive()
        assert message["type"] == "error"
        assert message["id"] == "3"
        assert message["payload"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"
        await _until(lambda: app.state.live.subscribers("samples") == 2)
        # Completing one makes room for another.
        await client.send({"type": "complete", "id": "1"})
        await _until(lambda: app.state.live.subscribers("samples") == 1)
        await client.subscribe("4", WATCH_SAMPLE, ids=[ids[3]])
        await _until(lambda: app.state.live.subscribers("samples") == 2)


async def test_subscriptions_beyond_the_per_user_limit_are_refused_on_any_socket(
    sandbox: SandboxProcess,
) -> None:
    sockets = SocketLimits(max_per_user=2)
    token = mint_token("lab_technician")
    async with (
        live_gateway(_settings(sandbox, sockets=sockets)) as (app, url),
        socket(url, token=token) as one,
        socket(url, token=token) as two,
        socket(url, token=mint_token("research_scientist")) as other,
    ):
        await one.subscribe("1", WATCH_SAMPLE, ids=[str(uuid.uuid4())])
        await two.subscribe("1", WATCH_SAMPLE, ids=[str(uuid.uuid4())])
        await _until(lambda: app.state.live.subscribers("samples") == 2)
        await two.subscribe("2", WATCH_SAMPLE, ids=[str(uuid.uuid4())])
        message = await two.receive()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "OPERATION_LIMIT_EXCEEDED"
        assert "TRACSEQ_MAX_SUBSCRIPTIONS_PER_USER" in message["payload"][0]["message"]
        # Another principal has its own allowance.
        await other.subscribe("1", WATCH_SAMPLE, ids=[str(uuid.uuid4())])
        await _until(lambda: app.state.live.subscribers("samples") == 3)


async def test_subscribers_of_one_role_share_one_execution_and_both_get_the_event(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as one, socket(url) as two:
            await one.subscribe("a", WATCH_SAMPLE, ids=[sample_id])
            await two.subscribe("b", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            await _until(lambda: len(app.state.websocket.streams) == 1)
            assert app.state.live.subscribers("samples") == 1
            await _post(url, MOVE, id=sample_id, status="VALIDATED")
            first, second = await one.receive(timeout=1.0), await two.receive(timeout=1.0)
    assert (first["id"], second["id"]) == ("a", "b")
    assert first["payload"] == second["payload"]
    assert first["payload"]["data"]["sampleStatusChanged"]["status"] == "VALIDATED"


async def test_subscribers_of_other_roles_or_reading_people_have_executions_of_their_own(
    sandbox: SandboxProcess,
) -> None:
    people = WATCH_SAMPLE.replace("sample { id name status }", "sample { id createdBy { id } }")
    async with live_gateway(_settings(sandbox)) as (app, url):
        async with (
            socket(url) as admin,
            socket(url, role="lab_technician") as technician,
            socket(url) as other_admin,
        ):
            await admin.subscribe("1", WATCH_SAMPLE)
            await technician.subscribe("1", WATCH_SAMPLE)
            await admin.subscribe("2", people)
            await other_admin.subscribe("1", people)
            await _until(lambda: app.state.live.subscribers("samples") == 4)
        await _until(lambda: app.state.live.subscribers("samples") == 0)
    assert len(app.state.websocket.streams) == 0


async def test_a_subscription_spends_rate_limit_when_it_starts(sandbox: SandboxProcess) -> None:
    limits = RateLimitConfig(enabled=True, rate=0.001, burst=2)
    security = dataclasses.replace(Settings().security, rate_limit=limits)
    async with (
        live_gateway(_settings(sandbox, security=security)) as (_, url),
        socket(url) as client,
    ):
        for key in ("1", "2", "3"):
            await client.subscribe(key, WATCH_SAMPLE)
        message = await client.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_duplicate_operation_id_closes_the_socket_with_4409(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url) as client:
        await client.subscribe("1", WATCH_SAMPLE)
        await client.subscribe("1", WATCH_SAMPLE)
        assert await client.closed_with() == 4409


async def test_a_subscribe_before_connection_init_closes_the_socket_with_4401(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url, init=False) as client:
        await client.subscribe("1", WATCH_SAMPLE)
        assert await client.closed_with() == 4401


async def test_a_malformed_message_closes_the_socket_with_4400(sandbox: SandboxProcess) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url) as client:
        await client.ws.send("not json")
        assert await client.closed_with() == 4400


async def test_a_query_over_the_socket_answers_once_and_completes(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url) as client:
        await client.subscribe("q", "{ samples(first: 1) { edges { node { id } } } }")
        message = await client.receive()
        assert message["type"] == "next"
        assert len(message["payload"]["data"]["samples"]["edges"]) == 1
        assert (await client.receive()) == {"type": "complete", "id": "q"}


async def test_an_invalid_subscription_document_is_an_error_message(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url) as client:
        await client.subscribe("1", "subscription { noSuchField }")
        message = await client.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "noSuchField" in message["payload"][0]["message"]


async def test_a_malformed_id_argument_is_bad_user_input(sandbox: SandboxProcess) -> None:
    async with (
        live_gateway(_settings(sandbox)) as (app, url),
        socket(url) as client,
    ):
        await client.subscribe("1", WATCH_SAMPLE, ids=["not-a-uuid"])
        message = await client.receive()
        assert message["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert (await client.receive())["type"] == "complete"
        assert app.state.live.subscribers("samples") == 0


async def test_a_subscription_over_http_is_refused_with_400(sandbox: SandboxProcess) -> None:
    async with (
        live_gateway(_settings(sandbox)) as (_, url),
        httpx.AsyncClient(timeout=10) as http,
    ):
        response = await http.post(
            f"{url}/graphql",
            json={"query": WATCH_SAMPLE},
            headers={
                "authorization": f"Bearer {mint_token()}",
                "accept": "application/graphql-response+json",
            },
        )
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]


async def test_the_poller_stops_when_the_last_subscriber_leaves(sandbox: SandboxProcess) -> None:
    async with (
        live_gateway(_settings(sandbox, subscription_poll_interval=0.1)) as (app, url),
        socket(url) as client,
    ):
        await client.subscribe("1", WATCH_SAMPLE)
        await _until(lambda: app.state.live.polling("samples"))
        await client.send({"type": "complete", "id": "1"})
        await _until(lambda: not app.state.live.polling("samples"))
        polls = app.state.live.polls["samples"]
        await asyncio.sleep(0.3)
        assert app.state.live.polls["samples"] == polls


async def test_the_poller_makes_one_upstream_call_per_round_whatever_the_subscribers(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    async with live_gateway(_settings(sandbox, subscription_poll_interval=0.1)) as (app, url):
        ids = [str(uuid.uuid4()) for _ in range(30)]
        async with socket(url) as one, socket(url) as two:
            for n, sample_id in enumerate(ids):
                await (one if n % 2 else two).subscribe(str(n), WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.subscribers("samples") == 30)
            control.reset_stats()
            start = app.state.live.polls["samples"]
            await _until(lambda: app.state.live.polls["samples"] >= start + 5)
            done = app.state.live.polls["samples"]
            calls = control.requests("samples")
    assert done - start - 1 <= calls <= done - start + 1  # a round may straddle each read


async def test_metrics_count_sockets_subscriptions_and_deliveries(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            await _post(url, MOVE, id=sample_id, status="VALIDATED")
            await client.receive(timeout=1.0)
            async with httpx.AsyncClient(timeout=10) as http:
                text = (await http.get(f"{url}/metrics")).text
    assert "tracseq_websockets_open 1.0" in text
    assert 'tracseq_subscriptions_active{topic="samples"} 1.0' in text
    assert 'tracseq_subscription_streams{topic="samples"} 1.0' in text
    assert 'tracseq_subscription_events_delivered_total{topic="samples"} 1.0' in text
    assert 'tracseq_subscription_changes_total{source="mutation",topic="samples"} 1.0' in text
    assert 'tracseq_subscription_delivery_lag_seconds_count{topic="samples"} 1.0' in text
    assert 'tracseq_subscription_polls_total{outcome="ok",topic="samples"} 1.0' in text
    watched = 'operation_name="Watch",operation_type="subscription",outcome="success"'
    assert f"tracseq_graphql_operations_total{{{watched}}} 1.0" in text


def test_sigterm_closes_the_sockets_with_1001(sandbox: SandboxProcess) -> None:
    async def watch(url: str, closed: asyncio.Future[int | None], pid: int) -> None:
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE)
            os.kill(pid, signal.SIGTERM)
            closed.set_result(await client.closed_with(timeout=10.0))

    async def main(url: str, pid: int) -> int | None:
        closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        await watch(url, closed, pid)
        return await closed

    with gateway_process(sandbox, TRACSEQ_ENV="test") as gateway:
        code = asyncio.run(main(gateway.url, gateway.proc.pid))
    assert code == 1001


WATCH_JOB = """
subscription Jobs($ids: [ID!]) {
  sequencingJobUpdated(ids: $ids) { previousStatus status changedAt job { id name status } }
}"""
MOVE_JOB = """
mutation Move($id: ID!, $status: JobStatus!) {
  changeSequencingJobStatus(input: {id: $id, status: $status}) {
    sequencingJob { status } userErrors { code }
  }
}"""


async def _new_job(sandbox: SandboxProcess) -> str:
    """A DRAFT job, created at the sequencing service."""
    body = {
        "name": f"live job {uuid.uuid4().hex[:6]}",
        "priority": "Normal",
        "platform_id": "illumina_novaseq",
        "workflow_id": "standard_wgs",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(f"{sandbox.urls['sequencing']}/jobs", json=body)
    assert created.status_code == 201, created.text
    job_id: str = created.json()["id"]
    return job_id


async def test_a_job_status_change_through_a_mutation_reaches_a_job_subscriber(
    sandbox: SandboxProcess,
) -> None:
    job_id = await _new_job(sandbox)
    async with live_gateway(_settings(sandbox)) as (app, url), socket(url) as client:
        await client.subscribe("j", WATCH_JOB, ids=[job_id])
        await _until(lambda: app.state.live.ready("jobs"))
        body = await _post(url, MOVE_JOB, id=job_id, status="SUBMITTED")
        assert body["data"]["changeSequencingJobStatus"]["userErrors"] == []
        message = await client.receive(timeout=1.0)
    event = message["payload"]["data"]["sequencingJobUpdated"]
    assert (event["previousStatus"], event["status"]) == ("DRAFT", "SUBMITTED")
    assert event["job"]["id"] == job_id
    assert event["job"]["status"] == "SUBMITTED"


async def test_a_job_changed_at_the_release_is_read_in_full_once_and_delivered(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    job_id = await _new_job(sandbox)
    settings = _settings(sandbox, subscription_poll_interval=0.2)
    async with live_gateway(settings) as (app, url), socket(url) as one, socket(url) as two:
        await one.subscribe("1", WATCH_JOB, ids=[job_id])
        await two.subscribe("2", WATCH_JOB, ids=[job_id])
        await _until(lambda: app.state.live.ready("jobs"))
        control.reset_stats()
        async with httpx.AsyncClient(timeout=10) as http:
            moved = await http.put(
                f"{sandbox.urls['sequencing']}/jobs/{job_id}/status", json={"status": "Submitted"}
            )
        assert moved.status_code == 200, moved.text
        first, second = await one.receive(timeout=1.2), await two.receive(timeout=1.2)
        routes = control.by_route("sequencing")
    for message in (first, second):
        event = message["payload"]["data"]["sequencingJobUpdated"]
        assert (event["previousStatus"], event["status"]) == ("DRAFT", "SUBMITTED")
        assert event["job"]["name"].startswith("live job")
    # The list holds summaries: the changed job was read once in full, for both.
    assert sum(n for route, n in routes.items() if route.startswith("GET /jobs/")) == 1


async def test_a_deleted_sample_is_announced_with_its_deleted_status(
    sandbox: SandboxProcess,
) -> None:
    delete = "mutation($id: ID!) { deleteSample(input: {id: $id}) { deletedSampleId } }"
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as client:
            await client.subscribe("1", WATCH_SAMPLE, ids=[sample_id])
            await _until(lambda: app.state.live.ready("samples"))
            await _post(url, delete, id=sample_id)
            message = await client.receive(timeout=1.0)
    event = message["payload"]["data"]["sampleStatusChanged"]
    assert (event["previousStatus"], event["status"]) == ("PENDING", "DELETED")


async def test_the_poller_reads_watched_samples_by_id_with_the_batch_extension(
    sandbox_ext: SandboxProcess,
) -> None:
    """An old sample, on the list's last page: read by id, its status is known from the
    first round (on the release's pages it would be found later, its status unknown)."""
    samples = sandbox_ext.urls["samples"]
    settings = _settings(
        sandbox_ext,
        subscription_poll_interval=0.2,
        batch_services=frozenset({"samples", "sequencing", "templates", "storage"}),
    )
    async with httpx.AsyncClient(timeout=10) as http:
        first = (await http.get(f"{samples}/samples", params={"page_size": 1000})).json()["data"]
        page = await http.get(
            f"{samples}/samples", params={"page": first["total_pages"], "page_size": 1000}
        )
        old = next(r for r in reversed(page.json()["data"]["samples"]) if r["status"] == "Pending")

        async def move(status: str) -> None:
            moved = await http.put(
                f"{samples}/samples/{old['id']}/status", json={"new_status": status}
            )
            assert moved.status_code == 200, moved.text

        try:
            async with live_gateway(settings) as (app, url), socket(url) as client:
                await client.subscribe("1", WATCH_SAMPLE, ids=[old["id"]])
                await _until(lambda: app.state.live.ready("samples"))
                await move("Validated")
                message = await client.receive(timeout=1.2)
        finally:
            await move("Rejected")  # back to PENDING for the other tests
            await move("Pending")
    event = message["payload"]["data"]["sampleStatusChanged"]
    assert (event["previousStatus"], event["status"]) == ("PENDING", "VALIDATED")


@pytest.fixture(scope="module")
def storing() -> Iterator[SandboxProcess]:
    """A notifications service that stores what it is sent (the release does not)."""
    options = Options(fixes=frozenset({"notifications-persist"}))
    with SandboxProcess(["notifications"], options=options) as sb:
        yield sb


NEW_NOTIFICATIONS = "subscription { notificationReceived { id title recipients } }"
SEND = """
mutation($input: SendNotificationInput!) {
  sendNotification(input: $input) { notification { id } userErrors { code } }
}"""


async def test_a_notification_sent_to_the_caller_reaches_it_and_no_one_else(
    sandbox: SandboxProcess, storing: SandboxProcess
) -> None:
    urls = {**sandbox.urls, "notifications": storing.urls["notifications"]}
    technician = "lab_technician@tests.tracseq.lab"
    async with (
        live_gateway(_settings(sandbox, upstream_urls=urls)) as (app, url),
        socket(url, role="lab_technician") as addressed,
        socket(url, role="research_scientist") as other,
    ):
        await addressed.subscribe("n", NEW_NOTIFICATIONS)
        await other.subscribe("n", NEW_NOTIFICATIONS)
        await _until(lambda: app.state.live.ready("notifications"))
        title = f"live {uuid.uuid4().hex[:6]}"
        body = await _post(
            url,
            SEND,
            input={
                "title": title,
                "message": "Run 42 finished.",
                "notificationType": "INFO",
                "priority": "LOW",
                "recipients": [technician],
            },
        )
        assert body["data"]["sendNotification"]["userErrors"] == []
        message = await addressed.receive(timeout=1.0)
        assert message["payload"]["data"]["notificationReceived"]["title"] == title
        assert message["payload"]["data"]["notificationReceived"]["recipients"] == [technician]
        with pytest.raises(TimeoutError):
            await other.receive(timeout=0.3)


async def test_a_change_before_the_poller_finds_an_old_sample_on_the_release_is_not_lost(
    sandbox: SandboxProcess,
) -> None:
    samples = sandbox.urls["samples"]
    async with httpx.AsyncClient(timeout=10) as http:
        first = (await http.get(f"{samples}/samples", params={"page_size": 1000})).json()["data"]
        last = first["total_pages"]
        page = await http.get(f"{samples}/samples", params={"page": last, "page_size": 1000})
        old = next(r for r in reversed(page.json()["data"]["samples"]) if r["status"] == "Pending")

        async def move(status: str) -> None:
            moved = await http.put(
                f"{samples}/samples/{old['id']}/status", json={"new_status": status}
            )
            assert moved.status_code == 200, moved.text

        settings = _settings(sandbox, subscription_poll_interval=0.1)
        try:
            async with live_gateway(settings) as (app, url), socket(url) as client:
                await client.subscribe("1", WATCH_SAMPLE, ids=[old["id"]])
                await _until(lambda: app.state.live.subscribers("samples") == 1)
                await asyncio.sleep(0.01)  # the change comes after the watching began
                await move("Validated")
                # Found on its page (the last of `last`) within a few rounds of discovery.
                message = await client.receive(timeout=2 * last * 0.1 + 1.0)
        finally:
            await move("Rejected")  # back to PENDING for the other tests
            await move("Pending")
    event = message["payload"]["data"]["sampleStatusChanged"]
    assert (event["previousStatus"], event["status"]) == (None, "VALIDATED")
    assert event["sample"]["id"] == old["id"]


async def test_operations_over_the_socket_call_upstream_with_the_connection_init_token(
    sandbox: SandboxProcess, control: SandboxControl
) -> None:
    token = mint_token("lab_technician")
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url, token=token) as client:
        control.reset_stats()
        await client.subscribe("q", "{ samples(first: 1) { edges { node { id } } } }")
        message = await client.receive()
        recent = control.recent("samples")
    assert "errors" not in message["payload"]
    assert [r["authorization"] for r in recent if r["route"] == "GET /samples"] == [
        f"Bearer {token}"
    ]


async def test_a_status_change_through_the_rest_passthrough_reaches_a_subscriber_at_once(
    sandbox: SandboxProcess,
) -> None:
    job_id = await _new_job(sandbox)
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        async with socket(url) as samples, socket(url) as jobs:
            await samples.subscribe("s", WATCH_SAMPLE, ids=[sample_id])
            await jobs.subscribe("j", WATCH_JOB, ids=[job_id])
            await _until(lambda: app.state.live.ready("samples") and app.state.live.ready("jobs"))
            headers = {"authorization": f"Bearer {mint_token()}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
                moved = await http.put(
                    f"/api/samples/{sample_id}/status", json={"new_status": "Validated"}
                )
                refused = await http.put(
                    f"/api/samples/{sample_id}/status", json={"new_status": "Completed"}
                )
                # The job status route has two taps (the cancel rule's, and this one).
                submitted = await http.put(
                    f"/api/sequencing/jobs/{job_id}/status", json={"status": "Submitted"}
                )
                cancelled = await http.post(f"/api/sequencing/jobs/{job_id}/cancel")
            assert moved.status_code == 200, moved.text
            assert refused.status_code == 400  # an illegal move: nothing to announce
            assert submitted.status_code == 200, submitted.text
            assert cancelled.status_code == 200, cancelled.text
            sample_event = await samples.receive(timeout=1.0)
            job_events = [await jobs.receive(timeout=1.0), await jobs.receive(timeout=1.0)]
            with pytest.raises(TimeoutError):
                await samples.receive(timeout=0.2)
    event = sample_event["payload"]["data"]["sampleStatusChanged"]
    assert (event["previousStatus"], event["status"]) == ("PENDING", "VALIDATED")
    moves = [
        (e["previousStatus"], e["status"])
        for e in (m["payload"]["data"]["sequencingJobUpdated"] for m in job_events)
    ]
    assert moves == [("DRAFT", "SUBMITTED"), ("SUBMITTED", "CANCELLED")]


async def test_a_socket_whose_client_stops_reading_is_let_go_without_holding_up_others(
    sandbox: SandboxProcess,
) -> None:
    from gateway.websocket import OUTBOX_LIMIT, TOO_SLOW, _Socket

    app = create_app(_settings(sandbox))
    stuck = asyncio.Event()  # never set: the client's transport stays full
    sent: list[dict[str, Any]] = []

    async def send(message: Message) -> None:
        sent.append(dict(message))
        if message["type"] == "websocket.send":
            await stuck.wait()

    async def receive() -> Message:
        await stuck.wait()
        return {"type": "websocket.disconnect"}

    slow = _Socket(app.state.websocket, {"type": "websocket", "headers": []}, receive, send)
    writer = asyncio.create_task(slow._write())
    try:
        for n in range(OUTBOX_LIMIT + 2):  # the first is taken by the stuck send
            slow.send_next("1", f'{{"n":{n}}}')  # returns at once, whatever the client does
            await asyncio.sleep(0)
        assert slow.closed
        assert len(slow._outbox) == 0
        slow.send_next("1", '{"n":-1}')  # a closed socket queues nothing more
        assert len(slow._outbox) == 0
        assert slow._closing is not None
        await asyncio.wait_for(slow._closing, 1.0)  # not behind the stuck send
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    assert [m["type"] for m in sent] == ["websocket.send", "websocket.close"]
    assert sent[-1]["code"] == TOO_SLOW == 1008


async def test_the_server_pings_every_keepalive_and_answers_pings(sandbox: SandboxProcess) -> None:
    sockets = SocketLimits(keepalive=0.1)
    async with live_gateway(_settings(sandbox, sockets=sockets)) as (_, url), socket(url) as client:
        pinged = orjson.loads(await asyncio.wait_for(client.ws.recv(), 2.0))
        await client.send({"type": "ping"})
        answered = await client.receive()
    assert pinged == {"type": "ping"}
    assert answered == {"type": "pong"}


GRAPHIQL_CLIENT = Path(__file__).parent / "graphiql" / "ws_client.mjs"


def _node() -> list[str]:
    """Node with a global WebSocket (Node 22; Node 20 behind a flag); without it the
    GraphiQL client's tests skip, or fail under REQUIRE_NODE=1."""
    node = shutil.which("node")
    problem = "node is not installed"
    if node is not None:
        for command in ([node], [node, "--experimental-websocket"]):
            probe = subprocess.run(
                [*command, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return command
        problem = "this Node has no WebSocket"
    if os.environ.get("REQUIRE_NODE") == "1":
        pytest.fail(f"REQUIRE_NODE=1 but {problem}")
    pytest.skip(f"the GraphiQL page's WebSocket client needs Node.js: {problem}")


def test_the_graphiql_page_sends_subscriptions_and_only_them_over_the_socket() -> None:
    documents = [
        ["subscription { sampleStatusChanged { status } }", None],
        ["{ samples { totalCount } }", None],
        ["query Q { a } subscription S { b }", "S"],
        ["query Q { a } subscription S { b }", "Q"],
        ['# subscription\n{ a(x: "subscription { }") }', None],
        ["subscription W($f: F = {a: {b: 1}}) { x }", None],
        ["fragment F on Sample { id } subscription { s { ...F } }", None],
    ]
    run = subprocess.run(
        [*_node(), str(GRAPHIQL_CLIENT), "classify"],
        input=orjson.dumps(documents),
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert orjson.loads(run.stdout) == [True, False, True, False, False, True, True]


async def test_the_graphiql_pages_client_gets_a_subscriptions_events(
    sandbox: SandboxProcess,
) -> None:
    node = _node()
    async with live_gateway(_settings(sandbox)) as (app, url):
        sample_id = await _new_sample(url)
        ws_url = url.replace("http://", "ws://") + "/graphql"
        proc = await asyncio.create_subprocess_exec(
            *node, str(GRAPHIQL_CLIENT), ws_url, mint_token("lab_technician"), sample_id,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            started = orjson.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
            assert started == {"started": True}
            await _until(lambda: app.state.live.subscribers("samples") == 1, timeout=10)
            await _until(lambda: app.state.live.ready("samples"))
            await _post(url, MOVE, id=sample_id, status="VALIDATED")
            event = orjson.loads(await asyncio.wait_for(proc.stdout.readline(), 5))
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        # The page's client completed its operation when it unsubscribed.
        await _until(lambda: app.state.live.subscribers("samples") == 0)
    assert event == {"next": {"data": {"sampleStatusChanged": {"status": "VALIDATED"}}}}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"query": 5}, "BAD_REQUEST"),
        ({"query": WATCH_SAMPLE, "variables": [1]}, "BAD_REQUEST"),
        ({"query": WATCH_SAMPLE, "operationName": "Nope"}, "BAD_REQUEST"),
        ({"query": "subscription {"}, "BAD_USER_INPUT"),
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}, None),
    ],
)
async def test_a_malformed_subscribe_is_an_error_message_and_the_socket_stays_open(
    sandbox: SandboxProcess, payload: dict[str, Any], code: str | None
) -> None:
    async with live_gateway(_settings(sandbox)) as (_, url), socket(url) as client:
        await client.send({"type": "subscribe", "id": "1", "payload": payload})
        message = await client.receive()
        await client.send({"type": "ping"})
        pong = await client.receive()
    assert message["type"] == "error"
    assert message["id"] == "1"
    if code is not None:
        assert message["payload"][0]["extensions"]["code"] == code
    assert message["payload"][0]["message"]
    assert pong == {"type": "pong"}


async def test_variables_that_do_not_coerce_answer_next_with_errors_then_complete(
    sandbox: SandboxProcess,
) -> None:
    async with live_gateway(_settings(sandbox)) as (app, url), socket(url) as client:
        await client.subscribe("1", WATCH_SAMPLE, ids=[{"not": "an id"}])
        message = await client.receive()
        complete = await client.receive()
    assert message["type"] == "next"
    assert message["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert complete == {"type": "complete", "id": "1"}
    assert app.state.live.subscribers("samples") == 0
