"""pytest fixtures for testing your own backup scripts against a real local vault.

Installed with glacierlib as a pytest plugin (entry point ``pytest11``), so in your tests::

    import glacierlib

    def test_my_backup_uploads_everything(glacier_settings, tmp_path):
        (glacier_settings.dir / "a.txt").write_text("hello")
        my_backup.run(glacier_settings)              # your code, calling glacierlib.sync
        report = glacierlib.check_local_hash(glacier_settings)
        assert report.ok

Everything goes through botocore over loopback HTTP to glacierlib's local Glacier server,
as in glacierlib's own test suite: signatures, tree hashes and job timing are checked, nothing
is mocked. The fixtures, all function-scoped and all named ``glacier_*`` so they cannot clash
with yours:

``glacier_server_config``
    The :class:`~glacierlib.localserver.ServerConfig`; override it in your ``conftest.py`` to
    rehearse the real pace, e.g. ``return ServerConfig().with_job_delay(4 * 3600)``.
``glacier_local_server``
    A running in-memory server (a :class:`~glacierlib.localserver.LocalServer`). Its
    ``control`` moves the simulated clock (``advance_clock(3600)``) and injects faults.
``glacier_vault_name``
    The vault created for the test (``"test-vault"``); override to choose another.
``glacier_connection``
    Keyword arguments for :func:`glacierlib.settings` that point at the server
    (``endpoint_url``, ``region``, ``access_key``, ``secret_key``): a script building its
    own settings takes them as ``glacierlib.settings(**glacier_connection, ...)``.
``glacier_settings``
    A :class:`~glacierlib.Settings` for the vault, with an empty ``dir`` and a ``journal``
    under ``tmp_path``; ``attrs.evolve`` it for variants.
``glacier_config_file``
    The same as an mt-aws-glacier config file (mode 600), for scripts that run
    ``mtglacier --config FILE`` or ``glacierlib.settings(config=FILE)``.

The target is a Glacier vault. When an S3 bucket target lands, its fixtures will sit beside
these as ``glacier_bucket_*`` (``glacier_bucket_settings``...), leaving these unchanged.

This module imports pytest; ``import glacierlib`` never imports it. Installed, the plugin is
loaded by every pytest run of the environment, so it imports botocore and the server only when
a test asks for one of its fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pytest

from glacierlib.options import settings

if TYPE_CHECKING:
    from glacierlib.config import Settings
    from glacierlib.localserver import LocalServer, ServerConfig

__all__ = [
    "LocalConnection",
    "glacier_config_file",
    "glacier_connection",
    "glacier_local_server",
    "glacier_server_config",
    "glacier_settings",
    "glacier_vault_name",
]


class LocalConnection(TypedDict):
    """The keywords of :func:`glacierlib.settings` that reach a local server."""

    endpoint_url: str
    region: str
    access_key: str
    secret_key: str


@pytest.fixture
def glacier_server_config() -> ServerConfig:
    """Strict and instant (no job delay); override to set delays or variants."""
    from glacierlib.localserver import ServerConfig

    return ServerConfig()


@pytest.fixture
def glacier_local_server(glacier_server_config: ServerConfig) -> Iterator[LocalServer]:
    """A local Glacier server in memory on a free loopback port, stopped after the test."""
    from glacierlib.localserver import running_server

    with running_server(config=glacier_server_config) as server:
        yield server


@pytest.fixture
def glacier_vault_name() -> str:
    """The name of the vault ``glacier_settings`` creates."""
    return "test-vault"


@pytest.fixture
def glacier_connection(glacier_local_server: LocalServer) -> LocalConnection:
    """``glacierlib.settings(**glacier_connection, vault=...)`` talks to the local server."""
    server = glacier_local_server
    return LocalConnection(endpoint_url=server.endpoint_url, region=server.region,
                           access_key=server.access_key, secret_key=server.secret_key)


@pytest.fixture
def glacier_settings(glacier_connection: LocalConnection, glacier_vault_name: str,
                     tmp_path: Path) -> Settings:
    """Settings for an existing, empty vault; ``dir`` is an empty directory to back up."""
    from glacierlib.operations.vaults import create_vault

    root = tmp_path / "glacier-dir"
    root.mkdir()
    result = settings(**glacier_connection, vault=glacier_vault_name, dir=root,
                      journal=tmp_path / "glacier.journal")
    create_vault(result, glacier_vault_name)
    return result


@pytest.fixture
def glacier_config_file(glacier_settings: Settings, tmp_path: Path) -> Path:
    """An mt-aws-glacier config file with the connection, vault, journal and dir of the test."""
    path = tmp_path / "glacier.conf"
    lines = [
        f"key={glacier_settings.access_key}",
        f"secret={glacier_settings.secret_key}",
        f"region={glacier_settings.region}",
        f"endpoint-url={glacier_settings.endpoint_url}",
        f"vault={glacier_settings.vault}",
        f"journal={glacier_settings.journal}",
        f"dir={glacier_settings.dir}",
    ]
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
