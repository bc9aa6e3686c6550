"""The mt-aws-glacier journal: read versions 0/A/B/C, append version B, lock, repair torn lines.

The journal is the only record of which archive holds which file, so this module is strict
about the format and careful about crashes:

* **Format.** Version B lines are written byte for byte as mt-aws-glacier 1.120 writes them
  (TAB separated, decimal integers, ``NONE`` for an unknown mtime, raw UTF-8 name, ``\\n``), so
  either tool can keep using a journal the other wrote. Versions 0 (space separated), A
  (``archive_id == name`` means "mtime unknown") and C (B's syntax) are read. ``\\r\\n`` is
  accepted. Lines starting ``D\\t`` .. ``Z\\t`` come from a future version and are refused.
* **Latest version of a file.** Live archives are keyed by archive id. When several live
  archives share a name, the latest is the maximum of ``(mtime or time, time)``; an exact tie
  goes to the archive whose CREATED line came later in the file (mt-aws-glacier picked at
  random).
* **Tolerated versus fatal.** mt-aws-glacier refuses a whole journal for two states that lose
  nothing, which leaves the user hand-editing the file before any command works again. By
  default they are tolerated, each with a warning in ``JournalState.warnings`` and a log
  record:

  - a CREATED line repeating a live archive id with the same size, mtime, tree hash and name
    (journals concatenated with ``cat``, or an upload journal merged with one rebuilt from an
    inventory, where only the time differs): the first record is kept;
  - a DELETED line for an archive id that is not live (journals merged or filtered with
    ``grep``): the archive is gone either way.

  A CREATED line that contradicts a live record under the same id (different size, hash, mtime
  or name) stays fatal: there is no way to tell which record is true. ``strict=True`` restores
  mt-aws-glacier's behaviour exactly (both states fatal, a DELETED of an unknown id excused
  only when the filter excludes its name, a torn last line fatal).
* **Torn last line.** A crash can leave a last line without its newline. Readers ignore it
  with a warning (so check-local-hash still works); the next writer moves it to
  ``<journal>.torn-<UTC timestamp>`` next to the journal, truncates the journal to its last
  complete line and reports that: the bytes are never silently dropped.
* **Durability.** Each record is one ``os.write`` of one complete line on an ``O_APPEND``
  descriptor, and is on disk (``fdatasync``, unless ``fsync=False``) before the call that
  appended it returns; threads appending at once share one sync (group commit). A crash can
  lose only records whose calls had not returned; a failed write is truncated away so later
  records never follow a fragment.
* **Locking.** The journal is the lock. A writer holds ``flock(LOCK_EX)`` for its lifetime and
  a second writer is refused at once with ``JournalLockedError``. Readers take ``LOCK_SH``
  while they read; if a writer holds the journal they still read the complete lines written
  so far (append-only lines make every such prefix a consistent journal) and add a warning,
  because refusing check-local-hash for the hours a sync runs helps nobody. A writer that finds
  only readers holding the lock waits for them (they hold it for the seconds a load takes).
* **Regular files only.** The journal and its side files are opened with
  ``journal_files.open_regular``: a FIFO, directory, device or socket is refused at once in
  one line naming it, never waited on.
* **Speed.** Whole chunks of lines are parsed column by column, with a per-line fast path and
  the exact parser behind them (``journal_load``); every shortcut is a *sufficient* condition
  for what the exact parser accepts, so both always agree (property tests check it). Live
  archives are tuples; ``ArchiveEntry`` values are built only when asked for, and
  ``latest_by_name`` is a view that builds them on access. ``benchmarks/journal.py`` measures
  a million records against the previous version in one run.
* **Index.** A large journal's parsed state is saved to ``<journal>.index`` by a writer when it
  closes and by an unfiltered reader that had to parse many lines while no writer held the
  journal (``journal_index``), and is used only when the SHA-1 of the journal bytes it was
  parsed from still matches. It is a cache; deleting it is always safe.

The module is split by job: ``journal_record`` (a line: values, exact parser, numeric
ranges), ``journal_state`` (what the journal says), ``journal_load`` (fast loading),
``journal_index`` (the cache), ``journal_files`` (opening regular files only); this module
reads and writes journals and re-exports the public names.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time as _time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

import attrs

from glacierlib.exceptions import JournalError, JournalLockedError
from glacierlib.journal_files import fsync_dir as _fsync_dir
from glacierlib.journal_files import open_regular, side_mode
from glacierlib.journal_index import load_index, new_digest, write_index
from glacierlib.journal_load import load_lines
from glacierlib.journal_record import (
    CREATED,
    DELETED,
    MAX_ARCHIVE_SIZE,
    MAX_MTIME,
    MIN_MTIME,
    RETRIEVE_JOB,
    ArchiveEntry,
    JournalRecord,
)
from glacierlib.journal_state import JournalState, NameFilter, gc_paused
from glacierlib.treehash import TreeHash

__all__ = [
    "CREATED",
    "DELETED",
    "MAX_ARCHIVE_SIZE",
    "MAX_MTIME",
    "MIN_MTIME",
    "RETRIEVE_JOB",
    "ArchiveEntry",
    "JournalRecord",
    "JournalState",
    "JournalWriter",
    "NameFilter",
    "read_journal",
]

logger = logging.getLogger(__name__)

_READER_WAIT_SECONDS = 30.0
INDEX_MIN_RECORDS = 50_000  # below this a full parse takes well under a second


# --------------------------------------------------------------------------------------------
# Loading


def _indexable(filters: NameFilter | None, strict: bool) -> bool:
    """Only the full, tolerant state is cached: a filtered or strict load parses in full."""
    return not strict and not (filters is not None and filters)


def _load(f: IO[bytes], path: Path, filters: NameFilter | None, strict: bool,
          state: JournalState) -> JournalState:
    """Read complete lines from ``f`` into a state; the caller holds whatever lock it needs.

    An unfiltered, non-strict load starts from a matching index and hashes what it parses,
    so that the state can be saved as an index again (``state._digest``).
    """
    first_warning = len(state.warnings)
    with gc_paused():
        start = 0
        digest = None
        if _indexable(filters, strict):
            hit = load_index(f.fileno(), path, state)
            if hit is not None:
                start, digest = hit
                state._indexed_size = start
                state._indexed_records = state.records
                f.seek(start)
            else:
                digest = new_digest()
        parsed = load_lines(f, path, state, filters=filters, strict=strict, digest=digest)
    state._latest = None
    state._finish_warnings()
    state._digest = digest
    state._digest_size = start + parsed
    # What the journal's content says (tolerated states), as opposed to notes about this
    # session (a repaired torn line, a busy journal): only the former belongs in an index.
    state._content_warnings = state.warnings[first_warning:]
    return state


def _save_index(path: Path, fd: int, state: JournalState) -> None:
    digest = state._digest
    if digest is not None and state._digest_size:
        with gc_paused():
            write_index(path, fd, state._digest_size, digest, state)


def read_journal(path: str | os.PathLike[str], *, filters: NameFilter | None = None,
                 strict: bool = False) -> JournalState:
    """Read a journal for a read-only command; a missing file is an empty state.

    Takes a shared lock while reading. If a writer holds the journal, the complete lines it
    has written so far are read anyway (with a warning): they are a consistent journal.
    The journal is never modified. When no writer holds it and an unfiltered load had to
    parse at least ``INDEX_MIN_RECORDS`` lines itself, the state is saved as the index
    (atomically, if the directory is writable): read-only commands (restore,
    check-local-hash) on a journal no writer ever closed would otherwise pay the full parse
    on every run.
    """
    path = Path(path)
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return JournalState()
    except OSError as exc:
        raise JournalError(f"cannot open the journal: {exc.strerror}", path=path) from None
    with os.fdopen(fd, "rb") as f:
        busy = False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            busy = True
        state = JournalState()
        if busy:
            state._warn(f"{path}: another process is writing this journal; read the records "
                        "written so far")
        try:
            _load(f, path, filters, strict, state)
        except OSError as exc:
            raise JournalError(f"cannot read the journal: {exc.strerror}", path=path) from None
        if (not busy and state.records - state._indexed_records >= INDEX_MIN_RECORDS
                and os.access(path.parent, os.W_OK)):
            _save_index(path, fd, state)
        return state


# --------------------------------------------------------------------------------------------
# Writing


_sync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _lock_exclusive(fd: int, path: Path) -> None:
    """Take LOCK_EX; refuse at once if a writer has it, wait a little if only readers do."""
    deadline = _time.monotonic() + _READER_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        try:
            # Succeeds only when no writer holds it: then readers do, and they finish soon.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalLockedError(
                "the journal is in use by another mtglacier process writing to it",
                path=path, hint="wait for that sync or upload to finish, or use another "
                "journal") from None
        fcntl.flock(fd, fcntl.LOCK_UN)
        if _time.monotonic() > deadline:
            raise JournalLockedError(
                f"the journal stayed locked by readers for {_READER_WAIT_SECONDS:.0f} s",
                path=path, hint="wait for check-local-hash or other readers to finish")
        _time.sleep(0.05)


def _repair_torn_tail(fd: int, path: Path, fsync: bool) -> str | None:
    """Move an unterminated last line aside and truncate; return the report, or None."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    cut, pos = 0, size
    while pos > 0:
        start = max(0, pos - 65536)
        i = os.pread(fd, pos - start, start).rfind(b"\n")
        if i >= 0:
            cut = start + i + 1
            break
        pos = start
    stamp = _time.strftime("%Y%m%dT%H%M%SZ", _time.gmtime())
    for n in range(1000):
        aside = path.with_name(f"{path.name}.torn-{stamp}" + (f".{n}" if n else ""))
        try:
            out = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                          side_mode(fd))
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a thousand repairs in one second
        raise JournalError("cannot find a free name to move the torn line to", path=path)
    try:
        off = cut
        while off < size:
            chunk = os.pread(fd, min(1 << 20, size - off), off)
            os.write(out, chunk)
            off += len(chunk)
        os.fsync(out)
    finally:
        os.close(out)
    _fsync_dir(path)
    os.ftruncate(fd, cut)
    if fsync:
        os.fsync(fd)
    return (f"{path}: the last line was not fully written (a crash during a write?); its "
            f"{size - cut} bytes were moved to {aside} and the journal was truncated to its "
            "last complete line")


def _append_error(exc: OSError, path: Path) -> JournalError:
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
    return JournalError(f"cannot append to the journal: {reason}", path=path)


@attrs.define(init=False)
class JournalWriter:
    """The one process allowed to append to a journal, for as long as it is open.

    Open with ``JournalWriter.open(path)``; ``.state`` is the journal as read under the lock
    and stays current as records are appended. Methods may be called from any thread.
    """

    path: Path
    state: JournalState
    _fd: int
    _fsync: bool
    _size: int
    _lock: threading.Lock
    _closed: bool
    _broken: bool
    _indexable: bool
    _sync_lock: threading.Lock
    _written: int
    _synced: int

    def __init__(self, path: Path, fd: int, state: JournalState, fsync: bool,
                 indexable: bool = False) -> None:
        self.path = path
        self._fd = fd
        self.state = state
        self._fsync = fsync
        self._size = os.fstat(fd).st_size
        self._lock = threading.Lock()
        self._closed = False
        self._broken = False
        self._indexable = indexable
        self._sync_lock = threading.Lock()
        self._written = 0  # records appended by this writer
        self._synced = 0  # of which known to be on disk

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True,
             filters: NameFilter | None = None, strict: bool = False) -> JournalWriter:
        """Create the journal if missing, lock it, repair a torn last line, read it."""
        path = Path(path)
        existed = os.path.exists(path)  # False also when unsearchable: open_regular words it
        try:
            fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        except OSError as exc:
            raise JournalError(f"cannot open the journal for writing: {exc.strerror}",
                               path=path) from None
        try:
            _lock_exclusive(fd, path)
            if not existed and fsync:
                _fsync_dir(path)
            report = _repair_torn_tail(fd, path, fsync)
            state = JournalState()
            if report is not None:
                state._warn(report)
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb", closefd=True) as f:
                _load(f, path, filters, strict, state)
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot prepare the journal: {exc.strerror}",
                               path=path) from None
        except BaseException:
            os.close(fd)
            raise
        indexable = not strict and not (filters is not None and filters)
        return cls(path, fd, state, fsync, indexable)

    @property
    def warnings(self) -> list[str]:
        return self.state.warnings

    def _append(self, record: JournalRecord) -> None:
        data = record.to_line()
        with self._lock:
            if self._closed:
                raise JournalError("the journal writer is closed", path=self.path)
            if self._broken:
                raise JournalError("an earlier write failed and could not be undone",
                                   path=self.path)
            live = self.state._live
            if record.kind == CREATED and record.archive_id in live:
                raise JournalError(f"archive {record.archive_id} is already in the journal",
                                   path=self.path)
            if record.kind == DELETED and record.archive_id not in live:
                raise JournalError(f"archive {record.archive_id} is not in the journal",
                                   path=self.path)
            start = self._size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                try:
                    os.ftruncate(self._fd, start)  # never leave a fragment before a record
                except OSError:
                    self._broken = True
                raise _append_error(exc, self.path) from None
            self._size = start + len(data)
            state = self.state
            if state._digest is not None:  # the index hashes every byte it describes
                state._digest.update(data)
                state._digest_size += len(data)
            self.state.records += 1
            self.state._apply(record, self.path, self.state.records, None, False)
            self._written += 1
            ticket = self._written
        if self._fsync:
            self._sync_through(ticket)

    def _sync_through(self, ticket: int) -> None:
        """Return once record number ``ticket`` is on disk: group commit.

        Threads appending at once share one fdatasync instead of queueing one each behind the
        append lock (small-file syncs are bound by it). Every record is still durable before
        its ``created``/``deleted`` call returns. A failed sync cannot be undone for records
        others appended since, so it marks the writer broken: nothing more is appended.
        """
        with self._sync_lock:
            if self._synced >= ticket:
                return  # a sync that began after our write covered it
            with self._lock:
                target = self._written
            try:
                _sync(self._fd)
            except OSError as exc:
                self._broken = True
                raise _append_error(exc, self.path) from None
            self._synced = target

    def created(  # noqa: PLR0917 - the contract in docs/architecture.md
        self, archive_id: str, size: int, mtime: int | None, tree_hash: TreeHash, name: str,
        time: int | None = None,
    ) -> JournalRecord:
        """Record an uploaded archive; ``time`` defaults to now (epoch seconds)."""
        record = JournalRecord.created(int(_time.time()) if time is None else time,
                                       archive_id, size, mtime, tree_hash, name)
        self._append(record)
        return record

    def deleted(self, archive_id: str, name: str, time: int | None = None) -> JournalRecord:
        record = JournalRecord.deleted(int(_time.time()) if time is None else time,
                                       archive_id, name)
        self._append(record)
        return record

    def retrieve_job(self, archive_id: str, job_id: str,
                     time: int | None = None) -> JournalRecord:
        if not job_id:
            raise ValueError("a retrieval job id is not empty")
        record = JournalRecord.retrieve_job(int(_time.time()) if time is None else time,
                                            archive_id, job_id)
        self._append(record)
        return record

    def close(self) -> None:
        """Save the index of a large journal, release the lock; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    if self._needs_index():
                        _save_index(self.path, self._fd, self.state)
                finally:
                    os.close(self._fd)

    def _needs_index(self) -> bool:
        if not self._indexable or self._broken or self.state.records < INDEX_MIN_RECORDS:
            return False
        # Nothing appended since an index covering the whole journal was read: it is current.
        return self.state._indexed_size != self.state._digest_size

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
