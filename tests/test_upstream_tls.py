"""TLS to the upstreams: the samples service of a sandbox served over https:// with
certificates made by trustme for the run, the gateway trusting its CA (or not), presenting
a client certificate (or not) where the sandbox requires one. A certificate that is refused
is UPSTREAM_UNAVAILABLE on GraphQL and 502 BAD_GATEWAY on the passthrough, promptly, with
a log line that says why; nothing of it reaches the client."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import trustme

from gateway.app import create_app
from gateway.settings import Settings
from sandbox.runner import SandboxProcess
from sandbox.tls import ServerTls, tls_from
from tests.conftest import app_client, codes, gateway_client, gql, log_lines, sandbox_settings
from upstreams.config import BreakerPolicy
from upstreams.errors import UpstreamUnavailable, tls_reason, translate
from upstreams.tls import ClientCertificate, TlsConfig, build_context

SAMPLES = "{ samples(first: 2) { totalCount edges { node { id name } } } }"
# The breaker stays closed through a test's failures: each call must meet the certificate.
PATIENT = BreakerPolicy(failure_threshold=1000, min_calls=1000)


@dataclass(frozen=True)
class Pki:
    """PEM files of the run: the CA the sandbox's certificate comes from, another CA, the
    sandbox's certificate and key (for 127.0.0.1), one for another name, and client pairs:
    one from the CA the sandbox requires of clients, one from elsewhere."""

    ca: str
    other_ca: str
    server: ServerTls
    misnamed: ServerTls
    client_ca: str
    client: ClientCertificate
    stranger: ClientCertificate


def _pair(directory: Path, name: str, cert: trustme.LeafCert) -> tuple[str, str]:
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_file))
    return str(cert_file), str(key_file)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other, clients = trustme.CA(), trustme.CA(), trustme.CA()
    for name, authority in (("ca", ca), ("other-ca", other), ("client-ca", clients)):
        authority.cert_pem.write_to_path(str(directory / f"{name}.pem"))
    server = _pair(directory, "server", ca.issue_cert("127.0.0.1"))
    misnamed = _pair(directory, "misnamed", ca.issue_cert("samples.tracseq.test"))
    client = _pair(directory, "client", clients.issue_cert("gateway.tracseq.test"))
    stranger = _pair(directory, "stranger", other.issue_cert("gateway.tracseq.test"))
    return Pki(
        ca=str(directory / "ca.pem"),
        other_ca=str(directory / "other-ca.pem"),
        server=ServerTls(*server),
        misnamed=ServerTls(*misnamed),
        client_ca=str(directory / "client-ca.pem"),
        client=ClientCertificate(*client),
        stranger=ClientCertificate(*stranger),
    )


def _samples_over(tls: ServerTls) -> Iterator[SandboxProcess]:
    with SandboxProcess(services=["samples"], tls=tls) as sb:
        yield sb


@pytest.fixture(scope="module")
def tls_samples(pki: Pki) -> Iterator[SandboxProcess]:
    """The samples service over https://, its certificate from ``pki.ca`` for 127.0.0.1."""
    yield from _samples_over(pki.server)


@pytest.fixture(scope="module")
def misnamed_samples(pki: Pki) -> Iterator[SandboxProcess]:
    """The same, its certificate (from ``pki.ca``) for another host name than 127.0.0.1."""
    yield from _samples_over(pki.misnamed)


@pytest.fixture(scope="module")
def mtls_samples(pki: Pki) -> Iterator[SandboxProcess]:
    """The samples service over https://, requiring a client certificate from ``pki.client_ca``."""
    yield from _samples_over(dataclasses.replace(pki.server, client_ca=pki.client_ca))


def _settings(
    sandbox: SandboxProcess,
    samples: SandboxProcess,
    tls: TlsConfig,
    own: dict[str, ClientCertificate] | None = None,
) -> Settings:
    """The plain sandbox for every service but samples, which is ``samples`` over TLS."""
    urls = {**sandbox.urls, "samples": samples.urls["samples"]}
    return sandbox_settings(
        sandbox,
        upstream_urls=urls,
        upstream_tls=tls,
        client_certificates=own or {},
        breaker=PATIENT,
    )


async def _read_samples(client: httpx.AsyncClient) -> None:
    """A GraphQL list and a passthrough read of one of its samples both answer real data."""
    body = await gql(client, SAMPLES)
    assert "errors" not in body, body
    page = body["data"]["samples"]
    assert page["totalCount"] > 0
    first = page["edges"][0]["node"]
    response = await client.get(f"/api/samples/{first['id']}")
    assert response.status_code == 200, response.text
    assert first["id"] in response.text
    assert first["name"] in response.text


async def _refused(client: httpx.AsyncClient, timeout: float) -> None:
    """GraphQL: UPSTREAM_UNAVAILABLE naming samples; the passthrough: 502 BAD_GATEWAY; both
    within the request's own timeout, and neither showing the address or TLS's details."""
    async with asyncio.timeout(timeout):
        body = await gql(client, SAMPLES)
        response = await client.get("/api/samples?page_size=1")
    assert body["data"]["samples"] is None
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["service"] == "samples"
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "BAD_GATEWAY"
    for shown in (str(body), response.text):
        for secret in ("127.0.0.1", "https://", "Traceback", "verify failed", "ssl"):
            assert secret not in shown


def _tls_failures(json_log: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in log_lines(json_log) if line["event"] == "upstream.tls_failed"]
    assert lines, "no upstream.tls_failed line"
    assert {line["service"] for line in lines} == {"samples"}
    return lines


async def test_gateway_trusting_the_ca_file_reads_samples_over_https(
    sandbox: SandboxProcess, tls_samples: SandboxProcess, pki: Pki
) -> None:
    urls = {f"TRACSEQ_{name.upper()}_URL": url for name, url in sandbox.urls.items()}
    settings = Settings.from_env(
        {
            **urls,
            "TRACSEQ_ENV": "test",
            "TRACSEQ_SAMPLES_URL": tls_samples.urls["samples"],
            "TRACSEQ_UPSTREAM_CA_FILE": pki.ca,
            "TRACSEQ_RATE_LIMIT_ENABLED": "false",
        }
    )
    assert settings.upstream_urls["samples"].startswith("https://")
    app = create_app(settings)
    async with app_client(app) as client:
        # The readiness probes go over the same TLS as the calls.
        report = app.state.health.report("samples")
        assert report is not None
        assert report["healthy"] is True, report
        await _read_samples(client)


@pytest.mark.parametrize(
    ("server", "trusted", "reason"),
    [
        ("tls_samples", "other_ca", "certificate verify failed: "),
        ("misnamed_samples", "ca", "mismatch, certificate is not valid for '127.0.0.1'"),
    ],
    ids=["another-ca", "host-name-mismatch"],
)
async def test_refused_server_certificate_is_upstream_unavailable_and_logs_why(
    sandbox: SandboxProcess,
    pki: Pki,
    json_log: io.StringIO,
    request: pytest.FixtureRequest,
    server: str,
    trusted: str,
    reason: str,
) -> None:
    samples = request.getfixturevalue(server)
    settings = _settings(sandbox, samples, TlsConfig(ca_file=getattr(pki, trusted)))
    async with gateway_client(settings) as client:
        await _refused(client, settings.request_timeout)
    lines = _tls_failures(json_log)
    assert all(reason in line["reason"] for line in lines), lines


async def test_system_trust_store_refuses_a_private_ca(
    sandbox: SandboxProcess, tls_samples: SandboxProcess, json_log: io.StringIO
) -> None:
    settings = _settings(sandbox, tls_samples, TlsConfig())
    async with gateway_client(settings) as client:
        await _refused(client, settings.request_timeout)
    assert all("certificate verify failed" in line["reason"] for line in _tls_failures(json_log))


@pytest.mark.parametrize("given", ["every-service-pair", "service-own-pair"])
async def test_required_client_certificate_presented_reads_samples(
    sandbox: SandboxProcess, mtls_samples: SandboxProcess, pki: Pki, given: str
) -> None:
    if given == "every-service-pair":
        settings = _settings(sandbox, mtls_samples, TlsConfig(ca_file=pki.ca, client=pki.client))
    else:  # the service's own pair replaces every service's, which the sandbox refuses
        shared = TlsConfig(ca_file=pki.ca, client=pki.stranger)
        settings = _settings(sandbox, mtls_samples, shared, {"samples": pki.client})
    async with gateway_client(settings) as client:
        await _read_samples(client)


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        (None, "none is configured for samples"),
        ("stranger", "does not accept the client certificate presented"),
    ],
    ids=["none", "from-another-ca"],
)
async def test_required_client_certificate_missing_is_upstream_unavailable_and_logs_why(
    sandbox: SandboxProcess,
    mtls_samples: SandboxProcess,
    pki: Pki,
    json_log: io.StringIO,
    client: str | None,
    reason: str,
) -> None:
    presented = None if client is None else getattr(pki, client)
    settings = _settings(sandbox, mtls_samples, TlsConfig(ca_file=pki.ca, client=presented))
    async with gateway_client(settings) as gateway:
        await _refused(gateway, settings.request_timeout)
    lines = _tls_failures(json_log)
    assert all("closed before any answer" in line["reason"] for line in lines), lines
    assert all(reason in line["reason"] for line in lines), lines


async def test_verification_off_reads_a_certificate_no_ca_vouches_for(
    sandbox: SandboxProcess, tls_samples: SandboxProcess
) -> None:
    settings = _settings(sandbox, tls_samples, TlsConfig(verify=False))
    async with gateway_client(settings) as client:
        await _read_samples(client)


def test_tls_alert_on_the_first_read_is_unavailable_and_gives_openssl_reason() -> None:
    # What a server that sends its alert (nginx, envoy) makes aiohttp raise when it refuses
    # the missing client certificate after a TLS 1.3 handshake: the sandbox sends none.
    said = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
    alert = ssl.SSLError(1, f"{said} (_ssl.c:2580)")
    raised = aiohttp.ClientOSError(*alert.args)
    raised.__cause__ = alert
    assert tls_reason(raised) == "tlsv13 alert certificate required"
    error = translate("samples", raised)
    assert isinstance(error, UpstreamUnavailable)
    assert error.message == "the TLS connection failed"
    assert tls_reason(aiohttp.ServerDisconnectedError()) is None


def test_sandbox_tls_flags_go_together() -> None:
    assert tls_from(None, None, None) is None
    assert tls_from("c.pem", "k.pem", "ca.pem") == ServerTls("c.pem", "k.pem", "ca.pem")
    for flags in (("c.pem", None, None), (None, "k.pem", None), (None, None, "ca.pem")):
        with pytest.raises(ValueError, match="--tls-"):
            tls_from(*flags)


def test_ca_file_is_trusted_alone_not_beside_the_system_store(pki: Pki) -> None:
    trusted = build_context(TlsConfig(ca_file=pki.ca)).get_ca_certs()
    assert len(trusted) == 1
    assert "trustme" in str(trusted[0]["subject"])
