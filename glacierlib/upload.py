"""Resume state of multipart uploads, kept next to the journal (``<journal>.uploads``).

A multipart upload interrupted by a crash, a kill or a lost network is not lost work: its
parts stay on the service (for about a day on Glacier). To use them, the next run must know
which upload belongs to which file, and whether the file is still the same. That is all this
file records, one JSON object per line, appended and fsynced:

* ``{"op": "start", "upload_id", "name", "size", "mtime_ns", "inode", "part_size",
  "description", "stream"}`` right after the upload is initiated, before any part is sent;
  ``stream`` marks an ``upload-file --stdin`` upload, which nothing can resume: the next run
  of ``sync`` or ``upload-file`` on the journal aborts it;
* ``{"op": "end", "upload_id"}`` once it is completed (and journaled) or aborted.

Which parts are done is asked of the service (ListParts) and each listed part is checked
against the local bytes by its tree hash before it is trusted, so the file needs no per-part
records and a torn last line loses nothing that matters (it is ignored when read). When a
run ends with nothing pending, the file is removed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import attrs

from glacierlib.journal_files import side_mode

__all__ = ["PendingUpload", "ResumeState", "resume_path"]

logger = logging.getLogger(__name__)


def resume_path(journal: str | os.PathLike[str]) -> Path:
    """Where the resume state of ``journal`` lives."""
    return Path(os.fspath(journal) + ".uploads")


@attrs.frozen
class PendingUpload:
    """An upload started by an earlier run and not recorded as finished."""

    upload_id: str
    name: str
    size: int
    mtime_ns: int
    inode: int
    part_size: int
    description: str
    stream: bool = False

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PendingUpload:
        return cls(str(obj["upload_id"]), str(obj["name"]), int(obj["size"]),
                   int(obj["mtime_ns"]), int(obj["inode"]), int(obj["part_size"]),
                   str(obj["description"]), obj.get("stream") is True)

    def same_file(self, size: int, mtime_ns: int, inode: int) -> bool:
        """Whether the upload is of this file as it is now (a stream never is)."""
        return not self.stream and (self.size, self.mtime_ns, self.inode) == (size, mtime_ns,
                                                                               inode)


class ResumeState:
    """The pending uploads of one journal; appends are thread-safe and fsynced.

    Only the process holding the journal's lock opens it, so no second lock is needed.
    """

    def __init__(self, path: Path, pending: dict[str, PendingUpload], *, fsync: bool) -> None:
        self.path = path
        self._unclaimed = pending  # by name: left by earlier runs, not yet taken by this one
        self._open = {p.upload_id: p for p in pending.values()}  # every unfinished upload
        self._fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> ResumeState:
        """Read the pending uploads (a missing or torn file is tolerated, never fatal)."""
        path = Path(path)
        started: dict[str, PendingUpload] = {}
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            logger.warning("%s: cannot read the upload state (%s); starting fresh", path,
                           exc.strerror)
            raw = b""
        for lineno, line in enumerate(raw.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if obj.get("op") == "start":
                    upload = PendingUpload.from_json(obj)
                    started[upload.upload_id] = upload
                elif obj.get("op") == "end":
                    started.pop(str(obj["upload_id"]), None)
            except (ValueError, KeyError, TypeError, AttributeError):
                logger.warning("%s, line %d: unreadable upload state line ignored", path,
                               lineno)
        by_name: dict[str, PendingUpload] = {}
        for upload in started.values():
            by_name[upload.name] = upload  # a later start for a name supersedes
        return cls(path, by_name, fsync=fsync)

    @property
    def pending(self) -> list[PendingUpload]:
        """Uploads of earlier runs that this run has not taken over (yet)."""
        with self._lock:
            return list(self._unclaimed.values())

    def take(self, name: str) -> PendingUpload | None:
        """The pending upload of ``name``; the caller now resumes or aborts it."""
        with self._lock:
            return self._unclaimed.pop(name, None)

    def _mode(self) -> int:
        """The journal's own permission bits: this file names what the journal names."""
        return side_mode(Path(os.fspath(self.path).removesuffix(".uploads")))

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                               self._mode())
        os.write(self._fd, line)
        if self._fsync:
            os.fsync(self._fd)

    @staticmethod
    def _line(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    def started(self, upload: PendingUpload) -> None:
        """Record an initiated upload, before any of its parts is sent."""
        with self._lock:
            self._write(self._line({"op": "start", **attrs.asdict(upload)}))
            self._open[upload.upload_id] = upload

    def ended(self, upload_id: str) -> None:
        """Record an upload completed (and journaled) or aborted."""
        with self._lock:
            if self._open.pop(upload_id, None) is not None:
                self._write(self._line({"op": "end", "upload_id": upload_id}))

    def close(self) -> None:
        """Close; remove the file when nothing is pending, else rewrite it with the pending.

        The rewrite only compacts: if it fails (a full disk), the appended lines stay and
        say the same, so the failure is logged, never raised over the run's own outcome.
        """
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if not self._open:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            data = b"".join(self._line({"op": "start", **attrs.asdict(u)})
                            for u in self._open.values())
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                             self._mode())
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    if self._fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, self.path)
            except OSError as exc:
                logger.warning("%s: cannot compact the upload state (%s); it stays as written",
                               self.path, exc.strerror or exc)
                tmp.unlink(missing_ok=True)
