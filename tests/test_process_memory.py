"""A served gateway's allocator: glibc malloc with two arenas (see gateway.cli's
``use_system_allocator``), set by the process itself unless the operator chose otherwise."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import gateway_process

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_serve_runs_on_glibc_malloc_in_the_process_it_was_started_as(sandbox: Any) -> None:
    with gateway_process(sandbox) as gateway:
        assert httpx.get(f"{gateway.url}/health", timeout=5).status_code == 200
        environ = _environ(gateway.proc.pid)  # the same pid: re-executed, not a child
        assert environ.get("PYTHONMALLOC") == "malloc"
        assert environ.get("MALLOC_ARENA_MAX") == "2"


def test_an_allocator_set_by_the_operator_is_kept(sandbox: Any) -> None:
    with gateway_process(sandbox, PYTHONMALLOC="pymalloc", MALLOC_ARENA_MAX="4") as gateway:
        assert httpx.get(f"{gateway.url}/health", timeout=5).status_code == 200
        environ = _environ(gateway.proc.pid)
        assert (environ.get("PYTHONMALLOC"), environ.get("MALLOC_ARENA_MAX")) == ("pymalloc", "4")
