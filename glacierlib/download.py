"""Verified, resumable, parallel download of archive-retrieval job output into files.

Getting data back is the part of a backup tool that matters on the worst day, so every byte is
checked and nothing half-done is ever left under the final name:

* Each file is written into a partial file next to its target (same directory, so the final
  ``os.replace`` is atomic), at the offsets of its segments with ``os.pwrite``: segments
  arrive in any order from several threads, and re-fetching one is harmless.
* Each segment is checked against the Content-Range asked for, its byte count, and the
  ``x-amz-sha256-tree-hash`` header when the service sends one (computed locally otherwise).
  A bad segment is fetched again a bounded number of times, then the file fails clearly.
* Segments are tree-hash aligned (:mod:`glacierlib.restore_plan`), so their hashes combine into
  the whole archive's hash, which must match the journal **and** the job's
  ``ArchiveSHA256TreeHash`` in every mode (mt-aws-glacier skipped this when segmented).
* A sidecar state file lists the segments already verified and written. An interrupted run
  leaves both files; the next run re-hashes those segments from disk and fetches only the rest.
* After fsync the partial file gets the journal's mtime (left alone when the journal has none:
  mt-aws-glacier crashed there, its issue #114), its state file is removed, and it is renamed
  over the target: a run stopped at any point leaves nothing a successful rerun keeps.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import attrs

from glacierlib.exceptions import (
    GlacierlibError,
    NotFound,
    UnsafeNameError,
    VerificationError,
)
from glacierlib.progress import (
    BytesMoved,
    FileDone,
    FileSkipped,
    FileStarted,
    Notice,
    ProgressCallback,
    Retrying,
    ignore_progress,
)
from glacierlib.restore_plan import plan_segments
from glacierlib.storage import VaultStore
from glacierlib.treehash import MIB, ByteRange, TreeHash, TreeHasher, combine_tree_hashes

__all__ = [
    "PARTIAL_PREFIX",
    "DownloadOutcome",
    "DownloadRequest",
    "download_archives",
    "partial_paths",
]

log = logging.getLogger(__name__)

PARTIAL_PREFIX = "__mtglacier_partial_"
_STATE_VERSION = 1
_READ_CHUNK = MIB
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@attrs.frozen
class DownloadRequest:
    """One finished retrieval job to download into ``target`` (inside ``root``).

    ``tree_hash`` is the journal's; ``job_tree_hash`` the job's ArchiveSHA256TreeHash. Both
    must match the data. ``segment_size`` 0 means one whole-output request.
    """

    name: str
    root: Path
    target: Path
    vault: str
    job_id: str
    archive_id: str
    size: int
    tree_hash: TreeHash
    job_tree_hash: TreeHash | None = None
    mtime: int | None = None
    segment_size: int = 0


@attrs.frozen
class DownloadOutcome:
    """What happened to one file; ``error`` is a full sentence when ``ok`` is false."""

    name: str
    target: Path
    size: int
    ok: bool
    error: str | None = None
    segments: int = 0
    resumed_segments: int = 0
    refetches: int = 0


def partial_paths(target: Path, archive_id: str) -> tuple[Path, Path]:
    """The partial data file and its state file for one archive in ``target``'s directory.

    The name depends on the archive only (not on the job), so a download resumed with a new
    job, after the first one's output expired, still reuses the verified segments.
    """
    key = hashlib.sha256(archive_id.encode("utf-8")).hexdigest()[:24]
    data = target.parent / f"{PARTIAL_PREFIX}{key}.tmp"
    return data, data.with_name(data.name + ".state")


class _SegmentFailed(GlacierlibError):
    """A segment that stayed wrong after every allowed attempt (or cannot be fetched)."""


class _LocalWriteFailed(GlacierlibError):
    """The partial file could not be written (a full disk, a quota, an I/O error).

    Not a transfer problem: fetching the bytes again cannot help and costs retrieval traffic,
    so it is never retried (a full restore target used to re-download every segment three
    times and call its bytes "still wrong").
    """


class _Partial:
    """The partial file of one download: open descriptor, verified segments, state file."""

    def __init__(
        self, store: VaultStore, request: DownloadRequest, *, fsync: bool, max_attempts: int,
        on_event: ProgressCallback,
    ) -> None:
        self.store = store
        self.request = request
        self.fsync = fsync
        self.max_attempts = max_attempts
        self.on_event = on_event
        self.lock = threading.Lock()
        self.segments = plan_segments(request.size, request.segment_size)
        self.path, self.state_path = partial_paths(request.target, request.archive_id)
        self.done: dict[int, TreeHash] = {}
        self.resumed = 0
        self.refetches = 0
        self.fd = -1

    # setup ------------------------------------------------------------------------------

    def open(self) -> list[ByteRange]:
        """Create or reopen the partial file and return the segments still to fetch."""
        req = self.request
        parent = req.target.parent
        req.root.mkdir(parents=True, exist_ok=True)
        _check_inside(req.root, parent, req.name)
        parent.mkdir(parents=True, exist_ok=True)
        _check_inside(req.root, parent, req.name)  # a symlink may have appeared meanwhile
        flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        # Truncate only once the lock is held: another run may be writing this file.
        self.fd = os.open(self.path, flags, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GlacierlibError(
                f"{req.name}: another mtglacier process is downloading this archive into "
                f"{parent}"
            ) from None
        previous = self._load_state()
        if not previous:
            os.ftruncate(self.fd, 0)
        if os.fstat(self.fd).st_size != req.size:
            os.ftruncate(self.fd, req.size)
        if previous:
            self._reverify(previous)
        self._save_state()
        pending = [s for s in self.segments if s.start not in self.done]
        if self.resumed:
            self.on_event(Notice(
                f"Resuming {req.name}: {self.resumed} of {len(self.segments)} segments "
                "already verified on disk"
            ))
        return pending

    def _load_state(self) -> dict[int, TreeHash]:
        req = self.request
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable download state %s: %s", self.state_path, exc)
            return {}
        if not os.path.isfile(self.path):
            return {}
        expected = {
            "version": _STATE_VERSION, "archive_id": req.archive_id, "size": req.size,
            "tree_hash": req.tree_hash.hex, "segment_size": req.segment_size,
        }
        if not isinstance(state, dict) or any(state.get(k) != v for k, v in expected.items()):
            return {}
        done: dict[int, TreeHash] = {}
        starts = {s.start for s in self.segments}
        raw = state.get("done")
        if isinstance(raw, dict):
            for start_text, hex_hash in raw.items():
                try:
                    start = int(start_text)
                    if start in starts and isinstance(hex_hash, str):
                        done[start] = TreeHash.from_hex(hex_hash)
                except ValueError:
                    continue
        return done

    def _reverify(self, previous: dict[int, TreeHash]) -> None:
        """Keep a recorded segment only if the bytes on disk still hash to its record."""
        by_start = {s.start: s for s in self.segments}
        for start, recorded in sorted(previous.items()):
            seg = by_start[start]
            hasher = TreeHasher()
            pos = seg.start
            while pos < seg.end:
                chunk = os.pread(self.fd, min(_READ_CHUNK, seg.end - pos), pos)
                if not chunk:
                    break
                hasher.update(chunk)
                pos += len(chunk)
            if pos == seg.end and hasher.tree_hash() == recorded:
                self.done[start] = recorded
                self.resumed += 1
                self.on_event(BytesMoved(seg.length, self.request.name))
            else:
                log.info("segment %s of %s changed on disk; fetching it again",
                         seg.inclusive(), self.request.name)

    def _save_state(self) -> None:
        """Rewrite the sidecar atomically; called after a segment's data is durable."""
        req = self.request
        state = {
            "version": _STATE_VERSION, "archive_id": req.archive_id, "size": req.size,
            "tree_hash": req.tree_hash.hex, "segment_size": req.segment_size,
            "job_id": req.job_id, "name": req.name,
            "done": {str(k): v.hex for k, v in sorted(self.done.items())},
        }
        tmp = self.state_path.with_name(self.state_path.name + ".new")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o666)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            os.replace(tmp, self.state_path)
        except OSError as exc:  # a full disk: no half-written ``.state.new`` is left behind
            _unlink_quietly(tmp)
            raise _LocalWriteFailed(f"cannot write {self.state_path}: {exc.strerror}") from None

    # fetching (worker threads) ----------------------------------------------------------

    def fetch(self, seg: ByteRange) -> None:
        """Fetch, verify and write one segment, re-fetching a bad one a bounded number of times."""
        req = self.request
        whole = len(self.segments) == 1
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            moved = [0]
            try:
                digest = self._receive(seg, whole, moved)
            except NotFound as exc:
                raise NotFound(
                    f"output of retrieval job {req.job_id} for {req.name} is no longer "
                    f"available ({exc.message})",
                    code=exc.code, operation=exc.operation, status=exc.status,
                    hint="job output expires about 24 h after completion; run `restore` "
                    "again for this file, then `restore-completed` when it is ready",
                ) from exc
            except GlacierlibError as exc:
                if not (exc.retryable or isinstance(exc, VerificationError)):
                    raise
                last_problem = str(exc)
            except Exception as exc:  # a body stream broken mid-read (any HTTP library)
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                with self.lock:
                    if self.fsync:
                        os.fsync(self.fd)
                    self.done[seg.start] = digest
                    self._save_state()
                return
            if moved[0]:
                self.on_event(BytesMoved(-moved[0], req.name))
            if attempt < self.max_attempts:
                with self.lock:
                    self.refetches += 1
                self.on_event(Retrying(
                    f"download {req.name} bytes {seg.inclusive()}", attempt, last_problem, 0.0,
                ))
        raise _SegmentFailed(
            f"{req.name}: bytes {seg.inclusive()} still wrong after {self.max_attempts} "
            f"attempts: {last_problem}"
        )

    def _receive(self, seg: ByteRange, whole: bool, moved: list[int]) -> TreeHash:
        req = self.request
        out = self.store.get_job_output(req.vault, req.job_id, None if whole else seg)
        try:
            if out.content_range is not None and out.content_range != seg:
                raise VerificationError(
                    f"asked for bytes {seg.inclusive()}, got Content-Range "
                    f"{out.content_range.inclusive()}"
                )
            if not whole and (out.status != 206 or out.content_range is None):
                raise VerificationError(
                    f"ranged request for bytes {seg.inclusive()} answered with status "
                    f"{out.status} and no matching Content-Range"
                )
            if out.total_length is not None and out.total_length != req.size:
                raise VerificationError(
                    f"job output is {out.total_length} bytes, the journal says {req.size}"
                )
            if out.content_length != seg.length:
                raise VerificationError(
                    f"Content-Length {out.content_length} for bytes {seg.inclusive()} (want "
                    f"{seg.length}); wrong size in the journal or wrong job"
                )
            hasher = TreeHasher()
            pos = seg.start
            while pos < seg.end:
                chunk = out.body.read(min(_READ_CHUNK, seg.end - pos))
                if not chunk:
                    raise VerificationError(
                        f"body ended after {pos - seg.start} of {seg.length} bytes"
                    )
                try:
                    _pwrite_all(self.fd, chunk, pos)
                except OSError as exc:
                    raise _LocalWriteFailed(
                        f"cannot write {self.path}: {exc.strerror}") from None
                hasher.update(chunk)
                pos += len(chunk)
                moved[0] += len(chunk)
                self.on_event(BytesMoved(len(chunk), req.name))
            digest = hasher.tree_hash()
            if out.tree_hash is not None and out.tree_hash != digest:
                raise VerificationError(
                    f"tree hash of bytes {seg.inclusive()} is {digest.hex}, the service "
                    f"says {out.tree_hash.hex}"
                )
            return digest
        finally:
            out.close()

    # finishing (main thread) ------------------------------------------------------------

    def finish(self) -> None:
        """Verify the whole file, then fsync, set the mtime and rename it into place."""
        req = self.request
        whole = combine_tree_hashes([self.done[s.start] for s in self.segments])
        problems = []
        if whole != req.tree_hash:
            problems.append(f"the journal's {req.tree_hash.hex}")
        if req.job_tree_hash is not None and whole != req.job_tree_hash:
            problems.append(f"the job's ArchiveSHA256TreeHash {req.job_tree_hash.hex}")
        if problems:
            self.discard()
            raise VerificationError(
                f"{req.name}: tree hash of the downloaded data {whole.hex} does not match "
                + " nor ".join(problems)
            )
        if self.fsync:
            os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        if req.mtime is not None:
            os.utime(self.path, (req.mtime, req.mtime))
        _check_inside(req.root, req.target.parent, req.name)
        # The state file goes first. A stop between the two steps then leaves a partial file
        # without state under a missing target, which the next run fetches into again (and
        # so removes); the other order could leave a state file beside a restored target,
        # which no later run ever looks at.
        _unlink_quietly(self.state_path)
        os.replace(self.path, req.target)
        if self.fsync:
            _fsync_dir(req.target.parent)

    def close(self) -> None:
        """Stop, keeping the partial file and its state for a later resume."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        """Drop the partial file: its data is consistent but not the archive we expect."""
        self.close()
        _unlink_quietly(self.path)
        _unlink_quietly(self.state_path)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _check_inside(root: Path, directory: Path, name: str) -> None:
    """Refuse a directory that resolves outside ``root`` (``..`` or a symlink leading out)."""
    base = root.resolve()
    # Resolve the deepest existing ancestor: directories still to be created cannot point out.
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    resolved = probe.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafeNameError(
            f"refusing to write {name!r}: its directory resolves outside {root}", name=name
        )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, GlacierlibError) else f"{type(exc).__name__}: {exc}"


def download_archives(
    store: VaultStore, requests: Iterable[DownloadRequest], *, concurrency: int = 4,
    on_event: ProgressCallback = ignore_progress, fsync: bool = True, max_attempts: int = 3,
) -> tuple[DownloadOutcome, ...]:
    """Download every request on one pool of ``concurrency`` threads, segment by segment.

    Files are opened and their segments submitted in order; at most ``2 x concurrency``
    segments are queued (a semaphore is taken before submitting), so memory stays at
    ``concurrency`` read chunks whatever the archive sizes. A file that fails keeps its
    verified segments for the next run; the others carry on. Outcomes come back in request
    order. Ctrl-C stops the pool and leaves every partial file resumable.
    """
    outcomes: list[DownloadOutcome] = []
    slots = threading.BoundedSemaphore(max(1, concurrency) * 2)
    active: deque[tuple[_Partial, list[Future[None]]]] = deque()

    def settle(partial: _Partial, futures: list[Future[None]]) -> None:
        req = partial.request
        errors = []
        for fut in futures:
            exc = fut.exception()
            if exc is not None:
                errors.append(exc)
        outcome_error: str | None = None
        if errors:
            partial.close()
            expired = [e for e in errors if isinstance(e, NotFound)]
            outcome_error = _describe(expired[0] if expired else errors[0])
        else:
            try:
                partial.finish()
            except (OSError, GlacierlibError) as exc:
                partial.close()
                outcome_error = _describe(exc)
        if outcome_error is None:
            on_event(FileDone(req.name, req.size, "download"))
        else:
            on_event(FileSkipped(req.name, outcome_error, error=True))
        outcomes.append(DownloadOutcome(
            req.name, req.target, req.size, outcome_error is None, outcome_error,
            len(partial.segments), partial.resumed, partial.refetches,
        ))

    def release(_fut: Future[None]) -> None:
        slots.release()

    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="download") as pool:
        try:
            for req in requests:
                partial = _Partial(store, req, fsync=fsync, max_attempts=max_attempts,
                                   on_event=on_event)
                try:
                    pending = partial.open()
                except (OSError, GlacierlibError) as exc:
                    partial.close()
                    on_event(FileSkipped(req.name, _describe(exc), error=True))
                    outcomes.append(DownloadOutcome(
                        req.name, req.target, req.size, False, _describe(exc),
                        len(partial.segments),
                    ))
                    continue
                on_event(FileStarted(req.name, req.size, "download"))
                futures: list[Future[None]] = []
                for seg in pending:
                    slots.acquire()
                    fut = pool.submit(partial.fetch, seg)
                    fut.add_done_callback(release)
                    futures.append(fut)
                active.append((partial, futures))
                while active and all(f.done() for f in active[0][1]):
                    settle(*active.popleft())
            while active:
                partial, futures = active[0]
                for fut in futures:
                    fut.exception()  # wait
                settle(*active.popleft())
        except BaseException:
            for _partial, futures in active:
                for fut in futures:
                    fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for partial, _futures in active:
                partial.close()
            raise
    return tuple(outcomes)
