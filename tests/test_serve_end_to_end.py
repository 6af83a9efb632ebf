"""The gateway as a user starts it: a real process on a free port, in front of the sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import auth_header, free_port


@pytest.fixture
def gateway_process(sandbox: Any) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "TRACSEQ_PORT": str(port), "TRACSEQ_LOG_LEVEL": "warning"}
    env.update({f"TRACSEQ_{name.upper()}_URL": url for name, url in sandbox.urls.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("gateway did not start within 30 s")
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_served_gateway_answers_samples_with_templates(gateway_process: str) -> None:
    query = "{ samples(first: 20) { totalCount edges { node { id name template { name } } } } }"
    response = httpx.post(
        f"{gateway_process}/graphql", json={"query": query}, headers=auth_header(), timeout=10
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["samples"]["edges"]]
    assert len(nodes) == 20
    assert any(n["template"] and n["template"]["name"] for n in nodes)
    assert response.headers["x-request-id"]
