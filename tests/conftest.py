"""Shared fixtures: the built-in local Glacier server and botocore clients for it.

``local_server`` is in memory and function-scoped (each test starts from an empty account);
``disk_server`` keeps its data under ``tmp_path``. Both run with zero job delay, so jobs are
finished by the time InitiateJob returns unless a test configures a delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from glacierlib.localserver import LocalServer, ServerConfig, running_server

#: One session for all clients: it caches the loaded service model.
_SESSION = botocore.session.get_session()


def make_glacier_client(server: LocalServer, **config: Any) -> Any:
    """A plain botocore glacier client for ``server`` (retries off unless asked for)."""
    options: dict[str, Any] = {"retries": {"max_attempts": 0, "mode": "standard"}}
    options.update(config)
    return _SESSION.create_client(
        "glacier", config=Config(**options), **server.client_kwargs()
    )


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """An in-memory local Glacier server on a free loopback port."""
    with running_server(config=ServerConfig()) as server:
        yield server


@pytest.fixture
def disk_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A local Glacier server storing under ``tmp_path / "glacier-data"``."""
    with running_server(tmp_path / "glacier-data", config=ServerConfig()) as server:
        yield server


@pytest.fixture
def glacier_client(local_server: LocalServer) -> Any:
    """A botocore glacier client for ``local_server`` (no retries: tests see every error)."""
    return make_glacier_client(local_server)
