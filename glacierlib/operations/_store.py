"""Where operations get their store: AWS (or any endpoint) or the built-in local server.

``--local DIR`` must behave exactly like a remote endpoint (same botocore client, same
wrappers, same retries), so the local server is started here and the ordinary store stack is
pointed at it over loopback HTTP; nothing else in the operations knows the difference.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from glacierlib.client import Connection, ConnectionSettings, open_store, retry_policy_for
from glacierlib.progress import ProgressCallback, ignore_progress
from glacierlib.storage import VaultStore

__all__ = ["StoreSettings", "store_for", "upload_processes_for"]

#: More children than this stop paying: the parent's share (pickling, pipes, the journal)
#: becomes the bound.
MAX_UPLOAD_PROCESSES = 4


class StoreSettings(ConnectionSettings, Protocol):
    """Connection settings plus ``local_dir`` (``glacierlib.config.Settings`` has both)."""

    @property
    def local_dir(self) -> Path | None: ...


def upload_processes_for(settings: StoreSettings) -> int:
    """How many child processes may send small uploads for a run (0: all in-process).

    One process is bound by botocore's CPU at a few hundred uploads per second; more
    processes than cores or than requests in flight cannot help. A run whose ``botocore`` or
    ``glacierlib`` logging is at DEBUG (``--verbose``) stays in one process, so that every
    debug line is produced, filtered and ordered where the user looks for it.
    """
    for name in ("botocore", "glacierlib"):
        if logging.getLogger(name).isEnabledFor(logging.DEBUG):
            return 0
    processes = min(settings.concurrency, os.cpu_count() or 1, MAX_UPLOAD_PROCESSES)
    return processes if processes > 1 else 0


def _run_key_pair() -> tuple[str, str]:
    """A random access key and secret for one ``--local`` run, known only to this process."""
    return ("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))


@contextmanager
def store_for(
    settings: StoreSettings, on_event: ProgressCallback = ignore_progress, *,
    upload_processes: int = 0,
) -> Iterator[VaultStore]:
    """Yield the store stack for ``settings``; close it (and stop a local server) on exit.

    Vaults are not created here: creating one is an operation's decision.
    ``upload_processes`` (see :func:`upload_processes_for`) also applies under ``--local``,
    where it matters most: the in-process server then no longer shares the GIL with botocore.
    """
    with ExitStack() as stack:
        if settings.local_dir is not None:
            from glacierlib.exceptions import ConfigError
            from glacierlib.localserver import LocalServer, ServerConfig, running_server

            if Path(settings.local_dir).exists() and not Path(settings.local_dir).is_dir():
                # Else the user reads "File exists" (or "Not a directory") about a path
                # they did not know was ours to create.
                raise ConfigError(f"{settings.local_dir}: not a directory", hint="check --local")
            from glacierlib.localserver.child import ChildServer, child_server

            # A rehearsal must be able to sync, then ask for an inventory at once: under
            # --local the inventory follows every write instead of lagging a simulated day.
            # Nothing in a --local run drives the control plane: off, so no other local
            # user can read or script it.
            # And a key pair of its own: with the public default key any local user who found
            # the port could sign requests (delete archives) while the run was serving.
            config = ServerConfig(inventory_interval=0, control_plane=False,
                                  key_pairs=(_run_key_pair(),))
            server: ChildServer | LocalServer
            if upload_processes:
                # Bulk uploads: the server gets a process (and a GIL) of its own.
                server = stack.enter_context(child_server(Path(settings.local_dir), config))
            else:
                server = stack.enter_context(
                    running_server(data_dir=Path(settings.local_dir), config=config)
                )
            connection = Connection(
                region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                timeout=settings.timeout, access_key=server.access_key,
                secret_key=server.secret_key, session_token=None, profile=None,
                concurrency=settings.concurrency,
            )
            store = open_store(connection, on_event, upload_processes=upload_processes,
                               retry=retry_policy_for(settings))
        else:
            store = open_store(settings, on_event, upload_processes=upload_processes)
        close = getattr(store, "close", None)
        if callable(close):
            stack.callback(close)
        yield store
