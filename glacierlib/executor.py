"""Run a plan on one bounded thread pool: the only place that uploads, hashes and deletes.

The bound is the point of this module. A ``ThreadPoolExecutor.submit`` never blocks (its queue
is unbounded), so the scheduling thread takes a slot of a ``BoundedSemaphore(concurrency)``
*before* it reads a part or submits a task, and the slot is released in the future's done
callback. Every task does at most one request at a time and holds at most one part buffer, so:

* never more than ``concurrency`` requests are in flight (a multipart initiation is made by the
  scheduling thread while it holds a slot);
* never more than ``concurrency x part_size`` bytes of part buffers exist at once.

There is no task graph: a multipart file is "initiate, submit every part, complete when the
last part is done". Whoever finishes last (a part task, or the scheduler when it stops
submitting) completes or aborts the upload, inline, in the slot it already holds, so a worker
never waits for a slot (which could deadlock a full pool).

Each byte is read from disk once: a part is read into one buffer, hashed (SHA-256 and tree
hash) and sent; the archive's tree hash combines the part tree hashes (parts are a power of two
MiB, so they are nodes of the archive's tree). A file whose size or mtime differ after it was
read is not recorded: its multipart upload is aborted (or its single upload never sent), it is
reported, and the next run retries it.

The journal is written as each archive completes (one CREATED line; the journal writer is
thread-safe), and a replacement deletes the old archive only after the new one is recorded.
An archive the journal cannot record (disk full) is saved to a side file and named in the
:class:`~glacierlib.unrecorded.JournalWriteError` the run ends with; no new work starts after
the first such failure (:mod:`glacierlib.unrecorded`).

Upload state for resuming (a later addition) hangs off :class:`_Multipart`: the upload id, part
size, file identity and the set of parts done are all there, so a state file next to the
journal can be written from the same places that update it.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

import attrs

from glacierlib.exceptions import (
    AuthFailed,
    GlacierlibError,
    InvalidRequest,
    JournalError,
    NoLongerSupported,
    NotFound,
)
from glacierlib.plan import Action, Delete, Replace, Skip, Upload, Verify
from glacierlib.progress import (
    BytesMoved,
    FileDone,
    FileSkipped,
    FileStarted,
    Notice,
    PlanReady,
    ProgressCallback,
    ignore_progress,
)
from glacierlib.storage import ArchiveCreated, MultipartUpload, PartBody, VaultStore
from glacierlib.treehash import TreeHash, combine_tree_hashes, tree_hash_file
from glacierlib.unrecorded import JournalWriteError, UnrecordedArchive, UnrecordedLog
from glacierlib.upload import PendingUpload, ResumeState
from glacierlib.walk import LocalFile

__all__ = [
    "ExecutionReport",
    "Executor",
    "FileFailure",
    "JournalSink",
    "StreamUploaded",
]

logger = logging.getLogger(__name__)

# Errors after which going on cannot help: every other request would fail the same way.
_FATAL: tuple[type[BaseException], ...] = (AuthFailed, NoLongerSupported, NotFound, JournalError)

_T = TypeVar("_T")


class JournalSink(Protocol):
    """What the executor writes to (``glacierlib.journal.JournalWriter`` fits). Thread-safe."""

    def created(  # noqa: PLR0917 - the contract of the journal writer
        self, archive_id: str, size: int, mtime: int | None, tree_hash: TreeHash, name: str,
        time: int | None = None,
    ) -> object: ...

    def deleted(self, archive_id: str, name: str, time: int | None = None) -> object: ...


@attrs.frozen
class FileFailure:
    """A file or archive the run could not handle; the next run retries it."""

    display: str
    reason: str


@attrs.frozen
class ExecutionReport:
    """What a run did. ``ok`` is false when anything failed or could not be stored."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    replaced: int = 0
    deleted: int = 0
    verified_unchanged: int = 0
    skipped: tuple[Skip, ...] = ()
    failed: tuple[FileFailure, ...] = ()
    changed: tuple[str, ...] = ()
    #: Files uploaded in one request after an attempt whose reply was lost: the vault may hold
    #: an extra, unjournaled copy of each (``check-remote`` lists it as an orphan).
    in_doubt: tuple[str, ...] = ()
    #: Archives stored but not journaled (the journal could not be written): extra copies
    #: unless the next run records them from the side file.
    unrecorded: tuple[UnrecordedArchive, ...] = ()

    @property
    def unstorable(self) -> tuple[Skip, ...]:
        return tuple(s for s in self.skipped if s.error)

    @property
    def ok(self) -> bool:
        return (not self.failed and not self.changed and not self.unstorable
                and not self.unrecorded)


@attrs.frozen
class StreamUploaded:
    """The archive made from a stream (``upload-file --stdin``)."""

    archive_id: str
    size: int
    tree_hash: TreeHash


class _FileChanged(Exception):
    """The file differs from its stat at walk time: do not record this archive."""


class _Multipart:
    """Book-keeping of one multipart upload in flight (and, later, its resume state)."""

    __slots__ = ("action", "data_size", "failed", "hashes", "known", "lock", "name",
                 "part_size", "remaining", "upload_id")

    def __init__(self, action: Upload | Replace | None, name: str, upload_id: str,
                 part_size: int) -> None:
        self.action = action
        self.name = name
        self.upload_id = upload_id
        self.part_size = part_size
        self.lock = threading.Lock()
        self.hashes: dict[int, TreeHash] = {}
        # One token for the scheduler plus one per submitted part; zero means "finish now".
        self.remaining = 1
        self.failed: BaseException | None = None
        self.data_size = 0
        # Parts an earlier run uploaded (ListParts): offset -> (length, tree hash).
        self.known: dict[int, tuple[int, TreeHash]] = {}


def _read_exact(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset``, or raise :class:`_FileChanged` if the file is shorter."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    chunks = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise _FileChanged("file shrank while it was read")
        chunks.append(more)
        got += len(more)
    return b"".join(chunks)


def _open_walked(file: LocalFile) -> int:
    """Open a walked file; a FIFO (once a hang in ``open``) or another file swapped in since
    the walk is "changed" before a byte of it is read or sent."""
    fd = os.open(file.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (file.inode and st.st_ino != file.inode):
            raise _FileChanged
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _same_identity(file: LocalFile, st: os.stat_result) -> bool:
    return st.st_size == file.size and st.st_mtime_ns == file.mtime_ns and (
        not file.inode or st.st_ino == file.inode) and (
        not file.ctime_ns or st.st_ctime_ns == file.ctime_ns)


class Executor:
    """Runs actions against one vault and one journal on a bounded pool.

    Use as a context manager. :meth:`run` takes any iterable of actions (a lazy plan is fine:
    it is pulled only when a slot is free) and returns the report. Callbacks (``on_event``)
    run on worker threads. Fatal errors (credentials, missing vault, journal) stop scheduling
    and are raised from :meth:`run` once in-flight work has settled; other errors fail one file
    and the run goes on.
    """

    def __init__(
        self, store: VaultStore, vault: str, journal: JournalSink, *, concurrency: int = 4,
        part_size: int, on_event: ProgressCallback = ignore_progress,
        resume: ResumeState | None = None, single_request_uploads: bool = True,
        unrecorded_log: UnrecordedLog | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.vault = vault
        self.journal = journal
        self.concurrency = concurrency
        self.part_size = part_size
        self.on_event = on_event
        self.resume = resume
        self.single_request_uploads = single_request_uploads
        self.unrecorded_log = unrecorded_log
        self._unrecorded: list[UnrecordedArchive] = []
        self._journal_failure: BaseException | None = None
        self._planned_files = 0
        self._planned_bytes = 0
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="glacierlib")
        self._cond = threading.Condition()
        self._pending = 0
        self._followups: deque[Action] = deque()
        self._fatal: BaseException | None = None
        self._lock = threading.Lock()
        self._uploaded = 0
        self._uploaded_bytes = 0
        self._replaced = 0
        self._deleted = 0
        self._unchanged = 0
        self._skipped: list[Skip] = []
        self._failed: list[FileFailure] = []
        self._changed: list[str] = []
        self._in_doubt: list[str] = []
        # Descriptions this run asked to initiate, and the upload ids it got back or resumed:
        # see abort_strays.
        self._initiated: set[str] = set()
        self._upload_ids: set[str] = set()
        self._ended_ids: set[str] = set()  # completed or aborted

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- scheduling (caller's thread) -------------------------------------------------------

    def run(self, actions: Iterable[Action]) -> ExecutionReport:
        """Execute every action, then wait for all of them; raise a fatal error if one came."""
        for action in actions:
            if self._fatal is not None:
                break
            self._dispatch(action)
            self._drain_followups()
        self.wait()
        return self.report()

    def wait(self) -> None:
        """Wait for all submitted work (and the replacements that hashing asks for)."""
        while True:
            with self._cond:
                while self._pending and not self._followups:
                    self._cond.wait()
                if not self._pending and not self._followups:
                    break
            self._drain_followups()
        if self._unrecorded:
            raise self._journal_write_error()
        if self._fatal is not None:
            raise self._fatal

    def report(self) -> ExecutionReport:
        with self._lock:
            return ExecutionReport(
                uploaded=self._uploaded, uploaded_bytes=self._uploaded_bytes,
                replaced=self._replaced, deleted=self._deleted,
                verified_unchanged=self._unchanged, skipped=tuple(self._skipped),
                failed=tuple(self._failed), changed=tuple(self._changed),
                in_doubt=tuple(self._in_doubt), unrecorded=tuple(self._unrecorded),
            )

    def _drain_followups(self) -> None:
        while self._fatal is None:
            with self._cond:
                if not self._followups:
                    return
                action = self._followups.popleft()
            self._dispatch(action, followup=True)

    def _count(self, action: Action, followup: bool) -> None:
        """Grow the totals the progress display shows as the streaming plan is pulled."""
        if not followup:
            self._planned_files += 1
        if isinstance(action, Upload | Replace):
            self._planned_bytes += action.file.size
        self.on_event(PlanReady(self._planned_files, self._planned_bytes))

    def _dispatch(self, action: Action, *, followup: bool = False) -> None:
        if not isinstance(action, Skip):
            self._count(action, followup)
        if isinstance(action, Skip):
            with self._lock:
                self._skipped.append(action)
            self.on_event(FileSkipped(action.display, action.reason, action.error))
        elif isinstance(action, Delete):
            self._submit(self._task_delete, action)
        elif isinstance(action, Verify):
            self._submit(self._task_verify, action)
        else:
            if action.part_size_raised:
                self.on_event(Notice(
                    f"{action.file.rel}: part size raised to {action.part_size >> 20} MiB "
                    f"(a file of {action.file.size} bytes needs more than 10,000 parts at the "
                    f"requested size)"))
            if self.single_request_uploads and action.file.size <= action.part_size:
                self._submit(self._task_single_file, action)
            else:
                self._schedule_multipart_file(action)

    def _acquire(self) -> None:
        self._slots.acquire()

    def _submit_holding_slot(self, fn: Callable[..., None], *args: object) -> None:
        """Submit work for a slot the caller already took; the slot is freed when it ends."""
        with self._cond:
            self._pending += 1
        try:
            future = self._pool.submit(self._guard, fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._on_done)

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        self._acquire()
        self._submit_holding_slot(fn, *args)

    def _on_done(self, _future: Future[None]) -> None:
        self._release()

    def _release(self) -> None:
        self._slots.release()
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # a bug in a task must not vanish inside a future
            logger.debug("task failed", exc_info=True)
            self._fatal = self._fatal or exc

    # -- failures ------------------------------------------------------------------------------

    def _fail(self, display: str, exc: BaseException) -> None:
        if isinstance(exc, _FATAL) or not isinstance(exc, GlacierlibError | OSError):
            if self._fatal is None:
                self._fatal = exc
            return
        reason = exc.message if isinstance(exc, GlacierlibError) else (
            f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc))
        logger.info("failed: %s: %s", display, reason)
        with self._lock:
            self._failed.append(FileFailure(display, reason))
        self.on_event(FileSkipped(display, reason, True))

    def _changed_file(self, rel: str) -> None:
        logger.info("changed while uploading, not recorded: %s", rel)
        with self._lock:
            self._changed.append(rel)
        self.on_event(FileSkipped(rel, "file changed while it was uploaded; not recorded, "
                                       "the next run uploads it again", True))

    # -- tasks (worker threads) ----------------------------------------------------------------

    def _delete_recorded(self, archive_id: str, name: str) -> None:
        """Delete an archive, then journal it: the DELETED line only once the service agreed."""
        self.store.delete_archive(self.vault, archive_id)
        self.journal.deleted(archive_id, name)

    def _task_delete(self, action: Delete) -> None:
        try:
            self._delete_recorded(action.archive_id, action.name)
        except BaseException as exc:
            self._fail(action.name, exc)
            return
        with self._lock:
            self._deleted += 1
        self.on_event(FileDone(action.name, action.size, "delete", action.archive_id))

    def _task_verify(self, action: Verify) -> None:
        try:
            digest = tree_hash_file(action.file.path)
        except BaseException as exc:
            self._fail(action.file.rel, exc)
            return
        if digest == action.old.tree_hash:
            with self._lock:
                self._unchanged += 1
            self.on_event(FileDone(action.file.rel, action.file.size, "verify", "unchanged"))
            return
        with self._cond:
            self._followups.append(action.as_replace())
            self._cond.notify_all()

    def _task_single_file(self, action: Upload | Replace) -> None:
        if self._fatal is not None:
            return  # submitted while the run was being stopped: no new request
        file = action.file
        self.on_event(FileStarted(file.rel, file.size, _kind(action)))
        try:
            fd = _open_walked(file)
            try:
                data = _read_exact(fd, file.size, 0)
                if not _same_identity(file, os.fstat(fd)):
                    raise _FileChanged
            finally:
                os.close(fd)
            body = PartBody.from_bytes(data)
            created = self.store.upload_archive(self.vault, body, action.description)
        except _FileChanged:
            self._changed_file(file.rel)
            return
        except BaseException as exc:
            self._fail(file.rel, exc)
            return
        self.on_event(BytesMoved(file.size, file.rel))
        if created.lost_replies:
            with self._lock:
                self._in_doubt.append(file.rel)
            self.on_event(Notice(
                f"{file.rel}: the reply to an earlier upload attempt was lost; if the service "
                "stored that attempt, the vault holds a copy the journal does not list "
                "(check-remote shows it as an orphan; --multipart-only avoids this)", "warning"))
        self._record(action, created, body.tree_hash)

    def _record(self, action: Upload | Replace, created: ArchiveCreated,
                tree_hash: TreeHash) -> None:
        """Journal a completed archive; for a replacement, then delete the old one."""
        file = action.file
        if not self._journal_created(created.archive_id, file.size, file.mtime, tree_hash,
                                     file.rel):
            return
        with self._lock:
            self._uploaded += 1
            self._uploaded_bytes += file.size
        if isinstance(action, Replace):
            old = action.old
            try:
                self._delete_recorded(old.archive_id, old.name)
            except BaseException as exc:
                self._fail(file.rel, exc)
                return
            with self._lock:
                self._replaced += 1
        self.on_event(FileDone(file.rel, file.size, _kind(action), created.archive_id))

    def _journal_created(
        self, archive_id: str, size: int, mtime: int | None, tree_hash: TreeHash, name: str,
    ) -> bool:
        """Journal a stored archive; if the journal fails, never lose the archive's identity.

        The archive goes to the side file and the report, and the run stops taking work:
        every later archive would meet the same full disk.
        """
        try:
            self.journal.created(archive_id, size, mtime, tree_hash, name)
            return True
        except BaseException as exc:
            archive = UnrecordedArchive(archive_id, name, size, tree_hash, mtime,
                                        int(time.time()))
            saved = self.unrecorded_log.save(archive) if self.unrecorded_log else None
            # At once, and loudly only when no file took it: then the output is its record.
            logger.log(logging.INFO if saved else logging.WARNING,
                       "stored but not journaled (%s): %s%s", exc, archive.describe(),
                       f"; saved to {saved}" if saved else "")
            with self._lock:
                self._unrecorded.append(archive)
                first = self._journal_failure is None
                if first:
                    self._journal_failure = exc
                    self._fatal = self._fatal or exc
            if first:
                self.on_event(Notice(f"the journal cannot record archives ({exc}): no new "
                                     "upload is started", "warning"))
            return False

    def _journal_write_error(self) -> JournalWriteError:
        with self._lock:
            unrecorded = tuple(self._unrecorded)
            cause = self._journal_failure
        saved = self.unrecorded_log.saved_to if self.unrecorded_log else None
        where = (f"; they are saved in {saved} and the next run on this journal records them"
                 if saved else "; no file could take them: they are listed below only")
        return JournalWriteError(
            f"{len(unrecorded)} archive(s) stored in the vault could not be journaled "
            f"({cause}){where}", unrecorded=unrecorded, saved_to=saved,
            hint="free space for the journal, then run the same command again")

    # -- multipart ---------------------------------------------------------------------------

    def _initiate_request(self, part_size: int, description: str) -> str:
        """InitiateMultipartUpload, remembering what was asked and answered (abort_strays)."""
        with self._lock:
            self._initiated.add(description)
        upload_id = self.store.initiate_multipart_upload(self.vault, part_size, description)
        with self._lock:
            self._upload_ids.add(upload_id)
        return upload_id

    def _initiate(self, name: str, part_size: int, description: str) -> str | None:
        """Initiate on the scheduling thread, inside a slot (it is a request too)."""
        self._acquire()
        try:
            return self._initiate_request(part_size, description)
        except BaseException as exc:
            self._fail(name, exc)
            return None
        finally:
            self._slots.release()

    def _in_slot(self, fn: Callable[[], _T]) -> _T:
        """Run one request on the scheduling thread, inside a slot."""
        self._acquire()
        try:
            return fn()
        finally:
            self._slots.release()

    def _resume_parts(self, pending: PendingUpload) -> dict[int, tuple[int, TreeHash]] | None:
        """The parts an earlier run uploaded, or ``None`` if the upload is gone."""
        try:
            parts = self._in_slot(lambda: list(self.store.list_parts(self.vault,
                                                                     pending.upload_id)))
        except (NotFound, InvalidRequest):
            return None
        return {p.byte_range.start: (p.byte_range.length, p.tree_hash) for p in parts}

    def _take_over(self, action: Upload | Replace) -> _Multipart | None:
        """Resume this file's interrupted upload if it is still valid; abort it otherwise."""
        if self.resume is None:
            return None
        pending = self.resume.take(action.file.rel)
        if pending is None:
            return None
        file = action.file
        if (pending.same_file(file.size, file.mtime_ns, file.inode)
                and pending.part_size == action.part_size
                and pending.description == action.description):
            known = self._resume_parts(pending)
            if known is not None:
                with self._lock:
                    self._upload_ids.add(pending.upload_id)
                state = _Multipart(action, file.rel, pending.upload_id, action.part_size)
                state.known = known
                self.on_event(Notice(f"{file.rel}: resuming an interrupted upload, "
                                     f"{len(known)} part(s) already sent"))
                return state
        logger.info("abandoning the interrupted upload of %s (file changed or upload gone)",
                    file.rel)
        self._abort_id(pending.upload_id, file.rel, in_slot=False)
        self.resume.ended(pending.upload_id)
        return None

    def _schedule_multipart_file(self, action: Upload | Replace) -> None:
        file = action.file
        self.on_event(FileStarted(file.rel, file.size, _kind(action)))
        try:
            state = self._take_over(action)
        except BaseException as exc:
            self._fail(file.rel, exc)
            return
        if state is None:
            upload_id = self._initiate(file.rel, action.part_size, action.description)
            if upload_id is None:
                return
            state = _Multipart(action, file.rel, upload_id, action.part_size)
            if self.resume is not None:
                try:
                    self.resume.started(PendingUpload(
                        upload_id, file.rel, file.size, file.mtime_ns, file.inode,
                        action.part_size, action.description))
                except BaseException as exc:  # a full disk, or a stop: never unrecorded
                    self._abort(state)
                    if not isinstance(exc, OSError):
                        raise
                    self._fail(file.rel, exc)
                    return
        state.data_size = file.size
        for offset in range(0, file.size, action.part_size):
            if state.failed is not None or self._fatal is not None:
                break
            length = min(action.part_size, file.size - offset)
            self._acquire()
            with state.lock:
                state.remaining += 1
            self._submit_holding_slot(self._task_part, state, offset, length, None)
        self._scheduler_done(state)

    def abort_leftovers(self) -> int:
        """Abort the interrupted uploads of earlier runs that this run did not take over.

        Their files were deleted, journaled meanwhile, or filtered out: nothing will resume
        them, and a stale upload would linger on the service. Returns how many were aborted.
        """
        if self.resume is None:
            return 0
        leftovers = self.resume.pending
        for pending in leftovers:
            if self.resume.take(pending.name) is None:
                continue
            self._abort_id(pending.upload_id, pending.name, in_slot=False)
            self.resume.ended(pending.upload_id)
        return len(leftovers)

    def abort_streams(self) -> int:
        """Abort the interrupted ``--stdin`` uploads of earlier runs: nothing can resume them."""
        if self.resume is None:
            return 0
        aborted = 0
        for pending in self.resume.pending:
            if pending.stream and self.resume.take(pending.name) is not None:
                self._abort_id(pending.upload_id, pending.name, in_slot=False)
                self.resume.ended(pending.upload_id)
                aborted += 1
        if aborted:
            self.on_event(Notice(f"aborted {aborted} unfinished upload(s) of standard input "
                                 "left by an interrupted upload-file"))
        return aborted

    def abort_strays(self, *, after_stop: bool = False) -> int:
        """Abort uploads this run started but never heard of: lost Initiate replies.

        When the reply to InitiateMultipartUpload is lost, the service has an upload we never
        learnt the id of, and the retry starts a second one. The stray carries the description
        we sent, so after the run it is found among the vault's unfinished uploads: one with a
        description this run initiated and an id this run neither used nor keeps for resume.
        A stop (Ctrl-C, SIGTERM) during an initiation loses its reply the same way; then
        ``after_stop`` makes the calls without taking a slot (the stopped scheduler may have
        left one taken). Returns how many were aborted.
        """
        with self._lock:
            descriptions = set(self._initiated)
            ours = set(self._upload_ids)
        if not descriptions:
            return 0
        if self.resume is not None:
            ours.update(p.upload_id for p in self.resume.pending)
        def listing() -> list[MultipartUpload]:
            return list(self.store.list_multipart_uploads(self.vault))

        try:
            strays = [u for u in (listing() if after_stop else self._in_slot(listing))
                      if u.archive_description in descriptions and u.upload_id not in ours]
        except GlacierlibError as exc:
            logger.warning("could not list unfinished uploads to clean up: %s", exc.message)
            return 0
        for upload in strays:
            logger.info("aborting stray upload %s left by a lost reply", upload.upload_id)
            self._abort_id(upload.upload_id, upload.archive_description or "",
                           in_slot=after_stop)
        return len(strays)

    def _scheduler_done(self, state: _Multipart) -> None:
        """Give back the scheduler's token; if every part is done already, finish here."""
        with state.lock:
            state.remaining -= 1
            last = state.remaining == 0
        if last:
            self._submit(self._finish_multipart, state)

    def _task_part(self, state: _Multipart, offset: int, length: int,
                   data: bytes | None) -> None:
        try:
            if state.failed is None and self._fatal is None:
                if data is None:
                    assert state.action is not None
                    fd = _open_walked(state.action.file)
                    try:
                        data = _read_exact(fd, length, offset)
                    finally:
                        os.close(fd)
                body = PartBody.from_bytes(data)
                data = None
                if state.known.get(offset) != (length, body.tree_hash):
                    # Not sent by an earlier run, or sent with other bytes: send it.
                    self.store.upload_part(self.vault, state.upload_id, offset, body)
                with state.lock:
                    state.hashes[offset] = body.tree_hash
                self.on_event(BytesMoved(length, state.name))
        except BaseException as exc:
            with state.lock:
                if state.failed is None:
                    state.failed = exc
        with state.lock:
            state.remaining -= 1
            last = state.remaining == 0
        if last:
            self._finish_multipart(state)

    def _finish_multipart(self, state: _Multipart) -> None:
        """Complete (or abort) an upload whose parts are all done; runs in a held slot.

        A failed part leaves the upload in place when there is resume state (the next run
        resumes it); without resume state, and always for a changed file, it is aborted.
        """
        action = state.action
        failure = state.failed
        if failure is None and self._fatal is None and action is not None:
            try:
                if not _same_identity(action.file, os.stat(action.file.path)):
                    failure = _FileChanged()
            except OSError:
                failure = _FileChanged()
        if failure is not None or self._fatal is not None:
            resumable = (self.resume is not None and action is not None
                         and not isinstance(failure, _FileChanged))
            if not resumable:
                self._abort(state)
            if isinstance(failure, _FileChanged):
                self._changed_file(state.name)
            elif failure is not None:
                self._fail(state.name, failure)
            return
        tree_hash = combine_tree_hashes([state.hashes[k] for k in sorted(state.hashes)])
        try:
            created = self.store.complete_multipart_upload(
                self.vault, state.upload_id, state.data_size, tree_hash)
        except BaseException as exc:
            if self.resume is None or action is None or isinstance(exc, InvalidRequest):
                self._abort(state)
            self._fail(state.name, exc)
            return
        if action is not None:
            self._record(action, created, tree_hash)
        else:
            self._stream_done(state.name, created, state.data_size, tree_hash)
        self._ended(state.upload_id)

    def _ended(self, upload_id: str) -> None:
        with self._lock:
            self._ended_ids.add(upload_id)
        if self.resume is not None:
            try:
                self.resume.ended(upload_id)
            except OSError as exc:  # the next run aborts a completed upload: harmless
                logger.warning("cannot update the upload state: %s", exc.strerror)

    def _abort(self, state: _Multipart) -> None:
        self._abort_id(state.upload_id, state.name, in_slot=True)
        self._ended(state.upload_id)

    def _abort_id(self, upload_id: str, name: str, *, in_slot: bool) -> None:
        def call() -> None:
            self.store.abort_multipart_upload(self.vault, upload_id)

        try:
            call() if in_slot else self._in_slot(call)
        except GlacierlibError as exc:
            logger.warning("could not abort upload %s of %s: %s", upload_id, name, exc.message)

    # -- streams: glacierlib.stream_upload.StreamingExecutor ---------------------------------

    def _stream_done(self, name: str, created: ArchiveCreated, size: int,
                     tree_hash: TreeHash) -> None:
        """A stream's multipart upload completed; only a streaming executor has streams."""
        raise NotImplementedError


def _kind(action: Upload | Replace) -> str:
    return "replace" if isinstance(action, Replace) else "upload"

