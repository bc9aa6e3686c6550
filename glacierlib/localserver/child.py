"""The local server in a child process: what ``--local DIR`` runs when it uploads in bulk.

In a thread of the command's own process the server shares one GIL with the walk, the
journal and the hand-over to the upload helpers, and a sync ran at about 0.6x the rate of the
same sync against a separate server process. So a bulk ``--local`` run starts the server as a
fresh interpreter of its own, arranged so that nothing about the run gets worse:

* the parent takes the directory's lock (a second user is refused at once, in the parent,
  with the usual one-line error) and binds the listening socket itself, then hands both to
  the child: the endpoint is known at once, and requests made while the child is still
  importing wait in the socket's backlog instead of failing;
* the child lives in its own session, ignores SIGINT (the parent decides what Ctrl-C means),
  and stops when its standard input ends: when the parent closes it, or dies;
* the child never prints; its logging goes to standard error like the parent's would;
* its arguments, the run's key pair among them, come on its standard input, not its command
  line, which other local users can read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from glacierlib.localserver.config import ServerConfig
from glacierlib.localserver.storage_disk import lock_data_dir

__all__ = ["ChildServer", "child_server"]

# The arguments come as the first line of standard input, never on the command line: they hold
# the run's key pair, and any local user can read another process's argv (/proc/PID/cmdline).
_BOOTSTRAP = """
import json, sys
args = json.loads(sys.stdin.buffer.readline())
sys.path[:0] = args["path"]
from glacierlib.localserver.child import _serve_child
_serve_child(args)
"""

_STOP_TIMEOUT = 30.0

logger = logging.getLogger(__name__)


@attrs.frozen
class ChildServer:
    """Where the child server listens, and the key pair it accepts."""

    endpoint_url: str
    region: str
    access_key: str
    secret_key: str = attrs.field(repr=False)


@contextlib.contextmanager
def child_server(data_dir: Path, config: ServerConfig) -> Iterator[ChildServer]:
    """Serve ``data_dir`` from a child process for the duration of the block.

    Raises :class:`~glacierlib.exceptions.DataDirectoryInUse` at once if another process
    holds the directory.
    """
    lock_fd = lock_data_dir(Path(data_dir))
    try:
        listening = socket.create_server(("127.0.0.1", 0), backlog=256)
    except BaseException:
        os.close(lock_fd)
        raise
    with listening:
        host, port = listening.getsockname()[:2]
        settings = attrs.asdict(config)
        args = {"path": [p for p in sys.path if p], "data_dir": str(data_dir),
                "socket": listening.fileno(), "lock": lock_fd, "config": settings}
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP],
                pass_fds=(listening.fileno(), lock_fd), stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            # The child holds the lock (same open file) and the socket from here on: when
            # it exits, the directory is free and connecting is refused, never left hanging.
            os.close(lock_fd)
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(args).encode() + b"\n")
            process.stdin.flush()
        except OSError:  # the child died at once; its log line says why
            pass
    access_key, secret_key = config.key_pairs[0]
    try:
        yield ChildServer(f"http://{host}:{port}", config.region, access_key, secret_key)
    finally:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve_child(args: dict[str, Any]) -> None:
    """The child's main: serve on the inherited socket until standard input ends."""
    from glacierlib.localserver.server import _start

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = ServerConfig(**{**args["config"],
                             "key_pairs": tuple(map(tuple, args["config"]["key_pairs"]))})
    listening = socket.socket(fileno=int(args["socket"]))
    try:
        server = _start(Path(args["data_dir"]), config, "127.0.0.1", 0, thread=False,
                        listening=listening, lock_fd=int(args["lock"]))
    except Exception as exc:  # one line for the user, not a child's traceback
        logger.error("the local server for %s could not start: %s", args["data_dir"], exc)
        sys.exit(1)

    def watch_parent() -> None:
        with contextlib.suppress(OSError):
            sys.stdin.buffer.read()
        server.request_stop()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.close()
