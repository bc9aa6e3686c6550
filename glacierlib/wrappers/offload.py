"""Single-request uploads run in child processes, so small files are not bound by one GIL.

Each UploadArchive costs a few milliseconds of client CPU inside botocore (signing, urllib3,
header parsing, event hooks), and that CPU holds the GIL: one process tops out near 340
calls/s however many threads it has. Sending the same calls to a few child processes, each
with its own botocore client, leaves the parent only the pickling and the pipe.

Why it looks the way it does:

* Only ``upload_archive`` of small bodies moves; every other call (and large bodies, where
  the network and not the CPU is the bound) stays in-process, so the store keeps its
  semantics and ``LoggedStore`` above still logs each call once, in the parent.
* The children are lazy: a run with a handful of files never pays for starting interpreters.
  After ``threshold`` small uploads a background thread starts them; calls go on in-process
  until the first child is ready.
* One pipe per child, used directly by the calling thread: a ``ProcessPoolExecutor`` hands
  every call through two more parent threads (its manager and queue feeder), and on a busy
  two-core machine those hand-offs cost more parent CPU (0.57 against 0.22 ms a call,
  measured) and wait for the GIL each time.
* Children are fresh interpreters (``python -c``, not ``multiprocessing``): they inherit no
  journal descriptors, locks, threads or standard input, and they do not re-import the
  parent's ``__main__`` as ``multiprocessing``'s spawn does, which would re-run an embedder's
  unguarded script. They start in their own session and ignore SIGINT, SIGTERM and SIGHUP
  (the parent decides what a stop means; ``systemctl stop`` signals every process of the
  unit), and exit on their own when the parent dies (end of their pipe, or a watchdog
  noticing the new parent id), so a killed run leaks no processes.
* Progress events and log records a child produces travel back with its answer and are
  re-emitted in the parent, in order; a typed error arrives as the same class.
* A child that dies must not fail the run: the call is made in-process, with a warning, and
  the children are not used again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection as Pipe

import attrs

from glacierlib import __version__
from glacierlib.client import Connection, GlacierStore, make_session
from glacierlib.progress import ProgressCallback, ProgressEvent, ignore_progress
from glacierlib.storage import ArchiveCreated, PartBody, VaultStore
from glacierlib.treehash import MIB, TreeHash
from glacierlib.wrappers.forwarding import ForwardingStore
from glacierlib.wrappers.retrying import RetryPolicy

__all__ = ["OffloadingStore"]

logger = logging.getLogger(__name__)

#: Small uploads before the children start: below this, starting interpreters costs more than
#: it saves.
DEFAULT_THRESHOLD = 32
#: Larger bodies stay in-process: their cost is the network, and piping them is a copy.
DEFAULT_MAX_BODY = 1 * MIB
#: Loggers whose levels the children copy, so they collect only what the parent would show.
_LOGGERS = ("", "glacierlib", "botocore", "urllib3")
_WATCHDOG_INTERVAL = 0.25
#: How long a child may take to import botocore and build its client.
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 5.0

#: (the archive created as (id, location, lost replies), or the error raised), then the
#: child's events and log records. Plain values, not ``ArchiveCreated``: pickling an attrs
#: instance costs ten times a tuple's, on every call; the parent has the rest.
_Created = tuple[str, str, int]
_Answer = tuple[_Created | BaseException, list[ProgressEvent], list[logging.LogRecord]]

# ----------------------------------------------------------------------------- child side


class _RecordCollector(logging.Handler):
    """Keeps a child's log records, made picklable, to ship with its answer."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            record.msg = f"{record.msg!r} {record.args!r}"
        record.args = None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(
                record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _watch_parent(parent: int) -> None:
    """Exit once the parent is gone, even in the middle of a call."""
    while os.getppid() == parent:
        time.sleep(_WATCHDOG_INTERVAL)
    os._exit(1)


def _portable(error: BaseException) -> BaseException:
    """The error itself when it pickles (ours do), else a RuntimeError naming it."""
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"upload process: {type(error).__name__}: {error}")
    return error


#: How a child imports what it runs. The package is registered without running its
#: ``__init__`` (settings, journal, options: a tenth of a child's start-up CPU), since a
#: child needs only the client layer; its submodules import as usual. The version (the
#: User-Agent names it) is the one attribute of the package the client layer reads.
_CHILD_IMPORTS = (
    "import sys, types, importlib.util; "
    "spec = importlib.util.find_spec('glacierlib'); pkg = types.ModuleType('glacierlib'); "
    "pkg.__path__ = list(spec.submodule_search_locations); pkg.__spec__ = spec; "
    f"pkg.__version__ = {__version__!r}; "
    "sys.modules['glacierlib'] = pkg; "
    "from glacierlib.wrappers.offload import _child_main"
)
#: The child's whole command line: find glacierlib where the parent found it, then serve.
_BOOTSTRAP = (
    "import sys; from multiprocessing.connection import Connection; "
    "pipe = Connection(int(sys.argv[1])); sys.path[:] = pipe.recv(); "
    + _CHILD_IMPORTS + "; _child_main(pipe, *pipe.recv())"
)


def _child_main(pipe: Pipe, connection: Connection, policy: RetryPolicy, parent: int,
                levels: Mapping[str, int]) -> None:
    """Serve upload requests from the parent, one at a time, until the pipe closes."""
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="glacierlib-parent-watchdog").start()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    events: list[ProgressEvent] = []
    records: list[logging.LogRecord] = []
    logging.getLogger().addHandler(_RecordCollector(records))
    store = GlacierStore(make_session(connection), connection, retry=policy,
                         on_event=events.append)
    pipe.send(os.getpid())  # ready
    while True:
        try:
            request = pipe.recv()
        except (EOFError, OSError):
            break
        if request is None:
            break
        vault, data, sha256, tree_hash, description = request
        events.clear()
        records.clear()
        outcome: _Created | BaseException
        try:
            # Hashed once, by the parent: rebuild the body without hashing again.
            created = store.upload_archive(
                vault, PartBody(data, sha256, TreeHash(tree_hash)), description)
            outcome = (created.archive_id, created.location, created.lost_replies)
        except Exception as exc:
            outcome = _portable(exc)
        answer: _Answer = (outcome, list(events), list(records))
        pipe.send(answer)
    store.close()


# ----------------------------------------------------------------------------- parent side


@attrs.define
class _Child:
    process: subprocess.Popen[bytes]
    pipe: Pipe


class OffloadingStore(ForwardingStore):
    """Runs small ``upload_archive`` calls in up to ``processes`` spawned children.

    ``connection`` and ``retry`` must describe the same endpoint and policy as ``inner``: each
    child builds its own ``GlacierStore`` from them.
    """

    def __init__(
        self, inner: VaultStore, connection: Connection, *, processes: int,
        retry: RetryPolicy | None = None, on_event: ProgressCallback = ignore_progress,
        threshold: int = DEFAULT_THRESHOLD, max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        super().__init__(inner)
        # A child makes one call at a time: one pooled connection each.
        self._connection = attrs.evolve(connection, concurrency=1)
        self._processes = max(1, processes)
        self._retry = retry or RetryPolicy()
        self._on_event = on_event
        self._threshold = threshold
        self._max_body = max_body
        self._lock = threading.Lock()
        self._small_calls = 0
        self._starter: threading.Thread | None = None
        self._children: list[_Child] = []
        self._idle: queue.SimpleQueue[_Child] = queue.SimpleQueue()
        self._ready = False
        self._disabled = False
        self._closed = False

    def __repr__(self) -> str:
        return f"OffloadingStore({self._inner!r}, processes={self._processes})"

    @property
    def pool_started(self) -> bool:
        """Whether the children were asked for (tests and benchmarks look)."""
        return self._starter is not None

    @property
    def pool_in_use(self) -> bool:
        return self._ready and not self._disabled

    def child_pids(self) -> list[int]:
        with self._lock:
            return sorted(c.process.pid for c in self._children)

    # ------------------------------------------------------------------ children lifecycle

    def _use_children(self) -> bool:
        with self._lock:
            if self._disabled or self._closed:
                return False
            if self._ready:
                return True
            self._small_calls += 1
            if self._starter is None and self._small_calls >= self._threshold:
                self._starter = threading.Thread(target=self._start_children, daemon=True,
                                                 name="glacierlib-offload-start")
                self._starter.start()
            return False

    def _start_children(self) -> None:
        """Start the children; each joins the idle set as soon as it has built its client."""
        levels = {name: logging.getLogger(name).getEffectiveLevel() for name in _LOGGERS}
        setup = (self._connection, self._retry, os.getpid(), levels)
        pending: list[_Child] = []
        try:
            for _ in range(self._processes):
                ours_socket, theirs_socket = socket.socketpair()
                ours = Pipe(ours_socket.detach())
                theirs = theirs_socket.detach()
                with self._lock:
                    if self._closed:
                        ours.close()
                        os.close(theirs)
                        return
                    try:
                        process = subprocess.Popen(
                            [sys.executable, "-c", _BOOTSTRAP, str(theirs)],
                            pass_fds=(theirs,), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, start_new_session=True,
                        )
                    finally:
                        os.close(theirs)
                    child = _Child(process, ours)
                    self._children.append(child)
                ours.send(list(sys.path))
                ours.send(setup)
                pending.append(child)
            deadline = time.monotonic() + _START_TIMEOUT
            for child in pending:
                if not child.pipe.poll(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("no answer")
                child.pipe.recv()
                self._idle.put(child)
                with self._lock:
                    self._ready = True
        except Exception as exc:  # EOFError, OSError, TimeoutError: same results in-process
            logger.warning("cannot start upload processes (%s); uploading in-process",
                           type(exc).__name__)
            self._disable()
            return
        logger.debug("%d upload processes ready after %d small uploads", self._processes,
                     self._small_calls)

    def _disable(self) -> None:
        with self._lock:
            self._disabled = True

    def close(self) -> None:
        """Stop the children (a call in progress is finished first), then the inner store.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            starter = self._starter
        if starter is not None:
            starter.join()
        # Ask each child to stop once it is idle (a pipe carries one conversation at a
        # time); one still busy after the timeout is killed.
        deadline = time.monotonic() + _STOP_TIMEOUT
        for _ in self._children:
            try:
                child = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            with contextlib.suppress(OSError):
                child.pipe.send(None)
        for child in self._children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.pipe.close()
        super().close()

    # ------------------------------------------------------------------ the offloaded call

    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated:
        if body.length == 0 or body.length > self._max_body or not self._use_children():
            return self._inner.upload_archive(vault, body, description)
        child = self._idle.get()
        try:
            if self._disabled or self._closed:
                return self._inner.upload_archive(vault, body, description)
            data = body.data if isinstance(body.data, bytes) else bytes(body.data)
            try:
                child.pipe.send((vault, data, body.sha256, body.tree_hash.digest, description))
                answer: _Answer = child.pipe.recv()
            except (EOFError, OSError) as exc:
                # Whether the lost call stored an archive is unknown, as with a lost reply.
                with self._lock:
                    first = not self._disabled
                    self._disabled = True
                if first:
                    logger.warning("an upload process failed (%s, exit code %s); uploading "
                                   "in-process from now on", type(exc).__name__,
                                   child.process.poll())
                created = self._inner.upload_archive(vault, body, description)
                # The child may have sent the request before it died: count it as a lost
                # reply, so the caller names the file (see ArchiveCreated.lost_replies).
                return attrs.evolve(created, lost_replies=created.lost_replies + 1)
        finally:
            # Always handed back, even broken: a caller waiting for a child must not hang.
            self._idle.put(child)
        outcome, events, records = answer
        for record in records:
            logging.getLogger(record.name).handle(record)
        for event in events:
            try:
                self._on_event(event)
            except Exception:  # a broken progress display must not fail the transfer
                logger.debug("progress callback failed", exc_info=True)
        if isinstance(outcome, BaseException):
            raise outcome
        archive_id, location, lost = outcome
        # The child checked the service's tree hash against this body's.
        return ArchiveCreated(archive_id, body.tree_hash, body.length, location,
                              lost_replies=lost)
