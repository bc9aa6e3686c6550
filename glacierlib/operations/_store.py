"""Where operations get their store: AWS (or any endpoint) or the built-in local server.

``--local DIR`` must behave exactly like a remote endpoint (same botocore client, same
wrappers, same retries), so the local server is started here and the ordinary store stack is
pointed at it over loopback HTTP; nothing else in the operations knows the difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from glacierlib.client import Connection, ConnectionSettings, open_store
from glacierlib.progress import ProgressCallback, ignore_progress
from glacierlib.storage import VaultStore

__all__ = ["StoreSettings", "store_for"]


class StoreSettings(ConnectionSettings, Protocol):
    """Connection settings plus ``local_dir`` (``glacierlib.config.Settings`` has both)."""

    @property
    def local_dir(self) -> Path | None: ...


@contextmanager
def store_for(
    settings: StoreSettings, on_event: ProgressCallback = ignore_progress
) -> Iterator[VaultStore]:
    """Yield the store stack for ``settings``; close it (and stop a local server) on exit.

    Vaults are not created here: creating one is an operation's decision.
    """
    with ExitStack() as stack:
        if settings.local_dir is not None:
            from glacierlib.localserver import ServerConfig, running_server

            # A rehearsal must be able to sync, then ask for an inventory at once: under
            # --local the inventory follows every write instead of lagging a simulated day.
            config = ServerConfig(inventory_interval=0)
            server = stack.enter_context(
                running_server(data_dir=Path(settings.local_dir), config=config)
            )
            connection = Connection(
                region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                timeout=settings.timeout, access_key=server.access_key,
                secret_key=server.secret_key, session_token=None, profile=None,
                concurrency=settings.concurrency,
            )
            store = open_store(connection, on_event)
        else:
            store = open_store(settings, on_event)
        close = getattr(store, "close", None)
        if callable(close):
            stack.callback(close)
        yield store
