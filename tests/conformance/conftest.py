"""The conformance suite runs every test against both storages of the local server.

Tests speak real botocore over loopback HTTP with real SigV4 signatures; ``server`` is the
running server (for its control plane), ``client`` a botocore glacier client without retries,
so every injected or real error reaches the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacierlib.localserver import LocalServer, ServerConfig, running_server

from .support import make_client


@pytest.fixture(params=["memory", "disk"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_config() -> ServerConfig:
    """Override in a test module to run the suite with other settings."""
    return ServerConfig()


@pytest.fixture
def server(storage_kind: str, tmp_path: Path, server_config: ServerConfig
           ) -> Iterator[LocalServer]:
    data_dir = tmp_path / "data" if storage_kind == "disk" else None
    with running_server(data_dir, config=server_config) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Any:
    return make_client(server)


@pytest.fixture
def vault(client: Any) -> str:
    client.create_vault(vaultName="conformance")
    return "conformance"
