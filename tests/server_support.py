"""Servers shared by several test suites (no tests of its own).

The conformance suite (Glacier face), the S3 face's suite and the client tests all run the
local server on both storages, and cross-check against moto in server mode; starting them is
written here once, so each suite's fixtures stay one line.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from glacierlib.localserver import LocalServer, ServerConfig, running_server

#: The storages every server-level suite runs on (``params`` of its server fixture).
STORAGES = ("memory", "disk")


def server_on(storage: str, tmp_path: Path, config: ServerConfig | None = None
              ) -> AbstractContextManager[LocalServer]:
    """The local server in memory, or on disk under ``tmp_path / "data"``."""
    data_dir = tmp_path / "data" if storage == "disk" else None
    return running_server(data_dir, config=config or ServerConfig())


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on loopback, from an empty account; yields its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto keeps its backends per process: start from an empty account every time.
        urllib.request.urlopen(urllib.request.Request(
            f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        yield url
    finally:
        server.stop()


def moto_client_kwargs(url: str) -> dict[str, str]:
    """botocore ``create_client`` keyword arguments for moto at ``url`` (it checks no secret)."""
    return {"endpoint_url": url, "region_name": "us-east-1",
            "aws_access_key_id": "AKIDMOTO", "aws_secret_access_key": "moto"}
