"""Fixtures for the local server's S3 face: servers in memory and on disk, botocore clients.

``s3_server`` runs once per storage (``memory``, ``disk``); ``s3_client`` is a path-style
botocore ``s3`` client for it with retries off, so tests see every error. The client-side
target's tests can use the same fixtures (or :func:`make_s3_client`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glacierlib.localserver import LocalServer, ServerConfig, running_server

from .support import make_s3_client


@pytest.fixture(params=["memory", "disk"])
def s3_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalServer]:
    """A local server (both faces) in memory or under ``tmp_path / "data"``."""
    data_dir = tmp_path / "data" if request.param == "disk" else None
    with running_server(data_dir, config=ServerConfig()) as server:
        yield server


@pytest.fixture
def memory_s3_server() -> Iterator[LocalServer]:
    """For behaviour that does not depend on the storage (one run is enough)."""
    with running_server(config=ServerConfig()) as server:
        yield server


@pytest.fixture
def s3_client(s3_server: LocalServer) -> Any:
    return make_s3_client(s3_server)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    s3_client.create_bucket(Bucket="test-bucket")
    return "test-bucket"


@pytest.fixture
def mem_client(memory_s3_server: LocalServer) -> Any:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    return client
