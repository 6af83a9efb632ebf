"""TLS to the upstream services: what a service's ``https://`` connections trust and present.

A ``TlsConfig`` is a value: the CA bundle that verifies the services' certificates (None:
the system trust store), the client certificate and key presented for mutual TLS (None:
none), and whether verification is on at all (a development switch; production refuses it
off). ``context`` turns one into what aiohttp takes per request as ``ssl=``: ``True``
(aiohttp's own verified default context, over the system trust store) when nothing differs
from the default, ``False`` when verification is off and nothing else is given, else an
``ssl.SSLContext`` built from the files. Verification checks the chain and the host name
the URL names (``upstreams.discovery`` keeps ``https://`` names unresolved for this).

Building a context reads the files once: each must be readable PEM of the right kind
(certificates in the CA bundle and the certificate file, an unencrypted private key in the
key file), and the key must belong to the certificate. A file that fails raises
``TlsFileError`` saying which part failed (``ca``, ``cert``, ``key``, or ``pair``) and
why, never what the file holds; ``gateway.settings`` names the variable from the part.
Plain ``http://`` URLs ignore all of this.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path

# Which file of a config a ``TlsFileError`` is about.
CA, CERT, KEY, PAIR = "ca", "cert", "key", "pair"

_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:(RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----")
# The legacy PEM header of a key encrypted by OpenSSL ("traditional" format).
_LEGACY_ENCRYPTED = b"Proc-Type: 4,ENCRYPTED"
# OpenSSL appends where in its C sources an error was raised: noise in a log line.
_SOURCE_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)$")
# ... and prefixes its library and reason codes: "[SSL: CERTIFICATE_VERIFY_FAILED] ...".
_LIBRARY = re.compile(r"^\[[A-Z0-9_]+(?:: [A-Z0-9_]+)?\]\s*")


class TlsFileError(ValueError):
    """A TLS file cannot be used. ``part`` is ``ca``, ``cert``, ``key`` or ``pair`` (the
    certificate and key together); the message says why, never the file's content."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A PEM certificate (its chain may follow it) and its unencrypted PEM private key."""

    cert_file: str
    key_file: str


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """What one service's TLS connections trust (``ca_file``; None: the system trust store),
    present (``client``), and whether the service's certificate is verified at all."""

    ca_file: str | None = None
    client: ClientCertificate | None = None
    verify: bool = True

    def production_problems(self) -> list[str]:
        """Why this configuration must not run in production (empty when it may)."""
        if self.verify:
            return []
        return [
            "TRACSEQ_UPSTREAM_TLS_VERIFY=false turns off the verification of the upstream "
            "services' certificates (give their CA bundle in TRACSEQ_UPSTREAM_CA_FILE instead)"
        ]


def context(config: TlsConfig) -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl=`` takes for ``config`` (module docstring); builds a context,
    reading its files, only when the config differs from the default."""
    if config.ca_file is None and config.client is None:
        return config.verify
    return build_context(config)


def build_context(config: TlsConfig) -> ssl.SSLContext:
    """A client context for ``config``, its files read and checked now (``TlsFileError``)."""
    if config.ca_file is not None:
        _certificates(CA, config.ca_file, "a CA bundle")
    try:
        # Given a bundle, create_default_context trusts it alone (no system store).
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.ca_file)
    except ssl.SSLError as exc:
        raise TlsFileError(CA, f"is not a usable CA bundle: {ssl_reason(exc)}") from None
    if not config.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.client is not None:
        _load_client(ctx, config.client)
    return ctx


def _load_client(ctx: ssl.SSLContext, client: ClientCertificate) -> None:
    _certificates(CERT, client.cert_file, "a certificate")
    key = _read(KEY, client.key_file)
    header = _PRIVATE_KEY.search(key)
    if header is None:
        raise TlsFileError(KEY, "is not a private key in PEM: no PEM private key in it")
    if header.group(1) == b"ENCRYPTED" or _LEGACY_ENCRYPTED in key:
        raise TlsFileError(KEY, "holds an encrypted private key: give it unencrypted")
    try:
        # The password callback only ever runs for an encrypted key, which was refused
        # above; it keeps OpenSSL from prompting on a terminal should one slip through.
        ctx.load_cert_chain(client.cert_file, client.key_file, password=_no_password)
    except ssl.SSLError as exc:
        reason = ssl_reason(exc)
        if exc.reason == "KEY_VALUES_MISMATCH":
            reason = "the private key does not belong to the certificate"
        raise TlsFileError(PAIR, f"cannot be loaded together: {reason}") from None


def _no_password() -> bytes:
    raise TlsFileError(KEY, "holds an encrypted private key: give it unencrypted")


def _read(part: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsFileError(part, f"cannot be read: {exc.strerror or type(exc).__name__}") from None


def _certificates(part: str, path: str, kind: str) -> None:
    if _CERTIFICATE not in _read(part, path):
        raise TlsFileError(part, f"is not {kind} in PEM: no PEM certificate in it")


def ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's words for ``exc`` (a verification failure's verify message), without the
    source location: ``certificate verify failed: unable to get local issuer certificate``."""
    verify_message = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLCertVerificationError) and verify_message:
        return f"certificate verify failed: {verify_message}"
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    text = _SOURCE_LOCATION.sub("", _LIBRARY.sub("", text))
    return "its PEM does not parse" if text == "PEM lib" else text or type(exc).__name__
