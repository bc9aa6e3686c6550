"""Disk storage under a data directory: survives restarts, never holds a body in memory.

Layout: ``lock`` (held with ``flock`` by the one process serving the directory),
``meta/<name>.json`` (a vault's or the account's full document, replaced atomically by
write-to-temp + ``os.replace``), ``meta/<name>.log`` (the changes since that document, one
JSON line per acknowledged write, appended with a single ``write``), ``blobs/<key>`` and
``blobs/<key>.leaves`` (archive and part bodies with their 1 MiB leaf digests; none for bodies
of 64 KiB or less, whose one digest is recomputed when needed).

Why a log: rewriting a vault's whole document on every upload made each upload cost O(vault)
and a sync O(vault^2). A log line costs the same however large the vault is; the document is
rewritten only when the log has grown as long as the vault (amortised O(1) per write). Every
log line is an idempotent upsert or delete keyed by id, so replaying a log over a document
that already contains it (a crash between the two steps of compaction) changes nothing.
Directories written before the log existed are plain documents without a log: they load as
they are (the first compaction rewrites them in the current format).

Why collections stored apart (``meta/<name>.json.<collection>``, listed with their lengths
under ``"split"`` in the document): a vault's archive table and inventory snapshot are as
long as the vault, and parsing them made every command on a 100,000-archive vault pay for
all of it. ``load_documents(split=True)`` leaves them unread and queues the log's changes to
them; the service reads them when something needs them. They are written before the
document that points at them, so a crash in between leaves the previous document, whose log
replays idempotently over them.

A crash can leave only unreferenced blobs (bodies still arriving, or received but not yet in
the log) and a torn last log line (an unacknowledged write), swept or dropped at the next
start. The directory is private:
directories 0700, files 0600.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from glacierlib.exceptions import DataDirectoryInUse
from glacierlib.localserver.blobs import BlobWriter

__all__ = ["DiskStorage", "apply_record", "lock_data_dir"]

logger = logging.getLogger(__name__)

_SCRATCH = 4 << 20
#: Bodies up to this size get no ``.leaves`` file (cheap to hash again when asked).
_NO_LEAVES_FILE = 64 << 10
_DIR_MODE = 0o700
_FILE_MODE = 0o600
#: Collections of a vault document that log lines update entry by entry (name -> id field).
COLLECTIONS = {
    "archives": "archive_id",
    "retained": "archive_id",
    "uploads": "upload_id",
    "jobs": "job_id",
    "finished_uploads": None,
}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_private(path: Path, flags: int) -> int:
    return os.open(path, flags | os.O_CLOEXEC, _FILE_MODE)


_scratch = threading.local()


def _thread_scratch() -> memoryview:
    """One reused receive buffer per server thread: a fresh 4 MiB buffer per body costs a
    page-zeroing pass over it."""
    view: memoryview | None = getattr(_scratch, "view", None)
    if view is None:
        view = memoryview(bytearray(_SCRATCH))
        _scratch.view = view
    return view


class _DiskWriter:
    """Streams a body into its blob file through the thread's reused scratch buffer.

    Written in place, not renamed from ``tmp/``: until a change-log line names the key the
    blob is unreferenced, and the next start sweeps unreferenced blobs anyway (one file
    operation less per upload).
    """

    def __init__(self, owner: DiskStorage, size: int) -> None:
        self._owner = owner
        self._key = secrets.token_hex(16)
        self._path = owner.root / "blobs" / self._key
        self._size = size
        self._fd = _open_private(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        self._scratch = _thread_scratch()

    def buffer(self, max_length: int) -> memoryview:
        return self._scratch[: min(max_length, len(self._scratch))]

    def commit(self, length: int) -> None:
        view = self._scratch[:length]
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def finish(self, leaves: bytes) -> str:
        try:
            if self._owner.fsync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
        if self._size > _NO_LEAVES_FILE:
            # A small body's one leaf is the SHA-256 of the whole body: ``leaves``
            # recomputes it on demand instead of a second file per small upload.
            path = self._path.with_suffix(".leaves")
            fd = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            try:
                os.write(fd, leaves)
            finally:
                os.close(fd)
        return self._key

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._path.unlink(missing_ok=True)


def apply_record(doc: dict[str, Any], record: Mapping[str, Any],
                 pending: dict[str, list[tuple[str, Any]]] | None = None) -> None:
    """Apply one log line to a vault document (as ``Vault.to_dict`` writes it), in place.

    Collections are held as id -> entry dicts while replaying (``_as_maps``/``_as_lists``).
    Changes to a collection named in ``pending`` (stored apart, not read yet) are queued
    there as (id, entry or None) instead.
    """
    header = record.get("h")
    if isinstance(header, dict):
        doc.update(header)
    if "s" in record:
        doc["snapshot"] = record["s"]
        if pending is not None:
            pending.pop("snapshot", None)  # replaced whole: what is stored apart is stale
    for coll, key, value in record.get("p", ()):
        if pending is not None and coll in pending:
            pending[coll].append((key, value))
        else:
            doc[coll][key] = value
    for coll, key in record.get("d", ()):
        if pending is not None and coll in pending:
            pending[coll].append((key, None))
        else:
            doc[coll].pop(key, None)


def _as_maps(doc: dict[str, Any], skip: Collection[str] = ()) -> dict[str, Any]:
    out = dict(doc)
    for coll, id_field in COLLECTIONS.items():
        if coll in skip:
            continue
        raw = doc.get(coll) or ({} if id_field is None else [])
        out[coll] = dict(raw) if id_field is None else {e[id_field]: e for e in raw}
    return out


def _as_lists(doc: dict[str, Any], skip: Collection[str] = ()) -> dict[str, Any]:
    out = dict(doc)
    for coll, id_field in COLLECTIONS.items():
        if coll not in skip:
            out[coll] = doc[coll] if id_field is None else list(doc[coll].values())
    return out


def _deferred(path: Path, coll: str, changes: list[tuple[str, Any]]) -> Callable[[], Any]:
    """Reads a collection stored apart and replays its queued log changes, when called."""

    def load() -> Any:
        raw = json.loads(path.read_bytes())
        if not changes or coll not in COLLECTIONS:
            return raw
        id_field = COLLECTIONS[coll]
        entries = dict(raw) if id_field is None else {e[id_field]: e for e in raw}
        for key, value in changes:
            if value is None:
                entries.pop(key, None)
            else:
                entries[key] = value
        return entries if id_field is None else list(entries.values())

    return load


def lock_data_dir(root: Path) -> int:
    """Create ``root`` (0700) and hold ``root/lock``; refuse at once if another holds it.

    Two processes on one directory would each keep their own picture of the vaults and
    overwrite the other's (last writer wins), then sweep the other's bodies as unreferenced.
    ``flock`` is released by the kernel when the last holder dies, so a crashed server never
    leaves the directory locked. Returns the descriptor that holds the lock.
    """
    # Every directory created here is 0700, the missing parents too (``mkdir -p`` would
    # make them 0755); a directory that already exists is the user's and keeps its mode.
    for missing in reversed([root, *root.parents]):
        if not missing.exists():
            missing.mkdir(exist_ok=True, mode=_DIR_MODE)
    fd = _open_private(root / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = b""
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 32, 0).strip()
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        pid = holder.decode("ascii", "replace") if holder.isdigit() else "unknown"
        raise DataDirectoryInUse(
            f"{root}: the local server data directory is in use by another process "
            f"(pid {pid}); only one command or local-server may use it at a time",
            hint="wait for it to finish, or use another directory",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


class DiskStorage:
    """Bodies as files, metadata as documents plus change logs, all under ``root``."""

    persistent = True

    def __init__(self, root: Path, *, fsync: bool = False, lock_fd: int | None = None) -> None:
        """``lock_fd``: the directory's lock, already taken by :func:`lock_data_dir` (a
        parent that starts this server in a child process); it is closed with the storage."""
        self.root = Path(root)
        self.fsync = fsync
        self._logs: dict[str, int] = {}
        self._log_lock = threading.Lock()
        self._lock_fd = lock_data_dir(self.root) if lock_fd is None else lock_fd
        try:
            for sub in ("meta", "blobs", "tmp"):
                (self.root / sub).mkdir(exist_ok=True, mode=_DIR_MODE)
            for leftover in (self.root / "tmp").iterdir():
                leftover.unlink(missing_ok=True)
        except BaseException:
            self.close()
            raise

    def _check_open(self) -> None:
        # A request still finishing after close must not write to a directory that another
        # process may hold by now.
        if self._lock_fd < 0:
            raise OSError(f"{self.root}: the local server storage is closed")

    def close(self) -> None:
        """Close the change logs and release the directory."""
        with self._log_lock:
            for fd in self._logs.values():
                os.close(fd)
            self._logs.clear()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # ---------------------------------------------------------------- blobs

    def new_blob(self, size: int) -> BlobWriter:
        return _DiskWriter(self, size)

    def put_bytes(self, data: bytes) -> str:
        writer = _DiskWriter(self, len(data))
        pos = 0
        while pos < len(data):
            buf = writer.buffer(len(data) - pos)
            buf[:] = data[pos : pos + len(buf)]
            writer.commit(len(buf))
            pos += len(buf)
        return writer.finish(b"")

    def _blob(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.root / "blobs" / key

    def read(self, key: str, start: int, end: int) -> Iterator[memoryview]:
        buf = bytearray(min(_SCRATCH, max(end - start, 1)))
        view = memoryview(buf)
        with open(self._blob(key), "rb", buffering=0) as f:
            f.seek(start)
            pos = start
            while pos < end:
                n = f.readinto(view[: min(len(buf), end - pos)])
                if not n:
                    raise OSError(f"blob {key} is shorter than expected")
                yield view[:n]
                pos += n

    def file_path(self, key: str) -> Path | None:
        return self._blob(key)

    def leaves(self, key: str) -> bytes:
        path = self._blob(key)
        try:
            return path.with_suffix(".leaves").read_bytes()
        except FileNotFoundError:
            pass
        # Written without a leaves file: a small body, whose one leaf is its SHA-256.
        with open(path, "rb") as f:
            body = f.read(_NO_LEAVES_FILE + 1)
        if not body:
            return b""
        if len(body) > _NO_LEAVES_FILE:
            raise OSError(f"blob {key} has no leaf digests")
        return hashlib.sha256(body).digest()

    def delete(self, key: str) -> None:
        path = self._blob(key)
        path.unlink(missing_ok=True)
        path.with_suffix(".leaves").unlink(missing_ok=True)

    def keys(self) -> set[str]:
        return {p.name for p in (self.root / "blobs").iterdir() if not p.suffix}

    # ---------------------------------------------------------------- documents

    def load_documents(self, *, split: bool = False) -> Mapping[str, dict[str, Any]]:
        """Every document with its log replayed; a torn last log line is dropped.

        A collection that ``save_document(..., split=...)`` stored apart is read now unless
        ``split``: then the document holds a function in its place that reads it (and
        replays its part of the log) when called, so opening a big vault costs O(log).
        """
        documents: dict[str, dict[str, Any]] = {}
        meta = self.root / "meta"
        names = {p.stem for p in meta.glob("*.json")} | {p.stem for p in meta.glob("*.log")}
        for name in sorted(names):
            path = meta / f"{name}.json"
            doc: dict[str, Any] | None = None
            try:
                if path.exists():
                    doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                logger.warning("ignoring unreadable metadata file %s", path)
                continue
            apart = list((doc or {}).get("split") or {})
            if apart and not split:
                assert doc is not None
                for coll in apart:
                    doc[coll] = json.loads((meta / f"{name}.json.{coll}").read_bytes())
                apart = []
            pending: dict[str, list[tuple[str, Any]]] = {coll: [] for coll in apart}
            records = self._read_log(meta / f"{name}.log")
            if records:
                maps = _as_maps(doc or {}, apart)
                for record in records:
                    apply_record(maps, record, pending)
                doc = _as_lists(maps, apart)
            if doc is not None:
                for coll, changes in pending.items():
                    doc[coll] = _deferred(meta / f"{name}.json.{coll}", coll, changes)
                documents[name] = doc
        return documents

    @staticmethod
    def _read_log(path: Path) -> list[dict[str, Any]]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        if data and not data.endswith(b"\n"):
            # Killed in the middle of an append: that write was never acknowledged. Cut it
            # off now, before the next append would bury it mid-file.
            logger.warning("%s: dropping a torn last line (an unacknowledged write)", path)
            data = data[: data.rfind(b"\n") + 1]
            os.truncate(path, len(data))
        records = []
        for number, line in enumerate(data.splitlines(), 1):
            try:
                records.append(json.loads(line))
            except ValueError:
                raise ValueError(f"{path}, line {number}: not a change record") from None
        return records

    def save_document(self, name: str, document: dict[str, Any], *,
                      split: Collection[str] = ()) -> None:
        """Replace ``name``'s whole document and empty its change log (compaction).

        Collections named in ``split`` go to files of their own (``NAME.json.COLL``), written
        before the document that points at them: a crash in between leaves the previous
        document, whose log replays idempotently over the newer collection.
        """
        self._check_open()
        meta = self.root / "meta"
        if split:
            document = dict(document)
            counts = {}
            for coll in split:
                if document.get(coll) is None:
                    continue  # kept in the document: whether it is None is known unread
                value = document.pop(coll)
                counts[coll] = len(value)
                self._write_json(meta, f"{name}.json.{coll}", value)
            document["split"] = counts
        self._write_json(meta, f"{name}.json", document)
        if self.fsync:
            _fsync_dir(meta)
        with self._log_lock:
            log_fd = self._logs.get(name)
            if log_fd is not None:
                os.ftruncate(log_fd, 0)
            else:
                (meta / f"{name}.log").unlink(missing_ok=True)

    def _write_json(self, meta: Path, filename: str, value: Any) -> None:
        tmp = meta / f".{filename}.{secrets.token_hex(4)}.tmp"
        fd = _open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, separators=(",", ":"))
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, meta / filename)

    def append_record(self, name: str, record: dict[str, Any]) -> None:
        """Append one change to ``name``'s log in a single write (O(size of the change))."""
        line = json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._log_lock:
            self._check_open()
            fd = self._logs.get(name, -1)
            if fd < 0:
                fd = _open_private(self.root / "meta" / f"{name}.log",
                                   os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                self._logs[name] = fd
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)

    def delete_document(self, name: str) -> None:
        with self._log_lock:
            fd = self._logs.pop(name, None)
            if fd is not None:
                os.close(fd)
        (self.root / "meta" / f"{name}.log").unlink(missing_ok=True)
        (self.root / "meta" / f"{name}.json").unlink(missing_ok=True)
        for coll in COLLECTIONS:
            (self.root / "meta" / f"{name}.json.{coll}").unlink(missing_ok=True)
