"""A Glacier-compatible HTTP server on loopback: the target of tests and of ``--local DIR``.

It speaks the 2012-06-01 vault API closely enough that botocore cannot tell it from the real
service in everything a backup tool uses (SigV4, tree hashes, multipart rules, ranged job
output, inventory snapshots and their timing), and adds an unsigned control plane for the
simulated clock and fault injection.

    with running_server() as server:
        client = session.create_client("glacier", **server.client_kwargs())
"""

from __future__ import annotations

from glacierlib.localserver.config import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_SECRET_KEY,
    ServerConfig,
)
from glacierlib.localserver.control import ControlClient
from glacierlib.localserver.faults import FAULT_KINDS
from glacierlib.localserver.server import LocalServer, running_server, serve
from glacierlib.localserver.storage_disk import DiskStorage
from glacierlib.localserver.storage_memory import MemoryStorage

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_SECRET_KEY",
    "FAULT_KINDS",
    "ControlClient",
    "DiskStorage",
    "LocalServer",
    "MemoryStorage",
    "ServerConfig",
    "running_server",
    "serve",
]
