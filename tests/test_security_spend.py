"""The minimum spend: every GraphQL or REST request pays before anything parses it, so
that invalid documents and refused calls are not free."""

from __future__ import annotations

from typing import Any

from security.config import RateLimitConfig
from tests.conftest import gateway_client, sandbox_settings


def _anonymous_budget(sandbox: Any, burst: float) -> Any:
    return sandbox_settings(
        sandbox, rate_limit=RateLimitConfig(anonymous_rate=0.001, anonymous_burst=burst)
    )


async def test_invalid_documents_spend_the_minimum_until_the_budget_is_gone(
    sandbox: Any,
) -> None:
    async with gateway_client(_anonymous_budget(sandbox, 5), role=None) as client:
        answers = [
            await client.post("/graphql", json={"query": "{ this is not graphql"}) for _ in range(8)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5
    assert all("Syntax Error" in a.json()["errors"][0]["message"] for a in answers[:5])
    assert statuses[5:] == [429] * 3
    refused = answers[5].json()
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(answers[5].headers["retry-after"]) >= 1


async def test_malformed_bodies_and_refused_rest_calls_spend_from_the_same_bucket(
    sandbox: Any,
) -> None:
    async with gateway_client(_anonymous_budget(sandbox, 3), role=None) as client:
        malformed = await client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        forbidden = await client.get("/api/users/me")  # needs a token: 401, still spent
        unrouted = await client.get("/api/no-such-service")
        after = await client.get("/api/templates")
    assert malformed.status_code == 400
    assert forbidden.status_code == 401
    assert unrouted.status_code == 404
    assert after.status_code == 429
    assert after.json()["error"]["code"] == "RATE_LIMITED"
    assert "retry-after" in after.headers


async def test_health_readiness_and_metrics_spend_nothing(sandbox: Any) -> None:
    async with gateway_client(_anonymous_budget(sandbox, 1), role=None) as client:
        for _ in range(3):
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/api/users/me")).status_code == 401  # not 429: unspent


async def test_csrf_refusals_and_bad_tokens_are_paid_for_before_they_are_refused(
    sandbox: Any,
) -> None:
    settings = _anonymous_budget(sandbox, 3)
    async with gateway_client(settings, token="not-a-jwt") as client:
        rest = await client.get("/api/samples")
        graphql = await client.post("/graphql", json={"query": "{ samples { totalCount } }"})
        csrf = await client.get("/graphql", params={"query": "{ __typename }"})
        after = await client.get("/api/samples")
    assert rest.status_code == 401
    assert rest.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "invalid_token" in rest.headers["www-authenticate"]
    assert graphql.status_code == 401
    assert csrf.status_code == 400
    assert csrf.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTION"
    assert after.status_code == 429
