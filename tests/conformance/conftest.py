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
from server_support import STORAGES, server_on

from glacierlib.localserver import LocalServer, ServerConfig

from .support import make_client


@pytest.fixture(params=STORAGES)
def storage_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_config() -> ServerConfig:
    """Override in a test module to run the suite with other settings."""
    return ServerConfig()


@pytest.fixture
def server(storage_kind: str, tmp_path: Path, server_config: ServerConfig
           ) -> Iterator[LocalServer]:
    with server_on(storage_kind, tmp_path, server_config) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Any:
    return make_client(server)


@pytest.fixture
def vault(client: Any) -> str:
    client.create_vault(vaultName="conformance")
    return "conformance"
