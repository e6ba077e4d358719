"""Fixtures over the stack tests/python.rs starts (anvil, PostgreSQL, Kubo, indexer, provider).

The stack and its assets are described by the JSON file in ``AGORA_TEST_FIXTURE``. Without it
the tests fail, saying how to run them: they never skip.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agora import Hub


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    path = os.environ.get("AGORA_TEST_FIXTURE")
    if not path:
        raise RuntimeError(
            "AGORA_TEST_FIXTURE is not set: these tests run against the stack that "
            "`cargo test -p agora-e2e --test python` starts (./scripts/test.sh runs it)"
        )
    return json.loads(Path(path).read_text())


@pytest.fixture
def options(stack: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """storage_options / Hub arguments for the buyer, with a cache of this test's own."""
    return {
        "rpc_url": stack["rpcUrl"],
        "indexer_url": stack["indexerUrl"],
        "manifest": stack["manifest"],
        "key": stack["buyerKey"],
        "provider": stack["providerUrl"],
        "ipfs_api": stack["ipfsApi"],
        "cache_dir": str(tmp_path / "cache"),
    }


def hub_from(options: dict[str, Any], **changes: Any) -> Hub:
    """A Hub with ``options`` (as the ``options`` fixture holds them), some changed."""
    opts = {**options, **changes}
    return Hub(opts.pop("rpc_url"), opts.pop("indexer_url"), **opts)


@pytest.fixture
def hub(options: dict[str, Any]) -> Hub:
    return hub_from(options)


class _Hostile(BaseHTTPRequestHandler):
    """A provider that forwards /v1/info to the real one but serves other bytes."""

    real: str = ""
    body: bytes = b""
    size: int = 0
    trickle: bool = False

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with urllib.request.urlopen(f"{self.real}{self.path}") as answer:
            data = answer.read()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(self.size))
        self.end_headers()
        try:
            if self.trickle:
                for _ in range(self.size):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(self.body)
        except OSError:
            pass


@pytest.fixture
def hostile_provider(stack: dict[str, Any]) -> Iterator[type[_Hostile]]:
    """A provider URL whose downloads are configured by the test (``.body``/``.trickle``);
    yields the handler class with ``.url`` set."""
    handler = type("Hostile", (_Hostile,), {"real": stack["providerUrl"]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
