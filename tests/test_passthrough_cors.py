"""The release's permissive CORS stays behind the gateway: only its own policy is relayed."""

from __future__ import annotations

import dataclasses

import httpx

from sandbox.runner import SandboxProcess
from tests.conftest import gateway_client, sandbox_settings


async def test_the_services_allow_every_origin_but_the_passthrough_relays_only_the_gateways_policy(
    sandbox: SandboxProcess,
) -> None:
    foreign = {"origin": "https://evil.example"}
    # The release's CorsLayer::permissive() answers every origin...
    direct = httpx.get(f"{sandbox.urls['samples']}/samples", headers=foreign)
    assert direct.headers["access-control-allow-origin"] == "*"
    base = sandbox_settings(sandbox)
    security = dataclasses.replace(base.security, cors_origins=("https://lims.example",))
    async with gateway_client(dataclasses.replace(base, security=security)) as client:
        refused = await client.get("/api/samples", headers=foreign)
        allowed = await client.get("/api/samples", headers={"origin": "https://lims.example"})
    # ... the gateway's allowlist decides what a browser sees.
    assert refused.status_code == 200
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.headers["access-control-allow-origin"] == "https://lims.example"
    for answer in (refused, allowed):  # the gateway's own list, not the service's "*"
        assert answer.headers["access-control-expose-headers"] == "x-request-id, retry-after"
